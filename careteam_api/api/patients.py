"""The practice's patients: list with latest vitals and open alerts, one patient's record, contact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from careteam_api import alert_marks, audit, directory, vitals
from careteam_api.api import API_PREFIX
from careteam_api.api.rendering import json_response
from careteam_api.api.schemas import ContactPublic, ContactUpdate, PatientPage, PatientPublic
from careteam_api.api.scope import ContactWritePatient, DirectoryPatient, DirectoryUser
from careteam_api.auth.roles import Capability, allows
from careteam_api.db import DbSession
from careteam_api.program.care_plans import history
from careteam_api.program.conditions import conditions_of, eligibility

router = APIRouter(prefix=API_PREFIX + "/patients", tags=["patients"])
_PRIORITY = {0: "critical", 1: "high", 2: "low"}


def _latest_of(row: dict) -> dict:
    """The latest reading of each kind as schemas.LatestVital values (values that are NULL left out)."""
    out = {}
    for kind, (at_key, columns) in directory.LATEST_KINDS.items():
        if row.get(at_key):
            values = {k: row[k] for k in columns if row[k] is not None}
            out[kind] = {"measured_at": row[at_key], "values": values}
    return out


@router.get("", response_model=PatientPage)
def list_patients(
    request: Request,
    conn: DbSession,
    user: DirectoryUser,
    q: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$", description="name or MRN")] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """Patients by family name; clinical roles also get the latest reading per kind and open alerts."""
    clinical = allows(user.role, Capability.CLINICAL_READ)
    with_alerts = clinical and request.app.state.alerts_tables
    rows, next_cursor = directory.list_patients(
        conn,
        user.practice_id,
        search=q,
        after=directory.decode_cursor(cursor) if cursor else None,
        limit=limit,
        with_vitals=clinical,
        with_alerts=with_alerts,
    )
    audit.record(conn, request, user, patient_id=None, patients=len(rows), search=q)
    items = [
        {
            "patient_id": r["patient_id"],
            "mrn": r["mrn"],
            "given_name": r["given_name"],
            "family_name": r["family_name"],
            "birth_date": r["birth_date"],
            "latest": _latest_of(r) if clinical else None,
            "open_alerts": r["open_alerts"] if with_alerts else None,
            "top_priority": _PRIORITY.get(r["top_priority_rank"]) if with_alerts else None,
        }
        for r in rows
    ]
    return json_response({"items": items, "next_cursor": next_cursor})


@router.get("/{patient_id}", response_model=PatientPublic)
def get_patient(patient: DirectoryPatient, request: Request, conn: DbSession) -> PatientPublic:
    """Demographics, contact, conditions and CCM eligibility; clinical roles also get vitals and alerts."""
    clinical = allows(patient.user.role, Capability.CLINICAL_READ)
    conditions = conditions_of(conn, patient.patient_id)
    plans = history(conn, patient.patient_id) if clinical else []
    return PatientPublic(
        patient_id=patient.patient_id,
        mrn=patient.mrn,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
        timezone=patient.timezone,
        contact=directory.contact(conn, patient.patient_id),
        conditions=[c.model_dump() for c in conditions],
        ccm_eligibility=eligibility(conditions).explain(),
        latest=vitals.latest(conn, patient.patient_id) if clinical else None,
        open_alerts=alert_marks.open_count(conn, patient.practice_id, patient.patient_id)
        if clinical and request.app.state.alerts_tables
        else None,
        care_plan_version=plans[-1].version if plans else None,
    )


@router.get("/{patient_id}/contact", response_model=ContactPublic)
def get_contact(patient: DirectoryPatient, conn: DbSession) -> ContactPublic:
    return ContactPublic.model_validate(directory.contact(conn, patient.patient_id) or {})


@router.put("/{patient_id}/contact", response_model=ContactPublic)
def put_contact(patient: ContactWritePatient, body: ContactUpdate, conn: DbSession) -> ContactPublic:
    """Replace the contact details (fields left out are cleared)."""
    directory.set_contact(conn, patient.patient_id, body.model_dump(), patient.user.user_id)
    return ContactPublic.model_validate(directory.contact(conn, patient.patient_id))
