"""Care plans with their full version history (append-only) and the record of copies given to the patient."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from careteam_api.program.errors import NotFound
from careteam_api.program.models import CarePlan

_COLUMNS = "patient_id, version, problems, goals, medications, alert_thresholds, note, author_id, created_at"


def add_version(
    conn: psycopg.Connection,
    patient_id: uuid.UUID,
    *,
    problems: list[Any],
    goals: list[Any],
    medications: list[Any],
    alert_thresholds: dict[str, Any] | None = None,
    note: str | None = None,
    author_id: uuid.UUID | None = None,
) -> CarePlan:
    """A new version of the patient's care plan; earlier versions stay as they were.

    `alert_thresholds` overrides the defaults of alert-rules.md for this patient (e.g.
    {"bp_single_high": {"systolic_mmhg": 170}}); the alerts engine reads the latest version.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('care_plan:' || %s::text))", (patient_id,))
    with conn.cursor(row_factory=class_row(CarePlan)) as cur:
        cur.execute(
            "INSERT INTO care_plan_versions (patient_id, version, problems, goals, medications,"
            " alert_thresholds,"
            " note, author_id) SELECT %s, coalesce(max(version), 0) + 1, %s, %s, %s, %s, %s, %s"
            f" FROM care_plan_versions WHERE patient_id = %s RETURNING {_COLUMNS}",
            (
                patient_id,
                Jsonb(problems),
                Jsonb(goals),
                Jsonb(medications),
                Jsonb(alert_thresholds or {}),
                note,
                author_id,
                patient_id,
            ),
        )
        plan = cur.fetchone()
    assert plan is not None
    return plan


def history(conn: psycopg.Connection, patient_id: uuid.UUID) -> list[CarePlan]:
    with conn.cursor(row_factory=class_row(CarePlan)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM care_plan_versions WHERE patient_id = %s ORDER BY version", (patient_id,)
        )
        return cur.fetchall()


def current(conn: psycopg.Connection, patient_id: uuid.UUID) -> CarePlan:
    plans = history(conn, patient_id)
    if not plans:
        raise NotFound(f"patient {patient_id} has no care plan")
    return plans[-1]


def record_shared(
    conn: psycopg.Connection,
    patient_id: uuid.UUID,
    version: int,
    shared_on: date,
    method: Literal["paper", "portal", "email", "mail"],
    shared_by: uuid.UUID | None = None,
) -> None:
    """A copy of the care plan was given to the patient (a CCM requirement)."""
    conn.execute(
        "INSERT INTO care_plan_shares (patient_id, version, shared_on, method, shared_by) VALUES"
        " (%s, %s, %s, %s, %s)",
        (patient_id, version, shared_on, method, shared_by),
    )


def status_on(
    conn: psycopg.Connection, patient_id: uuid.UUID, day: date
) -> tuple[int, date, date | None] | None:
    """(version, created on, first shared on) of the plan in force on `day`, or None."""
    row = conn.execute(
        "SELECT v.version, v.created_at::date, (SELECT min(s.shared_on) FROM care_plan_shares s"
        "  WHERE s.patient_id = v.patient_id AND s.version = v.version AND s.shared_on <= %(d)s)"
        " FROM care_plan_versions v WHERE v.patient_id = %(p)s AND v.created_at::date <= %(d)s"
        " ORDER BY v.version DESC LIMIT 1",
        {"p": patient_id, "d": day},
    ).fetchone()
    return (row[0], row[1], row[2]) if row else None
