"""Review time: from a care manager opening or claiming an alert to acknowledging or resolving it, credited
once as a CCM or RPM time entry through the program time log.

A review session is a row in alert_reviews; it ends exactly once (an UPDATE ... WHERE ended_at IS NULL), so a
review is never credited twice. Overlapping sessions of one user (two alerts open side by side) are left to
the billing merge, which never counts a user's minute twice (careteam_api.billing.overlap).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import psycopg

from alerts.errors import InvalidTransition, NotFound
from careteam_api.program import time_log
from careteam_api.program.models import BILLING_ROLE_OF, TimeEntryIn

REVIEW_CAP = timedelta(minutes=30)
"""A review longer than this is almost always a claim left open while doing something else; the care
manager can correct the entry with a reason (edit_review_time) when it really took longer."""
MIN_CREDIT = timedelta(seconds=30)
"""Under half a minute rounds to 0 whole minutes: nothing is credited."""


def start(conn: psycopg.Connection, alert_id: int, user_id: uuid.UUID, at: datetime) -> None:
    """Begin a review session unless this user already has one running for the alert."""
    conn.execute(
        "INSERT INTO alert_reviews (alert_id, user_id, started_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (alert_id, user_id) WHERE ended_at IS NULL DO NOTHING",
        (alert_id, user_id, at),
    )


def program_of(conn: psycopg.Connection, patient_id: uuid.UUID, at: datetime) -> str:
    """RPM when the patient has an RPM episode in force on the local day, else CCM."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM rpm_episodes e, patients p WHERE p.patient_id = %(p)s"
        " AND e.patient_id = p.patient_id AND e.started_on <= (%(at)s AT TIME ZONE p.timezone)::date"
        " AND (e.ended_on IS NULL OR e.ended_on >= (%(at)s AT TIME ZONE p.timezone)::date))",
        {"p": patient_id, "at": at},
    ).fetchone()
    return "rpm" if row and row[0] else "ccm"


def finish(
    conn: psycopg.Connection,
    alert_id: int,
    patient_id: uuid.UUID | None,
    user_id: uuid.UUID,
    role: str,
    at: datetime,
    note: str,
    cap: timedelta = REVIEW_CAP,
) -> int | None:
    """End the user's running session on the alert and credit it; returns the time entry id, if any."""
    row = conn.execute(
        "UPDATE alert_reviews SET ended_at = %s WHERE alert_id = %s AND user_id = %s AND ended_at IS NULL"
        " RETURNING review_id, started_at",
        (at, alert_id, user_id),
    ).fetchone()
    if row is None or patient_id is None or role not in BILLING_ROLE_OF:
        return None
    review_id, started_at = row
    spent = min(at - started_at, cap)
    if spent < MIN_CREDIT:
        return None
    minutes = max(1, round(spent / timedelta(minutes=1)))
    capped = " (capped)" if at - started_at > cap else ""
    entry = time_log.log_time(
        conn,
        TimeEntryIn(
            patient_id=patient_id,
            user_id=user_id,
            program=program_of(conn, patient_id, started_at),
            started_at=started_at,
            minutes=minutes,
            activity="alert_review",
            alert_id=alert_id,
            note=f"alert review{capped}: {note}"[:2000],
            interactive=False,
        ),
    )
    conn.execute(
        "UPDATE alert_reviews SET time_entry_id = %s WHERE review_id = %s", (entry.entry_id, review_id)
    )
    return entry.entry_id


def edit(conn: psycopg.Connection, entry_id: int, user_id: uuid.UUID, minutes: int, reason: str) -> int:
    """Correct a credited review (a new entry referencing the old one; the log is append-only)."""
    if not reason.strip():
        raise InvalidTransition(entry_id, "credited", "edit review time without a reason")
    row = conn.execute(
        "SELECT patient_id, user_id, program, started_at, alert_id FROM time_entries"
        " WHERE entry_id = %s AND activity = 'alert_review'",
        (entry_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no alert-review time entry {entry_id}")
    if row[1] != user_id:
        raise NotFound(f"time entry {entry_id} is not yours to edit")
    corrected = TimeEntryIn(
        patient_id=row[0],
        user_id=user_id,
        program=row[2],
        started_at=row[3],
        minutes=minutes,
        activity="alert_review",
        alert_id=row[4],
        note=f"corrected: {reason}",
    )
    entry = time_log.correct_entry(conn, entry_id, corrected)
    conn.execute(
        "UPDATE alert_reviews SET time_entry_id = %s WHERE time_entry_id = %s", (entry.entry_id, entry_id)
    )
    return entry.entry_id
