"""A hub's BLE side wired to a simulated air: shared scanner, session config, state store and sinks.

Scenarios and tests use it to run the hub's real session code against simulated devices and to count what
reached the sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from firmware_profiles import Profile, ProfileSet, load_profiles
from gateway.ble.clock import LocalTime
from gateway.ble.connector import RetryPolicy
from gateway.ble.coordinator import ConnectionSlots, SessionCoordinator
from gateway.ble.events import DeviceEvent
from gateway.ble.readings import AnyReading
from gateway.ble.scanner import SharedScanner, Sighting
from gateway.ble.session import DeviceSession, SessionConfig, SessionResult
from gateway.ble.state import InMemoryDeviceStateStore
from gateway.ble.status import DeviceStatus
from simulators.ble import SimulatedAir

FAST_RETRY = RetryPolicy(
    max_attempts=3,
    connect_timeout=5.0,
    safety_timeout=10.0,
    transient_backoff=0.01,
    timeout_backoff=0.01,
    busy_backoff=0.05,
    not_found_backoff=0.05,
)
"""Simulated links fail instantly, so the production waits would only slow the tests down."""


@dataclass
class HubRig:
    air: SimulatedAir
    profiles: ProfileSet
    zone: tzinfo
    store: InMemoryDeviceStateStore = field(default_factory=InMemoryDeviceStateStore)
    readings: list[AnyReading] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    statuses: list[DeviceStatus] = field(default_factory=list)
    retry: RetryPolicy = FAST_RETRY

    @classmethod
    def create(cls, air: SimulatedAir, zone: tzinfo, profiles: ProfileSet | None = None) -> HubRig:
        return cls(air, profiles if profiles is not None else load_profiles(), zone)

    @property
    def config(self) -> SessionConfig:
        return SessionConfig(
            local_time=LocalTime(self.zone),
            clock=self.air.clock.wallclock,
            retry=self.retry,
            client_backend=self.air.client_backend,
        )

    def scanner(self) -> SharedScanner:
        return SharedScanner(backend=self.air.scanner_backend, clock=self.air.clock.wallclock)

    async def on_reading(self, reading: AnyReading) -> None:
        self.readings.append(reading)

    def on_event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    def on_status(self, status: DeviceStatus) -> None:
        self.statuses.append(status)

    def session(self, sighting: Sighting, profile: Profile) -> DeviceSession:
        return DeviceSession(
            sighting,
            profile,
            store=self.store,
            on_reading=self.on_reading,
            on_event=self.on_event,
            on_status=self.on_status,
            config=self.config,
        )

    async def sight(self, scanner: SharedScanner, address: str, timeout: float = 5.0) -> Sighting:
        return await scanner.wait_for(lambda s: s.address == address.upper(), timeout)

    async def collect(self, address: str, profile: Profile, timeout: float = 5.0) -> SessionResult:
        """Scan until the device advertises, run one session with it, stop scanning."""
        async with self.scanner() as scanner:
            sighting = await self.sight(scanner, address, timeout)
        return await self.session(sighting, profile).run()

    def coordinator(self, slots: int, **kwargs: object) -> SessionCoordinator:
        return SessionCoordinator(
            self.profiles,
            store=self.store,
            on_reading=self.on_reading,
            on_event=self.on_event,
            on_status=self.on_status,
            config=self.config,
            slots=ConnectionSlots(slots),
            **kwargs,  # type: ignore[arg-type]
        )
