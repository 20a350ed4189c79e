"""The radio environment: which simulated peripherals are in range, advertising, and connected.

``SimulatedAir`` is an explicit object, never a process-wide singleton. bleak instantiates backend classes
itself (``BleakScanner(backend=SomeClass)``), so the air cannot be passed to a constructor. We hand it over by
*binding*: ``make_backends(air)`` returns subclasses of the simulated backends whose class attribute points at
that air (also available as ``air.scanner_backend`` / ``air.client_backend``). Why not a contextvar: bleak
creates tasks (async detection callbacks) and hub code may create its own, and a contextvar silently falls
back to a default or leaks between tests when a task was started in another context; a bound class is
visible in the code that wires the hub (``backend=air.client_backend``), works across tasks, and two airs can
coexist in one test (two homes). Why not ``**kwargs`` through ``BleakScanner(..., air=air)``: bleak's
convenience methods (``find_device_by_address``) type their kwargs, and the hub would need simulator-only
arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

from bleak.exc import BleakDBusError

if TYPE_CHECKING:
    from simulators.ble.backend import SimulatedClientBackend, SimulatedScannerBackend
    from simulators.ble.peripheral import SimulatedPeripheral

logger = logging.getLogger(__name__)

PasskeyAgent: TypeAlias = Callable[[str], Awaitable[int | None] | int | None]
"""The host's pairing agent (BlueZ ``Agent1.RequestPasskey``): given the device address, return the PIN the
user typed, or None to cancel. bleak has no agent API, so the hub registers one with the OS; here it is a
callable on the air."""

CENTRAL_MAX_MTU = 517
"""The ATT_MTU the hub's controller asks for (BlueZ requests 517, the largest the spec allows)."""


class SimClock:
    """Simulated time for the device side: delays, advertising intervals and device wall clocks.

    It runs on the host's monotonic clock scaled by ``speed`` (``speed=10`` makes a 1 s device delay take
    0.1 s), so it works with ordinary ``asyncio`` and with bleak's own timeouts, which stay in real seconds.
    """

    def __init__(self, *, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.start = start if start is not None else datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        self._origin = time.monotonic()

    def now(self) -> float:
        """Simulated seconds since the clock was created."""
        return (time.monotonic() - self._origin) * self.speed

    def wallclock(self) -> datetime:
        """The simulated UTC date-time (device models derive their possibly drifting clocks from it)."""
        return self.start + timedelta(seconds=self.now())

    def to_real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of simulated time take."""
        return max(0.0, seconds) / self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep for simulated seconds."""
        await asyncio.sleep(self.to_real(seconds))


class SimulatedAir:
    """Peripherals in range of one hub's adapter, the adapter's scan slot, and the tasks of the simulation.

    Use ``async with SimulatedAir() as air:``: on exit all links drop, device tasks stop, and any exception
    raised inside the simulation (a device model's firmware, or a hub callback called by the radio) is
    re-raised as an ``ExceptionGroup`` so nothing fails silently.
    """

    def __init__(
        self, *, clock: SimClock | None = None, agent: PasskeyAgent | None = None, name: str = "hci0"
    ) -> None:
        self.clock = clock if clock is not None else SimClock()
        self.agent = agent
        self.name = name
        self.central_mtu = CENTRAL_MAX_MTU
        self.errors: list[BaseException] = []
        self._peripherals: dict[str, SimulatedPeripheral] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._change_event = asyncio.Event()
        self._dirty_adverts: set[str] = set()
        self._scanner: SimulatedScannerBackend | None = None
        self._scan_task: asyncio.Task[None] | None = None
        self._backends: tuple[type[SimulatedScannerBackend], type[SimulatedClientBackend]] | None = None

    def __repr__(self) -> str:
        return f"<SimulatedAir {self.name} peripherals={list(self._peripherals)}>"

    # bleak wiring

    @property
    def scanner_backend(self) -> type[SimulatedScannerBackend]:
        """Pass as ``BleakScanner(backend=...)``."""
        return self._bound_backends()[0]

    @property
    def client_backend(self) -> type[SimulatedClientBackend]:
        """Pass as ``BleakClient(backend=...)``."""
        return self._bound_backends()[1]

    def _bound_backends(self) -> tuple[type[SimulatedScannerBackend], type[SimulatedClientBackend]]:
        if self._backends is None:
            self._backends = make_backends(self)
        return self._backends

    # peripherals coming and going

    @property
    def peripherals(self) -> tuple[SimulatedPeripheral, ...]:
        return tuple(self._peripherals.values())

    def add(self, peripheral: SimulatedPeripheral) -> SimulatedPeripheral:
        """Bring a peripheral into range (it advertises if its ``advertising`` flag is set)."""
        if peripheral.address in self._peripherals:
            raise ValueError(f"{peripheral.address} is already in {self!r}")
        peripheral._attach(self)
        self._peripherals[peripheral.address] = peripheral
        self.advertisement_changed(peripheral)
        return peripheral

    def remove(self, peripheral: SimulatedPeripheral) -> None:
        """Take a peripheral out of range; an open link drops as a supervision timeout."""
        self._peripherals.pop(peripheral.address, None)
        if peripheral.link is not None:
            peripheral.link.close("connection timeout")
        self.notify_changed()

    def get(self, address: str) -> SimulatedPeripheral | None:
        return self._peripherals.get(address.upper())

    # change notification, used by the scan loop and by connects waiting for a device to advertise

    def notify_changed(self) -> None:
        """Wake everything waiting on the state of the air."""
        self._change_event.set()
        self._change_event = asyncio.Event()

    def advertisement_changed(self, peripheral: SimulatedPeripheral) -> None:
        """A peripheral started advertising or changed its advertisement: scanners see it at once."""
        self._dirty_adverts.add(peripheral.address)
        self.notify_changed()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; re-checked on every change of the air."""
        while True:
            event = self._change_event
            if predicate():
                return
            await event.wait()

    # the adapter's single scan slot

    def begin_scan(self, scanner: SimulatedScannerBackend) -> None:
        """Claim the scan slot; a second concurrent scan fails like BlueZ's StartDiscovery does."""
        if self._scanner is not None:
            raise BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"])
        self._scanner = scanner
        self._dirty_adverts.update(self._peripherals)
        self._scan_task = self.spawn(self._scan_loop(scanner), name=f"{self.name}-scan")

    async def end_scan(self, scanner: SimulatedScannerBackend) -> None:
        if self._scanner is not scanner:
            return
        self._scanner = None
        task, self._scan_task = self._scan_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def scanning(self) -> bool:
        return self._scanner is not None

    async def _scan_loop(self, scanner: SimulatedScannerBackend) -> None:
        """Deliver each advertising peripheral's advertisement once per its advertising interval."""
        next_due: dict[str, float] = {}
        while True:
            event = self._change_event
            now = self.clock.now()
            for address in self._dirty_adverts:
                next_due[address] = now
            self._dirty_adverts.clear()
            wait: float | None = None
            for peripheral in list(self._peripherals.values()):
                if not peripheral.is_advertising:
                    next_due.pop(peripheral.address, None)
                    continue
                due = next_due.setdefault(peripheral.address, now)
                if due <= now:
                    self._deliver_advertisement(scanner, peripheral)
                    due = next_due[peripheral.address] = now + peripheral.advertising_interval
                wait = due - now if wait is None else min(wait, due - now)
            if wait is None:
                await event.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.clock.to_real(wait)):
                        await event.wait()

    def _deliver_advertisement(
        self, scanner: SimulatedScannerBackend, peripheral: SimulatedPeripheral
    ) -> None:
        try:
            scanner.receive_advertisement(peripheral)
        except Exception as exc:  # noqa: BLE001 - a hub detection callback failed: keep scanning, surface at close
            self.record_error(exc)

    # tasks and errors

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run simulation work in the background; its exceptions are recorded, never lost."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.record_error(task.exception())  # type: ignore[arg-type]

    def record_error(self, exc: BaseException) -> None:
        logger.error("simulation error in %s: %r", self.name, exc, exc_info=exc)
        self.errors.append(exc)

    async def call_hook(self, result: object) -> Any:
        """Await ``result`` if a hook returned an awaitable (hooks may be sync or async)."""
        if inspect.isawaitable(result):
            return await result
        return result

    async def close(self) -> None:
        """Stop scanning, drop every link and stop every simulation task."""
        if self._scanner is not None:
            await self.end_scan(self._scanner)
        waits = [p.link.close("connection terminated by local host") for p in self.peripherals if p.link]
        if waits:
            await asyncio.gather(*waits)
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> SimulatedAir:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
        if self.errors and exc is None:
            raise ExceptionGroup(f"{len(self.errors)} error(s) inside the BLE simulation", self.errors)


def make_backends(air: SimulatedAir) -> tuple[type[SimulatedScannerBackend], type[SimulatedClientBackend]]:
    """Return (scanner, client) backend classes bound to ``air``, for ``BleakScanner/BleakClient(backend=)``.

    Each call makes new classes; ``air.scanner_backend`` / ``air.client_backend`` cache one pair per air.
    """
    from simulators.ble.backend import SimulatedClientBackend, SimulatedScannerBackend

    scanner = type("SimulatedScannerBackend", (SimulatedScannerBackend,), {"_air": air})
    client = type("SimulatedClientBackend", (SimulatedClientBackend,), {"_air": air})
    return scanner, client
