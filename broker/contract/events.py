"""`rpm/v1/hubs/{hub_id}/events`: things that happened on the hub or to a device, for operators."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from broker.contract.fields import DeviceId, Text, UtcDatetime
from broker.contract.version import VersionedMessage


class HubEventType(StrEnum):
    """Kinds of hub events. Routine traffic (each connection, each reading) is no event: status covers it."""

    HUB_STARTED = "hub_started"
    PAIRING_FAILED = "pairing_failed"
    CONNECT_FAILED = "connect_failed"
    DECODE_ERROR = "decode_error"
    RECORD_DISCARDED = "record_discarded"
    """A record that is no patient reading was dropped on purpose (control solution, failed measurement)."""
    BATTERY_LOW = "battery_low"
    CLOCK_RESET = "clock_reset"
    CLOCK_SET_FAILED = "clock_set_failed"
    OUTBOX_FULL = "outbox_full"
    OUTBOX_EVICTED = "outbox_evicted"
    CONFIG_APPLIED = "config_applied"
    CONFIG_REJECTED = "config_rejected"


DEVICE_EVENTS = frozenset(
    {
        HubEventType.PAIRING_FAILED,
        HubEventType.CONNECT_FAILED,
        HubEventType.DECODE_ERROR,
        HubEventType.RECORD_DISCARDED,
        HubEventType.BATTERY_LOW,
        HubEventType.CLOCK_RESET,
        HubEventType.CLOCK_SET_FAILED,
    }
)
"""Events about one device: they must name it in `device_id`."""

MAX_RAW_BYTES = 512
"""An ATT attribute value is at most 512 bytes (Bluetooth Core, Vol 3 Part F, 3.2.9): any one value fits."""


def _hex(value: str) -> str:
    if len(value) % 2 or any(ch not in "0123456789abcdefABCDEF" for ch in value):
        raise PydanticCustomError("raw_hex", "raw_hex must be an even number of hex digits (e.g. '1e7800')")
    return value.lower()


RawHex = Annotated[
    str,
    Field(max_length=2 * MAX_RAW_BYTES, json_schema_extra={"pattern": "^([0-9a-fA-F]{2})*$"}),
    AfterValidator(_hex),
]


class HubEvent(VersionedMessage):
    """One event; `event_id` lets the cloud drop the duplicates QoS 1 may deliver."""

    event_id: uuid.UUID
    at: UtcDatetime
    type: HubEventType
    device_id: DeviceId | None = None
    message: Text = Field(description="What happened, for a person reading the hub's event log.")
    raw_hex: RawHex | None = Field(default=None, description="The undecodable bytes, lower-case hex.")

    @model_validator(mode="after")
    def _event_has_its_subject(self) -> HubEvent:
        """Device events name the device; a decode error carries the bytes it could not decode."""
        if self.type in DEVICE_EVENTS and self.device_id is None:
            raise PydanticCustomError(
                "event_device", "event type {type} needs device_id", {"type": self.type.value}
            )
        if self.type is HubEventType.DECODE_ERROR and self.raw_hex is None:
            raise PydanticCustomError(
                "event_raw", "event type decode_error needs raw_hex (the bytes received)"
            )
        return self
