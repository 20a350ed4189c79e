"""The CCM/RPM time log: append-only; a correction is a new entry that names the one it replaces.

The database refuses UPDATE and DELETE on time_entries (0003_program.sql), so the repository only ever
inserts. A void is a correction with 0 minutes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from careteam_api.program.errors import InvalidRecord, NotFound
from careteam_api.program.models import BILLING_ROLE_OF, Activity, TimeEntry, TimeEntryIn
from careteam_api.program.team import get_user

_COLUMNS = (
    "entry_id, patient_id, user_id, role, program, started_at, minutes, activity, alert_id, note,"
    " interactive,"
    " complex, corrects_entry_id, recorded_at"
)


def _insert(conn: psycopg.Connection, entry: TimeEntryIn, minutes: int, corrects: int | None) -> TimeEntry:
    user = get_user(conn, entry.user_id)
    role = BILLING_ROLE_OF.get(user.role)
    if role is None:
        raise InvalidRecord(f"a {user.role} cannot log CCM/RPM time: only clinical staff and clinicians can")
    with conn.cursor(row_factory=class_row(TimeEntry)) as cur:
        cur.execute(
            "INSERT INTO time_entries (patient_id, user_id, role, program, started_at, minutes,"
            " activity, alert_id,"
            " note, interactive, complex, corrects_entry_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s)"
            f" RETURNING {_COLUMNS}",
            (
                entry.patient_id,
                entry.user_id,
                role,
                entry.program,
                entry.started_at,
                minutes,
                entry.activity,
                entry.alert_id,
                entry.note,
                entry.interactive,
                entry.complex,
                corrects,
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def log_time(conn: psycopg.Connection, entry: TimeEntryIn) -> TimeEntry:
    """Append one entry; the role is the user's billing role (care_manager: clinical staff)."""
    return _insert(conn, entry, entry.minutes, None)


def _current(conn: psycopg.Connection, entry_id: int) -> None:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM time_entries WHERE entry_id = %(e)s),"
        " (SELECT entry_id FROM time_entries WHERE corrects_entry_id = %(e)s)",
        {"e": entry_id},
    ).fetchone()
    assert row is not None
    if not row[0]:
        raise NotFound(f"no time entry {entry_id}")
    if row[1] is not None:
        raise InvalidRecord(
            f"time entry {entry_id} was already corrected by entry {row[1]}; correct that one"
        )


def correct_entry(conn: psycopg.Connection, entry_id: int, corrected: TimeEntryIn) -> TimeEntry:
    """Replace entry `entry_id` by `corrected` (a new row referencing it)."""
    _current(conn, entry_id)
    return _insert(conn, corrected, corrected.minutes, entry_id)


def void_entry(
    conn: psycopg.Connection, entry_id: int, *, by: uuid.UUID, reason: str, activity: Activity = "other"
) -> TimeEntry:
    """Void entry `entry_id`: a correction with 0 minutes that keeps the original on record."""
    _current(conn, entry_id)
    row = conn.execute(
        "SELECT patient_id, program, started_at FROM time_entries WHERE entry_id = %s", (entry_id,)
    ).fetchone()
    assert row is not None
    stub = TimeEntryIn(
        patient_id=row[0],
        user_id=by,
        program=row[1],
        started_at=row[2],
        minutes=1,
        activity=activity,
        note=f"void: {reason}",
    )
    return _insert(conn, stub, 0, entry_id)


def entries_between(
    conn: psycopg.Connection, patient_ids: list[uuid.UUID], start: datetime, end: datetime
) -> list[tuple[TimeEntry, list[int]]]:
    """Entries in force (no later correction) starting in [start, end), each with the ids it supersedes
    (nearest first)."""
    with conn.cursor(row_factory=class_row(TimeEntry)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM time_entries_current WHERE patient_id = ANY(%s)"
            " AND started_at >= %s AND started_at < %s ORDER BY started_at, entry_id",
            (patient_ids, start, end),
        )
        entries = cur.fetchall()
    chains = _chains(conn, [e.entry_id for e in entries])
    return [(e, chains.get(e.entry_id, [])) for e in entries]


def _chains(conn: psycopg.Connection, entry_ids: list[int]) -> dict[int, list[int]]:
    rows = conn.execute(
        "WITH RECURSIVE chain(head, entry_id, corrects, depth) AS ("
        "  SELECT entry_id, entry_id, corrects_entry_id, 0 FROM time_entries WHERE entry_id = ANY(%s)"
        "  UNION ALL SELECT c.head, t.entry_id, t.corrects_entry_id, c.depth + 1"
        "  FROM chain c JOIN time_entries t ON t.entry_id = c.corrects)"
        " SELECT head, entry_id FROM chain WHERE depth > 0 ORDER BY head, depth",
        (entry_ids,),
    ).fetchall()
    chains: dict[int, list[int]] = {}
    for head, entry_id in rows:
        chains.setdefault(head, []).append(entry_id)
    return chains
