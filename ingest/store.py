"""Writes one decoded batch inside the caller's transaction. Never commits, never retries.

Readings take this path: binary COPY into a per-connection temporary staging table, then one statement that
resolves each reading's patient from the assignment valid at `measured_at` (set-based: the assignments of
the batch's devices are read once and joined) and runs `INSERT ... SELECT ... ON CONFLICT DO NOTHING` into
the hypertable, returning the (patient, kind) pairs that gained readings and the readings left unresolved.
Readings no assignment covers are parked whole. Every statement is idempotent, so a redelivered message
changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from broker.contract import HubEvent, HubStatus
from ingest import notify
from ingest.messages import AcceptedReading, DeadLetter
from ingest.rows import READING_COLUMNS, STAGE_COLUMNS, device_rows, stage_rows

STAGE = "ingest_stage"

_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
    + ", ".join(f"{name} {sql_type}" for name, sql_type in STAGE_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
_COPY_STAGE = f"COPY {STAGE} ({', '.join(n for n, _t in STAGE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = [sql_type for _name, sql_type in STAGE_COLUMNS]

# One statement resolves, inserts and reports. Patients are resolved set-based: the assignments of the
# batch's distinct devices are fetched once (an index probe per device on device_assignments_device_idx, not
# a GiST probe and a sort per reading), then joined to the staged rows. A device's assignment without
# user_index covers every user slot (a single-patient device); one with a user_index covers that slot only and
# wins over a whole-device assignment when both match (DISTINCT ON keeps the first by that order).
# Inserting in key order makes two workers that store overlapping batches take row locks in one order.
# The result has one row per (patient, kind) that gained readings, with how many, and one row per staged
# reading no assignment covers (its `idx`, to be parked).
_cols = ", ".join(READING_COLUMNS)
_STORE = f"""
WITH candidate AS MATERIALIZED (
    SELECT a.device_id, a.user_index, a.valid, a.patient_id FROM device_assignments a
    WHERE a.device_id = ANY (ARRAY(SELECT DISTINCT device_id FROM {STAGE}))
), resolved AS MATERIALIZED (
    SELECT DISTINCT ON (s.idx) s.*, c.patient_id AS resolved_patient
    FROM {STAGE} s LEFT JOIN candidate c
      ON c.device_id = s.device_id AND c.valid @> s.measured_at
     AND (c.user_index IS NULL OR c.user_index = s.user_index)
    ORDER BY s.idx, c.user_index IS NULL
), inserted AS (
    INSERT INTO readings ({_cols}, patient_id)
    SELECT {_cols}, resolved_patient FROM resolved WHERE resolved_patient IS NOT NULL
    ORDER BY reading_id, measured_at
    ON CONFLICT DO NOTHING
    RETURNING patient_id, kind
)
SELECT patient_id::text, kind, count(*)::int4, NULL::int4 FROM inserted GROUP BY 1, 2
UNION ALL
SELECT NULL, NULL, 0, idx FROM resolved WHERE resolved_patient IS NULL
"""
# Parked copies of the staged readings that were resolved (every staged reading but the unresolved ones).
_UNPARK = f"""
DELETE FROM parked_readings p USING {STAGE} s
WHERE p.reading_id = s.reading_id AND p.measured_at = s.measured_at AND s.idx <> ALL (%s::int4[])
"""
_PARK = """
INSERT INTO parked_readings (reading_id, measured_at, device_id, hub_id, kind, user_index, reading)
VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)
ON CONFLICT DO NOTHING
"""
_HUBS = "INSERT INTO hubs (hub_id) SELECT unnest(%s::text[]) ORDER BY 1 ON CONFLICT DO NOTHING"
_DEVICES = """
INSERT INTO devices (device_id, model, profile, serial, address, firmware, hub_id)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
ORDER BY 1
ON CONFLICT DO NOTHING
"""
_DEAD_LETTER = """
INSERT INTO dead_letters (topic, hub_id, payload, reason, category, digest, reading_index)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (digest, (coalesce(reading_index, -1))) DO NOTHING
"""
_STATUS = """
INSERT INTO hub_status (hub_id, online, sent_at, software_version, uptime_s, outbox_depth,
                        oldest_unsent_age_s, devices)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)
ON CONFLICT (hub_id) DO UPDATE SET
    online = EXCLUDED.online, sent_at = EXCLUDED.sent_at, software_version = EXCLUDED.software_version,
    uptime_s = EXCLUDED.uptime_s, outbox_depth = EXCLUDED.outbox_depth,
    oldest_unsent_age_s = EXCLUDED.oldest_unsent_age_s, devices = EXCLUDED.devices, received_at = now()
WHERE hub_status.sent_at < EXCLUDED.sent_at
"""
_EVENT = """
INSERT INTO hub_events (at, event_id, hub_id, type, device_id, message, raw_hex)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""
_NOTIFY = "SELECT pg_notify(%s, %s)"


@dataclass
class WriteResult:
    """What one write did; `hubs` and `devices` are ids to remember once the transaction commits."""

    staged: int = 0
    inserted: int = 0
    parked: int = 0
    unparked: int = 0
    dead_letters: int = 0
    pairs: set[tuple[str, str]] = field(default_factory=set)
    hubs: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)


class BatchWriter:
    """Statements of the ingest path on one connection. Remembers which hubs and devices exist, so a
    steady stream from known devices costs no registration statements."""

    def __init__(self, conn: psycopg.Connection) -> None:
        """Creates the session's staging table in its own transaction: it must outlive a rolled-back batch."""
        self.conn = conn
        with conn.transaction():
            conn.execute(_CREATE_STAGE)
        self._known_hubs: set[str] = set()
        self._known_devices: set[str] = set()

    def committed(self, result: WriteResult) -> None:
        """Call after the transaction of `result` committed: its hubs and devices now exist."""
        self._known_hubs |= result.hubs
        self._known_devices |= result.devices

    def write(
        self,
        readings: Sequence[AcceptedReading] = (),
        statuses: Sequence[HubStatus] = (),
        events: Sequence[HubEvent] = (),
        dead_letters: Sequence[DeadLetter] = (),
        *,
        unpark: bool = False,
        rows: Sequence[tuple[Any, ...]] | None = None,
    ) -> WriteResult:
        """Write everything of one batch; `unpark` also removes parked copies of readings now stored.

        `rows` are the readings' staging rows when the caller built them already (`rows.stage_rows`)."""
        result = WriteResult()
        with self.conn.cursor() as cur:
            hubs = {r.hub_id for r in readings} | {s.hub_id for s in statuses} | {e.hub_id for e in events}
            self._register_hubs(cur, hubs, result)
            if readings:
                self._register_devices(cur, readings, result)
                self._store_readings(cur, readings, rows, result, unpark=unpark)
            if statuses:
                self._store_statuses(cur, statuses)
            if events:
                self._store_events(cur, events)
            if dead_letters:
                self._store_dead_letters(cur, dead_letters, result)
            for payload in notify.payloads(result.pairs):
                cur.execute(_NOTIFY, (notify.CHANNEL, payload))
        return result

    def _register_hubs(self, cur: psycopg.Cursor, hubs: set[str], result: WriteResult) -> None:
        new = sorted(hubs - self._known_hubs)
        if new:
            cur.execute(_HUBS, (new,))
            result.hubs.update(new)

    def _register_devices(
        self, cur: psycopg.Cursor, readings: Sequence[AcceptedReading], result: WriteResult
    ) -> None:
        unknown = [r for r in readings if r.reading.device.device_id not in self._known_devices]
        rows = device_rows(unknown)
        if rows:
            cur.execute(_DEVICES, [list(column) for column in zip(*rows, strict=True)])
            result.devices.update(row[0] for row in rows)

    def _store_readings(
        self,
        cur: psycopg.Cursor,
        readings: Sequence[AcceptedReading],
        rows: Sequence[tuple[Any, ...]] | None,
        result: WriteResult,
        *,
        unpark: bool,
    ) -> None:
        if rows is None:
            rows = stage_rows(readings)
        with cur.copy(_COPY_STAGE) as copy:
            copy.set_types(_COPY_TYPES)
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        result.staged = len(readings)
        unresolved: list[int] = []
        for patient, kind, inserted, idx in cur.execute(_STORE).fetchall():
            if idx is None:
                result.inserted += inserted
                result.pairs.add((patient, kind))
            else:
                unresolved.append(idx)
        if unpark:
            cur.execute(_UNPARK, (unresolved,))
            result.unparked = cur.rowcount
        if unresolved:
            cur.executemany(_PARK, [_parked_row(readings[i]) for i in unresolved])
            result.parked = len(unresolved)

    def _store_statuses(self, cur: psycopg.Cursor, statuses: Sequence[HubStatus]) -> None:
        latest: dict[str, HubStatus] = {}
        for status in statuses:
            held = latest.get(status.hub_id)
            if held is None or status.sent_at > held.sent_at:
                latest[status.hub_id] = status
        cur.executemany(_STATUS, [_status_row(latest[hub]) for hub in sorted(latest)])

    def _store_events(self, cur: psycopg.Cursor, events: Sequence[HubEvent]) -> None:
        rows = sorted({e.event_id: _event_row(e) for e in events}.values(), key=lambda row: row[1])
        cur.executemany(_EVENT, rows)

    def _store_dead_letters(
        self, cur: psycopg.Cursor, letters: Sequence[DeadLetter], result: WriteResult
    ) -> None:
        cur.executemany(_DEAD_LETTER, [_dead_letter_row(d) for d in letters])
        result.dead_letters = len(letters)


def _parked_row(accepted: AcceptedReading) -> tuple[Any, ...]:
    r = accepted.reading
    document = r.model_dump_json(by_alias=True, exclude_none=True)
    return (r.reading_id, r.measured_at, r.device.device_id, accepted.hub_id, r.kind, r.user_index, document)


def _status_row(s: HubStatus) -> tuple[Any, ...]:
    devices = json.dumps([d.model_dump(mode="json", exclude_none=True) for d in s.devices])
    return (
        s.hub_id,
        s.online,
        s.sent_at,
        s.software_version,
        s.uptime_s,
        s.outbox_depth,
        s.oldest_unsent_age_s,
        devices,
    )


def _event_row(e: HubEvent) -> tuple[Any, ...]:
    return (e.at, e.event_id, e.hub_id, e.type.value, e.device_id, _text(e.message), e.raw_hex)


def _dead_letter_row(d: DeadLetter) -> tuple[Any, ...]:
    return (_text(d.topic), d.hub_id, d.payload, _text(d.reason), d.category, d.digest, d.reading_index)


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; the contract allows it in free text, so it is shown escaped."""
    return value.replace("\x00", "\\u0000")
