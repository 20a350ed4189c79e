"""Upkeep: escalate critical alerts nobody acknowledged, re-raise snoozes that ran out, drop old chunks."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from alerts import events
from alerts.service import escalate_alert

ESCALATE_AFTER = timedelta(minutes=30)
"""Critical means 'act the same day; the patient may need 911 advice' (alert-rules.md): half an hour without
acknowledgement is long enough to be sure the first care manager is not on it. Each further step waits as
long."""


def escalate_unacknowledged(
    conn: psycopg.Connection, now: datetime, after: timedelta = ESCALATE_AFTER
) -> list[int]:
    """Critical alerts still open or claimed `after` the last step move one level up (at most two)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT alert_id, practice_id, patient_id, state, claimed_by, assigned_to,"
            " escalation_level FROM alerts"
            " WHERE priority = 'critical' AND state IN ('open', 'claimed') AND escalation_level < 2"
            " AND coalesce(escalated_at, opened_at) <= %s ORDER BY opened_at FOR UPDATE SKIP LOCKED",
            (now - after,),
        )
        due = cur.fetchall()
    for alert in due:
        escalate_alert(conn, alert, now, note=f"not acknowledged within {after}")
    return [a["alert_id"] for a in due]


def reraise_snoozed(conn: psycopg.Connection, now: datetime) -> list[int]:
    rows = conn.execute(
        "SELECT alert_id FROM alerts WHERE state = 'snoozed' AND snoozed_until <= %s"
        " ORDER BY alert_id FOR UPDATE SKIP LOCKED",
        (now,),
    ).fetchall()
    ids = [r[0] for r in rows]
    if ids:
        conn.execute(
            "UPDATE alerts SET state = 'open', snoozed_until = NULL, updated_at = %s WHERE alert_id"
            " = ANY(%s)",
            (now, ids),
        )
    for alert_id in ids:
        events.record(
            conn,
            alert_id,
            at=now,
            action="reraised",
            from_state="snoozed",
            to_state="open",
            note="snooze ended",
        )
    return ids


def retention(conn: psycopg.Connection, keep: timedelta | None) -> int:
    """Drop readings chunks wholly older than `keep` (None = keep everything, the default)."""
    if keep is None:
        return 0
    rows = conn.execute("SELECT drop_chunks('readings', older_than => %s::interval)", (keep,)).fetchall()
    return len(rows)
