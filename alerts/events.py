"""The alert event log: every change of an alert is one row (who, when, from, to, note). Append-only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def record(
    conn: psycopg.Connection,
    alert_id: int,
    *,
    at: datetime,
    action: str,
    from_state: str | None,
    to_state: str,
    actor: uuid.UUID | None = None,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event; `actor` None means the engine did it."""
    conn.execute(
        "INSERT INTO alert_events (alert_id, at, actor_id, action, from_state, to_state, note, details)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (alert_id, at, actor, action, from_state, to_state, note, Jsonb(details or {})),
    )


@dataclass(frozen=True)
class Event:
    alert_id: int
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor: uuid.UUID | None = None
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def record_many(conn: psycopg.Connection, log: list[Event]) -> None:
    """Append many events in one statement (the engine's batches)."""
    if log:
        conn.execute(
            "INSERT INTO alert_events (alert_id, at, actor_id, action, from_state, to_state, note, details)"
            " SELECT * FROM unnest(%b::bigint[], %b::timestamptz[], %b::uuid[], %b::text[], %b::text[],"
            " %b::text[], %b::text[], %b::jsonb[])",
            (
                [e.alert_id for e in log],
                [e.at for e in log],
                [e.actor for e in log],
                [e.action for e in log],
                [e.from_state for e in log],
                [e.to_state for e in log],
                [e.note for e in log],
                [Jsonb(e.details) for e in log],
            ),
        )
