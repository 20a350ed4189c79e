"""The CCM/RPM time log of a patient: list, log, correct, void (through careteam_api.program.time_log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from careteam_api.api import API_PREFIX
from careteam_api.api.schemas import TimeEntryCreate, TimeEntryPublic, TimeEntryVoid
from careteam_api.api.scope import ScopedPatient, TimeLogPatient, TimeReadPatient
from careteam_api.db import DbSession
from careteam_api.errors import NotFound
from careteam_api.program import time_log
from careteam_api.program.models import TimeEntryIn

router = APIRouter(prefix=API_PREFIX + "/patients/{patient_id}/time-entries", tags=["time log"])
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a time entry of this patient")]


def _entry_of(conn: DbSession, patient: ScopedPatient, entry_id: int) -> None:
    row = conn.execute(
        "SELECT 1 FROM time_entries WHERE entry_id = %s AND patient_id = %s", (entry_id, patient.patient_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"no time entry {entry_id} for this patient")


def _entry_in(patient: ScopedPatient, body: TimeEntryCreate) -> TimeEntryIn:
    return TimeEntryIn(patient_id=patient.patient_id, user_id=patient.user.user_id, **body.model_dump())


@router.get("", response_model=list[TimeEntryPublic])
def list_entries(
    patient: TimeReadPatient,
    conn: DbSession,
    days: Annotated[int, Query(ge=1, le=400, description="entries started in the last N days")] = 31,
) -> list[TimeEntryPublic]:
    """Entries in force (corrections applied), oldest first."""
    end = datetime.now(UTC) + timedelta(days=1)
    rows = time_log.entries_between(conn, [patient.patient_id], end - timedelta(days=days + 1), end)
    return [TimeEntryPublic.model_validate(entry.model_dump()) for entry, _ in rows]


@router.post("", response_model=TimeEntryPublic, status_code=201)
def log_entry(patient: TimeLogPatient, body: TimeEntryCreate, conn: DbSession) -> TimeEntryPublic:
    """Log time as the current user; the billing role comes from the user's role."""
    entry = time_log.log_time(conn, _entry_in(patient, body))
    return TimeEntryPublic.model_validate(entry.model_dump())


@router.post("/{entry_id}/corrections", response_model=TimeEntryPublic, status_code=201)
def correct_entry(
    patient: TimeLogPatient, entry_id: EntryId, body: TimeEntryCreate, conn: DbSession
) -> TimeEntryPublic:
    """Replace an entry by a corrected one (the original stays on record)."""
    _entry_of(conn, patient, entry_id)
    entry = time_log.correct_entry(conn, entry_id, _entry_in(patient, body))
    return TimeEntryPublic.model_validate(entry.model_dump())


@router.post("/{entry_id}/void", response_model=TimeEntryPublic, status_code=201)
def void_entry(
    patient: TimeLogPatient, entry_id: EntryId, body: TimeEntryVoid, conn: DbSession
) -> TimeEntryPublic:
    """Void an entry: a 0-minute correction with the reason."""
    _entry_of(conn, patient, entry_id)
    entry = time_log.void_entry(conn, entry_id, by=patient.user.user_id, reason=body.reason)
    return TimeEntryPublic.model_validate(entry.model_dump())
