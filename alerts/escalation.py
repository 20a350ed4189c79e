"""Who an alert escalates to: first a second care manager of the patient's care team, then the clinician on
call (an on_call_shifts row covering now; without one, a clinician of the care team)."""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg

MAX_LEVEL = 2


def _care_team(conn: psycopg.Connection, patient_id: uuid.UUID | None, at: datetime) -> uuid.UUID | None:
    if patient_id is None:
        return None
    row = conn.execute(
        "SELECT care_team_id FROM patient_assignments WHERE patient_id = %s AND effective_from <= %s::date"
        " AND care_team_id IS NOT NULL ORDER BY effective_from DESC, assignment_id DESC LIMIT 1",
        (patient_id, at),
    ).fetchone()
    return row[0] if row else None


def target(
    conn: psycopg.Connection,
    level: int,
    practice_id: uuid.UUID,
    patient_id: uuid.UUID | None,
    exclude: list[uuid.UUID | None],
    at: datetime,
) -> uuid.UUID | None:
    """The user an alert goes to at escalation `level` (1 or 2), or None when the team has nobody."""
    team = _care_team(conn, patient_id, at)
    skip = [u for u in exclude if u is not None]
    if level == 1:
        row = conn.execute(
            "SELECT u.user_id FROM care_team_members m JOIN users u USING (user_id)"
            " WHERE m.care_team_id = %s AND u.role = 'care_manager' AND u.active AND u.user_id <> ALL(%s)"
            " ORDER BY m.added_at, u.user_id LIMIT 1",
            (team, skip),
        ).fetchone()
        return row[0] if row else None
    row = conn.execute(
        "SELECT s.user_id FROM on_call_shifts s JOIN users u USING (user_id)"
        " WHERE s.practice_id = %s AND s.during @> %s::timestamptz AND u.active ORDER BY"
        " lower(s.during) DESC LIMIT 1",
        (practice_id, at),
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT u.user_id FROM care_team_members m JOIN users u USING (user_id)"
            " WHERE m.care_team_id = %s AND u.role = 'clinician' AND u.active ORDER BY m.added_at,"
            " u.user_id LIMIT 1",
            (team,),
        ).fetchone()
    return row[0] if row else None
