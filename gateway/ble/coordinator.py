"""The hub's BLE loop: the shared scanner's sightings start sessions, at most `slots` connections at a time.

One session per device at a time; after a session a device rests for `cooldown_s`, because devices keep
advertising for a moment after they hang up and reconnecting would find nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from broker.contract.config import AssignedDevice
from firmware_profiles import Profile, ProfileSet
from gateway.ble.device_info import DeviceInfoCache
from gateway.ble.errors import BleError
from gateway.ble.scanner import SharedScanner, Sighting
from gateway.ble.session import (
    DeviceSession,
    EventSink,
    ReadingSink,
    SessionConfig,
    SessionResult,
    StatusSink,
)
from gateway.ble.state import DeviceStateStore
from gateway.ble.status import DeviceStatus

logger = logging.getLogger(__name__)

DEFAULT_CONNECTION_SLOTS: Final = 2
"""Health devices connect for seconds after a measurement; two links at once serve a home's handful of
devices while leaving the radio (shared with Wi-Fi on a Pi) mostly to scanning. Configurable per hub."""

DEFAULT_COOLDOWN_S: Final = 30.0
"""Cuffs and scales advertise for a few seconds after hanging up; half a minute outlasts that burst."""

RECENT_RESULTS: Final = 100
"""Session results kept for inspection: a hub runs for months, so the history must be bounded."""


class ConnectionSlots:
    """An `asyncio.Semaphore` over the adapter's connections, counting use (for status and tests)."""

    def __init__(self, limit: int = DEFAULT_CONNECTION_SLOTS) -> None:
        if limit < 1:
            raise ValueError("at least one connection slot")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_use = 0
        self.peak = 0

    async def __aenter__(self) -> ConnectionSlots:
        await self._semaphore.acquire()
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.in_use -= 1
        self._semaphore.release()


@dataclass(frozen=True)
class Assignment:
    """A device this hub serves and the profile that knows it."""

    profile: Profile
    device_id: str | None = None


class SessionCoordinator:
    """Starts sessions for assigned devices (by address), or for any device a profile recognises when
    `accept_unrecognised_assignments` is on (first contact, before the address is known)."""

    def __init__(
        self,
        profiles: ProfileSet,
        *,
        store: DeviceStateStore,
        on_reading: ReadingSink,
        on_event: EventSink | None = None,
        on_status: StatusSink | None = None,
        config: SessionConfig | None = None,
        slots: ConnectionSlots | None = None,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        assigned: Iterable[AssignedDevice] = (),
        serve_recognised: bool = False,
    ) -> None:
        self.profiles = profiles
        self.slots = slots if slots is not None else ConnectionSlots()
        self.config = config if config is not None else SessionConfig()
        self.cooldown_s = cooldown_s
        self.serve_recognised = serve_recognised
        self.statuses: dict[str, DeviceStatus] = {}
        self.results: deque[SessionResult] = deque(maxlen=RECENT_RESULTS)
        self.sink_failures = 0
        """Sessions ended because a sink raised (e.g. the outbox was full): nothing was marked delivered."""
        self._store = store
        self._on_reading = on_reading
        self._on_event = on_event
        self._on_status = on_status
        self._device_info = DeviceInfoCache()
        self._assigned: dict[str, Assignment] = {}
        self._active: dict[str, asyncio.Task[SessionResult | None]] = {}
        self._rested_until: dict[str, float] = {}
        self.assign(assigned)

    def assign(self, devices: Iterable[AssignedDevice]) -> None:
        """Apply the hub config's device list (devices without a known address are matched by profile)."""
        self._assigned = {
            device.address.upper(): Assignment(self.profiles.get(device.profile), device.device_id)
            for device in devices
            if device.address is not None
        }

    def profile_for(self, sighting: Sighting) -> Profile | None:
        assignment = self._assigned.get(sighting.address)
        if assignment is not None:
            return assignment.profile
        if not self.serve_recognised:
            return None
        adv = sighting.advertisement
        return self.profiles.match(adv.local_name, adv.service_uuids, adv.manufacturer_data)

    async def run_session(self, sighting: Sighting, profile: Profile) -> SessionResult:
        """One session under a connection slot."""
        async with self.slots:
            session = DeviceSession(
                sighting,
                profile,
                store=self._store,
                on_reading=self._on_reading,
                on_event=self._on_event,
                on_status=self._status,
                config=self.config,
                device_info=self._device_info,
            )
            result = await session.run()
        self.results.append(result)
        return result

    async def _status(self, status: DeviceStatus) -> None:
        self.statuses[status.address] = status
        if self._on_status is not None:
            outcome = self._on_status(status)
            if asyncio.iscoroutine(outcome):
                await outcome

    def attach(self, scanner: SharedScanner) -> Callable[[], None]:
        """Start a session whenever the scanner sees a device to serve; returns the detach function."""
        return scanner.add_listener(self._on_sighting)

    def _on_sighting(self, sighting: Sighting) -> None:
        address = sighting.address
        if address in self._active:
            return
        loop = asyncio.get_running_loop()
        if self._rested_until.get(address, 0.0) > loop.time():
            return
        profile = self.profile_for(sighting)
        if profile is None:
            return
        task = loop.create_task(self._guarded(sighting, profile), name=f"session-{address}")
        self._active[address] = task

    async def _guarded(self, sighting: Sighting, profile: Profile) -> SessionResult | None:
        """A failed session is logged and reported as an event by the session; the hub keeps going.

        A sink failure (the hub's outbox refusing a reading with `OutboxFull`, a disk error) ends the session
        without advancing the device's sequence; the device keeps the record and the next session after the
        cooldown asks for it again, so the failure is logged here instead of killing the BLE loop."""
        try:
            return await self.run_session(sighting, profile)
        except BleError as exc:
            logger.warning("session with %s failed: %s", sighting.address, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a sink failure must not end the hub's BLE loop
            self.sink_failures += 1
            logger.error("session with %s ended: the hub did not take a reading: %r", sighting.address, exc)
            return None
        finally:
            self._active.pop(sighting.address, None)
            self._rested_until[sighting.address] = asyncio.get_running_loop().time() + self.cooldown_s

    async def wait_idle(self) -> None:
        """Wait until no session is running (tests, shutdown)."""
        while self._active:
            await asyncio.gather(*self._active.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._active.values()):
            task.cancel()
        await asyncio.gather(*self._active.values(), return_exceptions=True)
