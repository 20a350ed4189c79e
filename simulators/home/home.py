"""A simulated home: the real hub process code (`gateway.hub.Hub`, its outbox, uploader, BLE sessions) with
simulated BLE devices under bleak, in one asyncio loop.

Only the radio is simulated: the hub reaches the devices through a `SimulatedAir`'s bleak backends, reads
them with its real session code, stores readings in its real outbox and uploads them to the real broker.
Measurements happen three ways: stored history from the devices file, measurements scheduled in it, and
requests at run time (`Home.take(...)` in-process, or a JSON file dropped into the control directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from firmware_profiles import ProfileSet, load_profiles
from gateway.hub import Hub
from gateway.radio import RadioOptions, home_zone
from gateway.settings import HubSettings
from simulators.ble import SimClock, SimulatedAir
from simulators.devices import ProfiledDevice
from simulators.home.devices import build_device, device_memory, take
from simulators.home.memory import (
    ClockMemory,
    DeviceMemory,
    HomeMemory,
    RecordMemory,
    load_memory,
    save_memory,
)
from simulators.home.spec import DeviceSpec, HomeSpec, Measurement

log = logging.getLogger(__name__)

SIM_COOLDOWN_S: Final = 1.0
"""Simulated devices advertise only when they have news, so the hub's 30 s rest after a session (meant for
real devices still advertising after they hung up) would only delay a test's next reading."""

CONTROL_POLL_S: Final = 0.02
"""How often the control directory is looked at: a requested measurement waits 10 ms on average."""

MEMORY_FILE: Final = "simulated-devices.json"


@dataclass(frozen=True)
class HomeOptions:
    memory_path: Path | None = None
    """Where the devices' memory is kept; default: `MEMORY_FILE` in the hub's state directory."""
    control_dir: Path | None = None
    cooldown_s: float = SIM_COOLDOWN_S
    slots: int = 2


class Home:
    """`async with Home(settings, spec) as home:` runs the hub and the devices; `home.take(...)` measures."""

    def __init__(self, settings: HubSettings, spec: HomeSpec, options: HomeOptions | None = None) -> None:
        self.settings = settings
        self.spec = spec
        self.options = options or HomeOptions()
        self.memory_path = self.options.memory_path or settings.state_dir / MEMORY_FILE
        self.profiles: ProfileSet = load_profiles()
        self.zone = home_zone(spec.timezone or settings.timezone)
        self.air = SimulatedAir(clock=SimClock(start=datetime.now(UTC)))
        self.hub = Hub(
            settings,
            radio=RadioOptions(
                scanner_backend=self.air.scanner_backend,
                client_backend=self.air.client_backend,
                cooldown_s=self.options.cooldown_s,
                slots=self.options.slots,
                profiles=self.profiles,
            ),
        )
        self.air.agent = self.hub.passkeys  # the simulator's stand-in for the BlueZ pairing agent
        self.devices: dict[str, ProfiledDevice] = {}
        self.memory: HomeMemory | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        memory = load_memory(self.memory_path) or HomeMemory(started_at=self.air.clock.wallclock())
        self.memory = memory
        for spec in self.spec.devices:
            self.devices[spec.address] = self._device(spec, memory)
        self.save()
        for device in self.devices.values():
            self.air.add(device)
        await self.hub.start()
        for spec in self.spec.devices:
            for index, scheduled in enumerate(spec.schedule):
                self._tasks.append(asyncio.create_task(self._scheduled(spec, index, scheduled)))
        if self.options.control_dir is not None:
            self.options.control_dir.mkdir(parents=True, exist_ok=True)
            self._tasks.append(asyncio.create_task(self._watch(self.options.control_dir), name="control"))
        log.info("simulated home running", extra={"devices": list(self.devices)})

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.hub.stop()
        await self.air.close()
        self.save()
        if self.air.errors:
            raise ExceptionGroup("errors inside the BLE simulation", self.air.errors)

    async def __aenter__(self) -> Home:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set, or a hub task fails (then raise, like `rpm hub run`)."""
        async with self:
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.hub.failed.wait())]
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        if self.hub.failed.is_set():
            from gateway.errors import HubError

            raise HubError("a hub task failed (see the log)")

    # --- devices -----------------------------------------------------------------------------------
    def _device(self, spec: DeviceSpec, memory: HomeMemory) -> ProfiledDevice:
        profile = self.profiles.get(spec.profile)
        known = memory.devices.get(spec.address)
        if known is not None:
            return build_device(spec, profile, self.air.clock, self.zone, known, self.save)
        fresh = DeviceMemory(
            ClockMemory(spec.clock_offset_s, memory.started_at), garbage_left=spec.garbage_records
        )
        device = build_device(spec, profile, self.air.clock, self.zone, fresh, self.save)
        history = [
            (r.taken_at(memory.started_at), Measurement(**r.model_dump(exclude={"at", "minutes_ago"})))
            for r in spec.readings
        ]
        if spec.series is not None:
            history += spec.series.generate(profile.kinds[0], memory.started_at)
        for at, values in sorted(history, key=lambda item: item[0]):
            take(device, values, at)
        memory.devices[spec.address] = device_memory(device)
        return device

    def take(self, address: str, values: Measurement | None = None, **fields: Any) -> RecordMemory:
        """The patient measures now on the device at `address` (values as in the devices file)."""
        device = self.devices[address.upper()]
        record = take(device, values or Measurement(**fields), self.air.clock.wallclock())
        self.save()
        return record

    def save(self) -> None:
        memory = self.memory
        if memory is None:
            return
        for address, device in self.devices.items():
            memory.devices[address] = device_memory(device)
        save_memory(self.memory_path, memory)

    # --- measurements while running ----------------------------------------------------------------
    def _take_once(self, ident: str, address: str, values: Measurement) -> RecordMemory | None:
        """Take a named measurement unless it was taken before (in this run or before a restart)."""
        assert self.memory is not None
        if ident in self.memory.taken:
            return None
        self.memory.taken.append(ident)
        return self.take(address, values)  # saves the memory, with the id, in one write

    async def _scheduled(self, spec: DeviceSpec, index: int, scheduled: Measurement) -> None:
        assert self.memory is not None
        due = self.memory.started_at + timedelta(seconds=getattr(scheduled, "after_s", 0.0))
        await asyncio.sleep(max(0.0, (due - self.air.clock.wallclock()).total_seconds()))
        values = Measurement(**scheduled.model_dump(exclude={"after_s"}))
        self._take_once(f"schedule:{spec.address}:{index}", spec.address, values)

    async def _watch(self, directory: Path) -> None:
        """Take the measurements requested by `*.json` files in `directory` (`write_request` writes them)."""
        while True:
            for path in sorted(directory.glob("*.json")):
                self._request(path)
            await asyncio.sleep(CONTROL_POLL_S)

    def _request(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            address = str(raw.pop("address")).upper()
            if address not in self.devices:
                raise ValueError(f"no device {address} in this home")
            values = Measurement(**raw)
            self._take_once(f"control:{path.name}", address, values)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("measurement request %s refused: %s", path.name, exc)
            with contextlib.suppress(OSError):
                path.rename(path.with_suffix(".refused"))
            return
        path.unlink(missing_ok=True)


def write_request(control_dir: Path, name: str, address: str, **values: Any) -> Path:
    """Ask a running home (another process) to take a measurement: written atomically, picked up in ~20 ms."""
    control_dir.mkdir(parents=True, exist_ok=True)
    tmp = control_dir / f".{name}.tmp"
    tmp.write_text(json.dumps({"address": address, **values}), encoding="utf-8")
    target = control_dir / f"{name}.json"
    tmp.replace(target)
    return target
