"""Care teams, users and which team and billing practitioner a patient has (append-only assignments)."""

from __future__ import annotations

import uuid
from datetime import date

import psycopg
from psycopg.rows import class_row

from careteam_api.program.errors import InvalidRecord, NotFound
from careteam_api.program.models import User, UserRole


def create_care_team(conn: psycopg.Connection, practice_id: uuid.UUID, name: str) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO care_teams (practice_id, name) VALUES (%s, %s) RETURNING care_team_id",
        (practice_id, name),
    ).fetchone()
    assert row is not None
    return row[0]


def create_user(
    conn: psycopg.Connection,
    practice_id: uuid.UUID,
    email: str,
    full_name: str,
    role: UserRole,
    *,
    npi: str | None = None,
    password_hash: str | None = None,
) -> User:
    """A user of the practice; `password_hash` is an argon2 PHC string set by the API, or None."""
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "INSERT INTO users (practice_id, email, full_name, role, npi, password_hash)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " RETURNING user_id, practice_id, email, full_name, role, npi, active",
            (practice_id, email, full_name, role, npi, password_hash),
        )
        user = cur.fetchone()
    assert user is not None
    return user


def get_user(conn: psycopg.Connection, user_id: uuid.UUID) -> User:
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "SELECT user_id, practice_id, email, full_name, role, npi, active FROM users WHERE user_id = %s",
            (user_id,),
        )
        user = cur.fetchone()
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def add_member(conn: psycopg.Connection, care_team_id: uuid.UUID, user_id: uuid.UUID) -> None:
    conn.execute(
        "INSERT INTO care_team_members (care_team_id, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (care_team_id, user_id),
    )


def assign_patient(
    conn: psycopg.Connection,
    patient_id: uuid.UUID,
    *,
    effective_from: date,
    care_team_id: uuid.UUID | None = None,
    billing_practitioner_id: uuid.UUID | None = None,
    recorded_by: uuid.UUID | None = None,
) -> int:
    """Record the patient's care team and billing practitioner from `effective_from` on.

    The billing practitioner must be a clinician (physician/QHP): only one practitioner may bill CCM per
    month, and billing takes the assignment in force on the month's last day.
    """
    if billing_practitioner_id is not None and get_user(conn, billing_practitioner_id).role != "clinician":
        raise InvalidRecord("the billing practitioner must be a clinician (physician or QHP)")
    row = conn.execute(
        "INSERT INTO patient_assignments (patient_id, care_team_id, billing_practitioner_id, effective_from,"
        " recorded_by) VALUES (%s, %s, %s, %s, %s) RETURNING assignment_id",
        (patient_id, care_team_id, billing_practitioner_id, effective_from, recorded_by),
    ).fetchone()
    assert row is not None
    return row[0]


def billing_practitioner_for_month(
    conn: psycopg.Connection, patient_id: uuid.UUID, last_day: date
) -> uuid.UUID | None:
    """The practitioner who bills `patient_id` for the month ending `last_day` (one per month)."""
    row = conn.execute(
        "SELECT billing_practitioner_id FROM patient_assignments"
        " WHERE patient_id = %s AND effective_from <= %s AND billing_practitioner_id IS NOT NULL"
        " ORDER BY effective_from DESC, assignment_id DESC LIMIT 1",
        (patient_id, last_day),
    ).fetchone()
    return row[0] if row else None
