"""Outbox rows to MQTT payloads: readings travel as `ReadingBatch` messages, events one per message.

A batch is spliced from the stored JSON of each reading rather than rebuilt through pydantic: the rows were
validated when they were added, splicing costs nothing on a Pi draining a 20,000-reading backlog, and a
test checks the result is byte for byte what `broker.contract.encode` makes of the same batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from broker.contract import MAX_BATCH_READINGS, SCHEMA_VERSION, ReadingBatch, encode
from gateway.outbox_db import Channel, Row

MAX_PAYLOAD_BYTES = 512 * 1024
"""A full batch of `MAX_BATCH_READINGS` readings stays under 512 KiB (the contract's own bound); the
project's broker accepts packets up to 1 MiB. A smaller Maximum Packet Size announced by the broker in
CONNACK lowers this."""

ENVELOPE_BYTES = 256
"""Room for the batch envelope and the MQTT fixed header, topic and properties around the payload."""

_EMPTY_READINGS = b'"readings":[]}'


@dataclass(frozen=True)
class Outgoing:
    """One MQTT message built from consecutive outbox rows."""

    channel: Channel
    seqs: tuple[int, ...]
    payload: bytes


def batch_payload(hub_id: str, sent_at: dt.datetime, readings: Sequence[bytes]) -> bytes:
    """The `ReadingBatch` JSON of already-encoded readings, exactly as `encode` would write it."""
    envelope = encode(
        ReadingBatch.model_construct(
            schema_version=SCHEMA_VERSION, hub_id=hub_id, sent_at=sent_at, readings=()
        )
    )
    if not envelope.endswith(_EMPTY_READINGS):  # pragma: no cover - guards a contract change
        raise AssertionError("ReadingBatch no longer ends with its readings; update batch_payload")
    return envelope[: -len(b"[]}")] + b"[" + b",".join(readings) + b"]}"


def next_message(
    rows: Sequence[Row], *, hub_id: str, max_batch: int, max_bytes: int, sent_at: dt.datetime
) -> Outgoing | None:
    """The message for the leading rows: one event alone, or a run of readings up to the batch limits.

    With no backlog the run is one reading, so the steady state sends one message per reading; a backlog
    fills batches up to `max_batch` readings and `max_bytes`.
    """
    if not rows:
        return None
    first = rows[0]
    if first.channel is Channel.EVENTS:
        return Outgoing(Channel.EVENTS, (first.seq,), first.payload)
    limit = min(max_batch, MAX_BATCH_READINGS)
    taken: list[Row] = []
    size = ENVELOPE_BYTES
    for row in rows:
        if row.channel is not Channel.READINGS or len(taken) >= limit:
            break
        if taken and size + len(row.payload) + 1 > max_bytes:
            break
        taken.append(row)
        size += len(row.payload) + 1
    payload = batch_payload(hub_id, sent_at, [row.payload for row in taken])
    return Outgoing(Channel.READINGS, tuple(row.seq for row in taken), payload)
