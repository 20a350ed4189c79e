"""Practices and patients as program records use them: look-up by id or name, upsert by (practice, MRN)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

import psycopg

from careteam_api.program.errors import NotFound


@dataclass(frozen=True)
class Practice:
    practice_id: uuid.UUID
    name: str
    timezone: str


def find_practice(conn: psycopg.Connection, reference: str) -> Practice:
    """The practice whose id, or else whose exact name, is `reference`."""
    try:
        key: uuid.UUID | None = uuid.UUID(reference)
    except ValueError:
        key = None
    if key is not None:
        row = conn.execute(
            "SELECT practice_id, name, timezone FROM practices WHERE practice_id = %s", (key,)
        ).fetchone()
    else:
        rows = conn.execute(
            "SELECT practice_id, name, timezone FROM practices WHERE name = %s", (reference,)
        ).fetchall()
        if len(rows) > 1:
            raise NotFound(f"{len(rows)} practices are named {reference!r}; give the practice id instead")
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"no practice with id or name {reference!r}")
    return Practice(*row)


@dataclass(frozen=True)
class PatientRow:
    mrn: str
    given_name: str
    family_name: str
    birth_date: date | None
    timezone: str


def upsert_patient(
    conn: psycopg.Connection, practice_id: uuid.UUID, patient: PatientRow
) -> tuple[uuid.UUID, Literal["created", "updated", "unchanged"]]:
    """Create the patient or bring their demographics up to date; keyed by (practice, MRN)."""
    row = conn.execute(
        "INSERT INTO patients (practice_id, mrn, given_name, family_name, birth_date, timezone)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (practice_id, mrn) DO UPDATE SET given_name = EXCLUDED.given_name,"
        " family_name = EXCLUDED.family_name, birth_date = EXCLUDED.birth_date, timezone = EXCLUDED.timezone"
        " WHERE (patients.given_name, patients.family_name, patients.birth_date, patients.timezone)"
        " IS DISTINCT FROM (EXCLUDED.given_name, EXCLUDED.family_name, EXCLUDED.birth_date,"
        " EXCLUDED.timezone)"
        " RETURNING patient_id, (xmax = 0)",
        (
            practice_id,
            patient.mrn,
            patient.given_name,
            patient.family_name,
            patient.birth_date,
            patient.timezone,
        ),
    ).fetchone()
    if row is not None:
        return row[0], "created" if row[1] else "updated"
    existing = conn.execute(
        "SELECT patient_id FROM patients WHERE practice_id = %s AND mrn = %s", (practice_id, patient.mrn)
    ).fetchone()
    assert existing is not None
    return existing[0], "unchanged"
