"""`rpm/v1/hubs/{hub_id}/status` (retained): the hub's health, also its MQTT last-will."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from broker.contract.fields import Counter, DeviceId, FiniteFloat, Label64, UtcDatetime
from broker.contract.version import ContractModel, VersionedMessage

MAX_DEVICES_PER_HUB = 64
"""A home has a handful of devices; 64 bounds the message while leaving room for a clinic's shared hub."""


class DeviceSeen(ContractModel):
    """What the hub last knew about one of its devices."""

    device_id: DeviceId
    battery_pct: int | None = Field(default=None, ge=0, le=100, description="Battery Level 0x2A19.")
    rssi_dbm: int | None = Field(
        default=None,
        ge=-127,
        le=20,
        description="Signal strength of the last advertisement (HCI range -127..20).",
    )
    last_seen: UtcDatetime | None = None
    clock_offset_s: FiniteFloat | None = Field(
        default=None, description="Device clock minus hub clock, seconds."
    )


class HubStatus(VersionedMessage):
    """Published every `UploadSettings.status_interval_s` and on change; `online: false` is the last-will.

    A last-will is registered when the hub connects, so it cannot know the uptime or outbox depth at the
    moment it fires: those are required only while `online` is true.
    """

    online: bool
    sent_at: UtcDatetime
    software_version: Label64
    uptime_s: Counter | None = Field(default=None, description="Seconds since the hub process started.")
    outbox_depth: Counter | None = Field(
        default=None, description="Readings stored but not yet acknowledged."
    )
    oldest_unsent_age_s: Counter | None = Field(
        default=None, description="Age of the oldest reading still in the outbox, seconds."
    )
    devices: tuple[DeviceSeen, ...] = Field(default=(), max_length=MAX_DEVICES_PER_HUB)

    @model_validator(mode="after")
    def _online_reports_health(self) -> HubStatus:
        """An online hub knows its uptime and outbox; only a last-will may leave them out."""
        if self.online and (self.uptime_s is None or self.outbox_depth is None):
            raise PydanticCustomError(
                "online_status", "an online status must report uptime_s and outbox_depth"
            )
        return self

    @classmethod
    def last_will(cls, hub_id: str, software_version: str, at: dt.datetime) -> HubStatus:
        """The status the broker publishes for the hub when its connection is lost."""
        return cls(hub_id=hub_id, online=False, sent_at=at, software_version=software_version)
