"""One scanner for the whole hub, fanning each advertisement out to every interested party.

BlueZ allows one discovery per adapter: a second `StartDiscovery` (another `BleakScanner`, or
`BleakClient(address_string)`, which scans to resolve the address) fails with `org.bluez.Error.InProgress`.
So the hub owns exactly one `BleakScanner`, keeps the latest `BLEDevice` per address, and sessions connect
with that `BLEDevice` object, never with an address string.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from gateway.ble.errors import ScanError

logger = logging.getLogger(__name__)

HubClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Sighting:
    """One advertisement as the hub saw it."""

    device: BLEDevice
    advertisement: AdvertisementData
    at: datetime

    @property
    def address(self) -> str:
        return self.device.address.upper()


Listener = Callable[[Sighting], None]


class SharedScanner:
    """Owns the hub's single `BleakScanner`; `backend=None` is bleak's platform default."""

    def __init__(
        self,
        *,
        backend: type[BaseBleakScanner] | None = None,
        service_uuids: list[str] | None = None,
        clock: HubClock = utc_now,
    ) -> None:
        self._scanner = BleakScanner(self._on_detection, service_uuids, backend=backend)
        self._clock = clock
        self._listeners: list[Listener] = []
        self._latest: dict[str, Sighting] = {}
        self._running = False
        self._changed = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        """Start the one scan; starting twice is a no-op, never a second discovery."""
        if self._running:
            return
        try:
            await self._scanner.start()
        except BleakError as exc:
            raise ScanError(str(exc)) from exc
        self._running = True

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        await self._scanner.stop()

    async def __aenter__(self) -> SharedScanner:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` for every advertisement; returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def latest(self, address: str) -> Sighting | None:
        """The last advertisement of `address` (its `BLEDevice` is what to connect with)."""
        return self._latest.get(address.upper())

    async def wait_for(self, predicate: Callable[[Sighting], bool], timeout: float) -> Sighting:
        """The first sighting (already seen or new) for which `predicate` holds; `TimeoutError` after
        `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                for sighting in list(self._latest.values()):
                    if predicate(sighting):
                        return sighting
                await changed.wait()

    def _on_detection(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        sighting = Sighting(device, advertisement, self._clock())
        self._latest[sighting.address] = sighting
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in list(self._listeners):
            try:
                listener(sighting)
            except Exception:
                logger.exception("scan listener %r failed on %s", listener, sighting.address)
