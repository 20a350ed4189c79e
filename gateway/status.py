"""The hub's retained status: what the care team's console shows about a home's hub and its devices."""

from __future__ import annotations

import datetime as dt
import json
from importlib import metadata

from broker.contract import DeviceSeen, HubStatus
from broker.contract.status import MAX_DEVICES_PER_HUB
from gateway.outbox_db import OutboxStats

SEEN_KEY = "seen"
"""Device-state key holding a device's last `DeviceSeen` (JSON), so `rpm hub status` can show it offline."""


def software_version() -> str:
    """The installed package version (what the console shows per hub)."""
    try:
        return metadata.version("rpm-gateway")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class DeviceBoard:
    """The latest `DeviceSeen` of each device, newest first when the status must be cut to its limit."""

    def __init__(self) -> None:
        self._seen: dict[str, DeviceSeen] = {}

    def update(self, seen: DeviceSeen) -> None:
        """Merge: a field the new report leaves empty keeps its last known value."""
        old = self._seen.get(seen.device_id)
        if old is not None:
            merged = old.model_dump() | seen.model_dump(exclude_none=True)
            seen = DeviceSeen.model_validate(merged)
        self._seen[seen.device_id] = seen

    def load(self, saved: dict[str, str]) -> None:
        for text in saved.values():
            self.update(DeviceSeen.model_validate_json(text))

    def get(self, device_id: str) -> DeviceSeen | None:
        return self._seen.get(device_id)

    def snapshot(self) -> tuple[DeviceSeen, ...]:
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        devices = sorted(self._seen.values(), key=lambda d: d.last_seen or epoch, reverse=True)
        return tuple(devices[:MAX_DEVICES_PER_HUB])


def seen_json(seen: DeviceSeen) -> str:
    return json.dumps(seen.model_dump(mode="json", exclude_none=True), separators=(",", ":"))


def online_status(
    hub_id: str,
    *,
    version: str,
    uptime_s: float,
    stats: OutboxStats,
    devices: tuple[DeviceSeen, ...],
    now: float,
) -> HubStatus:
    oldest = None if stats.oldest_unsent_at is None else max(0, int(now - stats.oldest_unsent_at))
    return HubStatus(
        hub_id=hub_id,
        online=True,
        sent_at=dt.datetime.fromtimestamp(now, dt.UTC),
        software_version=version,
        uptime_s=int(uptime_s),
        outbox_depth=stats.depth,
        oldest_unsent_age_s=oldest,
        devices=devices,
    )


def offline_status(hub_id: str, *, version: str, now: float) -> HubStatus:
    return HubStatus.last_will(hub_id, version, dt.datetime.fromtimestamp(now, dt.UTC))
