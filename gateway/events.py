"""Building the hub's own events (`HubEvent`); device events arrive ready-made from the BLE layer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Protocol

from broker.contract import HubEvent, HubEventType
from broker.contract.fields import MAX_TEXT_CHARS


class EventSource(Protocol):
    """Anything that can become a contract event once the hub id is known (the BLE layer's `DeviceEvent`)."""

    def to_hub_event(self, hub_id: str) -> HubEvent: ...


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hub_event(
    hub_id: str,
    type_: HubEventType,
    message: str,
    *,
    device_id: str | None = None,
    raw_hex: str | None = None,
    at: dt.datetime | None = None,
) -> HubEvent:
    """A new event with a fresh id (kept through retries, so the cloud can drop QoS 1 duplicates)."""
    return HubEvent(
        hub_id=hub_id,
        event_id=uuid.uuid4(),
        at=at or utc_now(),
        type=type_,
        device_id=device_id,
        message=message[:MAX_TEXT_CHARS],
        raw_hex=raw_hex,
    )
