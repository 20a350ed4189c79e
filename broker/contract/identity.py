"""Reading identity: a deterministic `reading_id`, so a record read twice is stored once.

Strategy `rpm-reading-id/v1`: `reading_id = uuid5(READING_ID_NAMESPACE, [strategy, device_id, kind,
identity])` where `identity` (built by `reading_identity`) is

1. the device's record sequence number, plus the raw device time when the record has one (meters that reset
   or reuse sequence numbers would otherwise make a new reading collide with an old one); else
2. the raw device time plus the measured values; else
3. the hub's receive time plus the values (the device keeps no time, so nothing identifies a re-read).

Re-reading a stored record yields the same sequence, raw device time and values, hence the same id, and the
database's `ON CONFLICT DO NOTHING` drops the copy. A change to these rules is a new strategy name (v2); ids
made under v1 stay valid because the name is hashed into every id.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping

READING_ID_NAMESPACE = uuid.UUID("3713c951-df2f-4b81-b794-b196f6c8e9c3")
"""Fixed namespace of rpm-gateway reading ids (generated once; never change it)."""

READING_ID_STRATEGY = "rpm-reading-id/v1"
"""Name and version of the identity rules above; hashed into every id."""

VALUE_DIGITS = 10
"""Significant digits of values in an identity: enough for every SFLOAT/FLOAT, immune to float-repr noise."""


def reading_id_for(device_id: str, kind: str, identity: str) -> uuid.UUID:
    """The reading id of one record of one device (see the module docstring for `identity`)."""
    name = json.dumps(
        [READING_ID_STRATEGY, device_id, kind, identity], ensure_ascii=False, separators=(",", ":")
    )
    return uuid.uuid5(READING_ID_NAMESPACE, name)


def _values(values: Mapping[str, float | int | None]) -> str:
    return ",".join(
        f"{key}={format(float(v), f'.{VALUE_DIGITS}g')}" for key, v in sorted(values.items()) if v is not None
    )


def reading_identity(
    *,
    sequence: int | None = None,
    device_time: dt.datetime | None = None,
    values: Mapping[str, float | int | None] | None = None,
    received_at: dt.datetime | None = None,
) -> str:
    """Build the `identity` string of strategy v1 from what the device sent.

    `device_time` is the raw (uncorrected) device clock value; correcting it would change the id whenever the
    hub's offset estimate moves. `received_at` is used only when there is no sequence and no device time.
    """
    if device_time is not None and device_time.tzinfo is not None:
        raise ValueError("device_time is the raw device clock value and must be naive")
    raw_time = None if device_time is None else device_time.isoformat()
    if sequence is not None:
        return f"seq={sequence}" if raw_time is None else f"seq={sequence};t={raw_time}"
    if values is None:
        raise ValueError("a reading without a sequence number needs its values to be identified")
    if raw_time is not None:
        return f"t={raw_time};{_values(values)}"
    if received_at is None:
        raise ValueError(
            "a reading without sequence number or device time needs received_at to be identified"
        )
    return f"rx={received_at.astimezone(dt.UTC).isoformat()};{_values(values)}"
