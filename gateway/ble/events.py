"""Device events from sessions (decode errors, discarded records, clock resets...), ready for the event topic.

The BLE layer does not know the hub id, so it produces `DeviceEvent`s; `to_hub_event(hub_id)` builds the
contract's `HubEvent`. The event id is fixed at creation so a re-published event keeps its id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from broker.contract.events import HubEvent, HubEventType


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    type: HubEventType
    device_id: str
    at: datetime
    message: str
    raw_hex: str | None = None
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def to_hub_event(self, hub_id: str) -> HubEvent:
        return HubEvent(
            hub_id=hub_id,
            event_id=self.event_id,
            at=self.at,
            type=self.type,
            device_id=self.device_id,
            message=self.message,
            raw_hex=self.raw_hex,
        )
