"""What the hub last knew about a device, for the retained status message (`DeviceSeen`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from broker.contract.status import DeviceSeen


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    device_id: str
    address: str
    battery_pct: int | None = None
    rssi_dbm: int | None = None
    last_seen: datetime | None = None
    clock_offset_s: float | None = None

    def updated(self, **changes: object) -> DeviceStatus:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_device_seen(self) -> DeviceSeen:
        return DeviceSeen(
            device_id=self.device_id,
            battery_pct=self.battery_pct,
            rssi_dbm=self.rssi_dbm,
            last_seen=self.last_seen,
            clock_offset_s=self.clock_offset_s,
        )
