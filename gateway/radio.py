"""The hub's BLE side: one shared scanner and one session coordinator, driven by the retained config.

The hub owns exactly one `SharedScanner` (BlueZ allows one discovery per adapter) and one
`SessionCoordinator`. The current `HubConfig` says which devices to serve (by address) and when to scan
(`scan.duration_s` out of every `scan.interval_s`; equal means without pause). Backends are injectable:
`None` is bleak's platform backend (BlueZ on a Pi); a simulated home passes a `SimulatedAir`'s.

The sinks are the hub's: a reading goes to the durable outbox (an `OutboxFull` propagates into the session,
which then neither advances the device's sequence nor deletes a record), device events become durable hub
events, and each session's `DeviceStatus` feeds the retained status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zoneinfo
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Final

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError

from broker.contract import AssignedDevice, DeviceSeen, HubConfig, ScanSettings
from firmware_profiles import ProfileSet, UnknownProfileError, load_profiles
from gateway.ble.clock import LocalTime
from gateway.ble.connector import RetryPolicy
from gateway.ble.coordinator import (
    DEFAULT_CONNECTION_SLOTS,
    DEFAULT_COOLDOWN_S,
    ConnectionSlots,
    SessionCoordinator,
)
from gateway.ble.errors import ScanError
from gateway.ble.events import DeviceEvent
from gateway.ble.pairing import PairingAgent, PasskeyBook
from gateway.ble.readings import AnyReading
from gateway.ble.scanner import HubClock, SharedScanner, utc_now
from gateway.ble.session import SessionConfig
from gateway.ble.state import DeviceStateStore
from gateway.ble.status import DeviceStatus

log = logging.getLogger(__name__)

SCAN_RETRY_BASE_S: Final = 2.0
SCAN_RETRY_CAP_S: Final = 60.0
"""A scan that cannot start (adapter powered off, BlueZ restarting, no D-Bus) is retried after 2 s, doubling
to a minute: BlueZ restarts in seconds, and a minute of retries costs nothing while the adapter is gone."""

LOCALTIME_FILE: Final = Path("/etc/localtime")


def home_zone(name: str | None) -> tzinfo:
    """The zone device clocks are read in: the configured IANA zone, else the system's, else UTC."""
    if name:
        return zoneinfo.ZoneInfo(name)
    try:
        with LOCALTIME_FILE.open("rb") as file:
            return zoneinfo.ZoneInfo.from_file(file, key="localtime")
    except (OSError, ValueError):
        log.warning("no system time zone (%s); reading device clocks as UTC", LOCALTIME_FILE)
        return UTC


@dataclass(frozen=True)
class RadioOptions:
    """How the hub reaches BLE. The defaults are production: bleak's platform backend and the session
    layer's field-tested timings."""

    scanner_backend: type[BaseBleakScanner] | None = None
    client_backend: type[BaseBleakClient] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    slots: int = DEFAULT_CONNECTION_SLOTS
    cooldown_s: float = DEFAULT_COOLDOWN_S
    clock: HubClock = utc_now
    pairing_agent: PairingAgent | None = None
    """Hands the hub's passkeys to the OS stack (BlueZ `Agent1`); a simulated air takes the book itself."""
    profiles: ProfileSet | None = None
    """None loads the profiles shipped in the wheel."""


class HubRadio:
    """`start()`, then `follow(hub.configs())` in a task, `stop()` at the end."""

    def __init__(
        self,
        options: RadioOptions,
        *,
        store: DeviceStateStore,
        local_time: LocalTime,
        passkeys: PasskeyBook,
        on_reading: Callable[[AnyReading], Awaitable[object]],
        on_event: Callable[[DeviceEvent], Awaitable[object]],
        on_status: Callable[[DeviceSeen], Awaitable[None]],
    ) -> None:
        self.options = options
        self.passkeys = passkeys
        self.profiles = options.profiles if options.profiles is not None else load_profiles()
        self._on_reading = on_reading
        self._on_event = on_event
        self._on_status = on_status
        self.session_config = SessionConfig(
            local_time=local_time,
            clock=options.clock,
            retry=options.retry,
            client_backend=options.client_backend,
        )
        self.scanner: SharedScanner | None = None
        self.coordinator = SessionCoordinator(
            self.profiles,
            store=store,
            on_reading=self._reading,
            on_event=self._on_event,
            on_status=self._status,
            config=self.session_config,
            slots=ConnectionSlots(options.slots),
            cooldown_s=options.cooldown_s,
        )
        self.assigned: tuple[AssignedDevice, ...] = ()
        self._scan: ScanSettings | None = None
        self._scan_task: asyncio.Task[None] | None = None
        self._detach: Callable[[], None] | None = None

    async def _reading(self, reading: AnyReading) -> None:
        await self._on_reading(reading)

    async def _status(self, status: DeviceStatus) -> None:
        await self._on_status(status.to_device_seen())

    async def start(self) -> None:
        self.scanner = SharedScanner(backend=self.options.scanner_backend, clock=self.options.clock)
        self._detach = self.coordinator.attach(self.scanner)
        if self.options.pairing_agent is not None:
            await self.options.pairing_agent.register(self.passkeys)

    async def follow(self, configs: AsyncIterator[HubConfig]) -> None:
        """Apply every config the hub accepts, for as long as the hub runs."""
        async for config in configs:
            self.apply(config)

    def apply(self, config: HubConfig) -> None:
        """Serve the config's devices from now on; restart the scan schedule if it changed."""
        served: list[AssignedDevice] = []
        for device in config.devices:
            try:
                self.profiles.get(device.profile)
            except UnknownProfileError as exc:
                log.error("device %s not served: %s", device.device_id, exc)
                continue
            if device.address is None:
                log.warning(
                    "device %s not served: no BLE address assigned yet",
                    device.device_id,
                    extra={"device_id": device.device_id},
                )
                continue
            served.append(device)
        self.assigned = tuple(served)
        self.coordinator.assign(served)
        log.info(
            "serving %d devices (config version %d)",
            len(served),
            config.version,
            extra={"config_version": config.version},
        )
        wanted = config.scan if served else None
        if wanted != self._scan or (wanted is not None and self._scan_task is None):
            self._restart_scan(wanted)

    def _restart_scan(self, scan: ScanSettings | None) -> None:
        self._scan = scan
        previous, self._scan_task = self._scan_task, None
        if previous is not None:
            previous.cancel()
        if scan is not None:
            self._scan_task = asyncio.create_task(self._scan_loop(scan, previous), name="ble-scan")

    async def _scan_loop(self, scan: ScanSettings, previous: asyncio.Task[None] | None) -> None:
        """Scan `duration_s` of every `interval_s`; a scan that cannot start is retried, never fatal.

        Waits for the previous schedule to have stopped its scan first: a start racing a stop would leave
        the adapter's one discovery in an unknown state."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        assert self.scanner is not None
        scanner = self.scanner
        failures = 0
        try:
            while True:
                try:
                    await scanner.start()
                except (ScanError, BleakError, OSError) as exc:
                    delay = min(SCAN_RETRY_CAP_S, SCAN_RETRY_BASE_S * 2**failures)
                    failures += 1
                    log.warning("BLE scan cannot start (retry in %.0f s): %s", delay, exc)
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                if scan.duration_s >= scan.interval_s:
                    await asyncio.Event().wait()  # continuous: only a new config ends it
                await asyncio.sleep(scan.duration_s)
                await self._stop_scanner()
                await asyncio.sleep(scan.interval_s - scan.duration_s)
        finally:
            await self._stop_scanner()

    async def _stop_scanner(self) -> None:
        if self.scanner is not None:
            with contextlib.suppress(BleakError, OSError):
                await self.scanner.stop()

    async def stop(self) -> None:
        """Stop scanning, cancel running sessions (their devices keep what was not delivered)."""
        if self._scan_task is not None:
            self._scan_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scan_task
            self._scan_task = None
        if self._detach is not None:
            self._detach()
        await self.coordinator.close()
        await self._stop_scanner()
        if self.options.pairing_agent is not None:
            with contextlib.suppress(Exception):
                await self.options.pairing_agent.unregister()
