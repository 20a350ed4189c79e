"""Parked readings: stored for their patient once an assignment covers them. Idempotent.

A reading is parked when no assignment of its device (and user slot) covers its `measured_at`. Resolving
takes parked readings that an assignment now covers (row locks with SKIP LOCKED, so workers share the
work), writes them through the normal ingest path and deletes the parked copies in the same transaction.
"""

from __future__ import annotations

import psycopg
from pydantic import TypeAdapter

from broker.contract import Reading
from broker.contract.version import WIRE_CONTEXT
from broker.plausibility import assess
from ingest.messages import AcceptedReading
from ingest.store import BatchWriter, WriteResult

RESOLVE_CHUNK = 1000
"""Parked readings moved per transaction: bounded so one resolution never holds locks for long."""

_READING = TypeAdapter(Reading)

_RESOLVABLE = """
SELECT p.hub_id, p.reading::text FROM parked_readings p
WHERE EXISTS (
    SELECT 1 FROM device_assignments a
    WHERE a.device_id = p.device_id AND a.valid @> p.measured_at
      AND (a.user_index IS NULL OR a.user_index = p.user_index))
ORDER BY p.parked_at, p.reading_id
LIMIT %s
FOR UPDATE OF p SKIP LOCKED
"""


def resolve_chunk(writer: BatchWriter, limit: int = RESOLVE_CHUNK) -> WriteResult:
    """Store up to `limit` resolvable parked readings, inside the caller's transaction."""
    rows = writer.conn.execute(_RESOLVABLE, (limit,)).fetchall()
    readings = []
    for hub_id, document in rows:
        reading = _READING.validate_json(document, strict=True, context=WIRE_CONTEXT)
        readings.append(AcceptedReading(hub_id, reading, assess(reading).quality_flags))
    return writer.write(readings, unpark=True)


def parked_count(conn: psycopg.Connection) -> int:
    """Readings waiting for an assignment (for the metrics gauge and operators)."""
    row = conn.execute("SELECT count(*) FROM parked_readings").fetchone()
    return int(row[0]) if row else 0
