"""`rpm/v1/hubs/{hub_id}/config` (retained, cloud to hub): which devices to serve and how."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from broker.contract.batch import MAX_BATCH_READINGS
from broker.contract.fields import MAX_COUNTER, BleAddress, DeviceId, Label64, UtcDatetime
from broker.contract.status import MAX_DEVICES_PER_HUB
from broker.contract.version import ContractModel, VersionedMessage

DEFAULT_SCAN_INTERVAL_S = 15
DEFAULT_SCAN_DURATION_S = 10
"""Health devices advertise only for a short while after a measurement and stop once a central connects, so
the gap between scans (interval - duration, 5 s by default) must stay short; pausing at all leaves the radio
to Wi-Fi, which shares it on a Raspberry Pi."""
MAX_SCAN_INTERVAL_S = 3600
"""Devices keep unsent readings, so an hour between scans delays data but loses none; longer hides faults."""
MAX_SCAN_DURATION_S = 600

DEFAULT_MAX_BATCH = 100
"""Small enough that a reconnecting hub publishes its first batch at once, large enough to drain a backlog."""
DEFAULT_MAX_INFLIGHT = 10
MAX_INFLIGHT = 100
"""Unacknowledged QoS 1 publishes at once; Mosquitto's default per client is 20 (max_inflight_messages)."""
DEFAULT_STATUS_INTERVAL_S = 60
MIN_STATUS_INTERVAL_S = 10
MAX_STATUS_INTERVAL_S = 3600
"""The cloud calls a hub offline after 24 h of silence; a status every minute keeps "last seen" fresh on the
console at 1,440 small messages a day; once an hour is the least that still spots a stuck hub the same day."""


class AssignedDevice(ContractModel):
    """A device this hub should connect to."""

    device_id: DeviceId
    profile: Label64 = Field(description="Firmware profile that knows how to talk to this model.")
    address: BleAddress | None = Field(
        default=None, description="Known BLE address, to connect without a name match."
    )
    name: Label64 | None = Field(default=None, description="Label for people (e.g. 'kitchen scale').")


class ScanSettings(ContractModel):
    """When the hub scans for its devices."""

    interval_s: int = Field(default=DEFAULT_SCAN_INTERVAL_S, ge=1, le=MAX_SCAN_INTERVAL_S)
    duration_s: int = Field(default=DEFAULT_SCAN_DURATION_S, ge=1, le=MAX_SCAN_DURATION_S)

    @model_validator(mode="after")
    def _scan_fits_interval(self) -> ScanSettings:
        """A scan longer than its interval would overlap the next one (equal means scan continuously)."""
        if self.duration_s > self.interval_s:
            raise PydanticCustomError(
                "scan_duration",
                "scan duration_s ({duration}) must not exceed interval_s ({interval})",
                {"duration": self.duration_s, "interval": self.interval_s},
            )
        return self


class UploadSettings(ContractModel):
    """How the hub publishes."""

    max_batch: int = Field(default=DEFAULT_MAX_BATCH, ge=1, le=MAX_BATCH_READINGS)
    max_inflight: int = Field(default=DEFAULT_MAX_INFLIGHT, ge=1, le=MAX_INFLIGHT)
    status_interval_s: int = Field(
        default=DEFAULT_STATUS_INTERVAL_S, ge=MIN_STATUS_INTERVAL_S, le=MAX_STATUS_INTERVAL_S
    )


class HubConfig(VersionedMessage):
    """The hub's desired state. `version` only grows, so a hub ignores a config older than the one it runs."""

    version: int = Field(ge=1, le=MAX_COUNTER, description="Monotonic config version; higher wins.")
    issued_at: UtcDatetime
    devices: tuple[AssignedDevice, ...] = Field(default=(), max_length=MAX_DEVICES_PER_HUB)
    scan: ScanSettings = ScanSettings()
    upload: UploadSettings = UploadSettings()

    @field_validator("devices")
    @classmethod
    def _unique_devices(cls, devices: tuple[AssignedDevice, ...]) -> tuple[AssignedDevice, ...]:
        """One entry per device, so a hub never has to choose between two profiles for it."""
        seen: set[str] = set()
        for device in devices:
            if device.device_id in seen:
                raise PydanticCustomError(
                    "duplicate_device",
                    "device {device_id} is assigned twice",
                    {"device_id": device.device_id},
                )
            seen.add(device.device_id)
        return devices
