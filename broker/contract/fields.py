"""Field types shared by the message models: each says once what a valid value looks like."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from broker.errors import TopicError
from broker.topics import HUB_ID_PATTERN, validate_hub_id

MAX_COUNTER = 2**31 - 1
"""Upper bound of counters and ids on the wire: they land in PostgreSQL `integer` columns."""


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "naive_datetime",
            "datetime must carry a UTC offset (e.g. 2026-01-05T08:30:00Z): a naive time is ambiguous",
        )
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "datetime is out of range once converted to UTC"
        ) from None


def _naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        raise PydanticCustomError(
            "aware_device_time",
            "device_time is the device clock as shown, without a UTC offset; put the corrected time in "
            "measured_at",
        )
    return value


UtcDatetime = Annotated[dt.datetime, AfterValidator(_utc)]
"""An instant: a UTC offset is required and the value is normalised to UTC, so equal instants are equal."""

DeviceClock = Annotated[dt.datetime, AfterValidator(_naive)]
"""A raw device clock reading: devices have no time zone, so the value must be naive."""

Measure = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A measured quantity in canonical units: finite and positive (zero or less is a decoding bug)."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A signed finite number, e.g. a clock offset."""

Counter = Annotated[int, Field(ge=0, le=MAX_COUNTER)]
"""A non-negative count or sequence number that fits a PostgreSQL `integer`."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_surrogates(value: str) -> str:
    # Strict UTF-8 encoding fails on exactly the surrogate code points (category Cs), in C rather than a
    # Python loop over every character: this check runs for every label of every reading at ingest.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text_surrogate", "must be valid Unicode (no lone surrogates)") from None
    return value


def _label(value: str) -> str:
    if value != value.strip():
        raise PydanticCustomError("label_whitespace", "must not start or end with whitespace")
    if _CONTROL.search(value):
        raise PydanticCustomError("label_characters", "must not contain control characters")
    return _no_surrogates(value)


Label64 = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_label)]
"""A printable name (model, profile, version): trimmed, no control characters."""

DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_label)]
"""A device's stable id: its serial number (Device Information) if it has one, else its BLE address."""

MAX_TEXT_CHARS = 2000
"""Free text (event messages) is for people reading a log line, not for dumps; raw bytes go in raw_hex."""

Text = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_no_surrogates)
]
"""Free human-readable text; may span lines."""


def _hub_id(value: str) -> str:
    try:
        return validate_hub_id(value)
    except TopicError as exc:
        raise PydanticCustomError("hub_id", str(exc)) from None


HubId = Annotated[str, AfterValidator(_hub_id), Field(json_schema_extra={"pattern": HUB_ID_PATTERN})]
"""A hub id as used in topics (see `broker.topics.validate_hub_id`)."""

_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _address(value: str) -> str:
    if _MAC.fullmatch(value) is None and _UUID.fullmatch(value) is None:
        raise PydanticCustomError(
            "ble_address",
            "BLE address must be a MAC address (AA:BB:CC:DD:EE:FF) or a CoreBluetooth UUID",
        )
    return value.upper()


BleAddress = Annotated[str, AfterValidator(_address)]
"""A BLE address as bleak reports it; normalised to upper case so one device has one spelling."""
