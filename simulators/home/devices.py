"""The home's devices: the profile-built simulated cuffs, meters and scales, with a memory that survives
restarts of the home process and the advertising habits of real devices.

Real health devices advertise when they have something to send (after a measurement) and stop once it was
collected; these do the same, so the hub connects only when there is news (a device that advertised all the
time would be collected again every cooldown). A meter also advertises when the home starts, since a hub that
crashed mid-transfer has records left to fetch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from broker.contract.readings import ReadingKind
from firmware_profiles import Profile
from gateway.ble.codec.glucose import decode_glucose_measurement, encode_glucose_measurement
from gateway.ble.codec.glucose_context import Meal, decode_glucose_context, encode_glucose_context
from simulators.ble import SimClock
from simulators.devices import (
    DeviceClock,
    GlucoseRecord,
    ProfiledDevice,
    SimBloodPressureCuff,
    SimGlucometer,
    SimScale,
    StoredRecord,
)
from simulators.devices.pushing import PushingDevice
from simulators.home.memory import ClockMemory, DeviceMemory, RecordMemory
from simulators.home.spec import DeviceSpec, Measurement

Changed = Callable[[], None]


class HomeClock(DeviceClock):
    """A `DeviceClock` restored from memory (offset, and the instant drift is counted from)."""

    def __init__(self, sim: SimClock, *, zone: tzinfo, drift_ppm: float, memory: ClockMemory) -> None:
        super().__init__(sim, zone=zone, offset_s=memory.offset_s, drift_ppm=drift_ppm)
        self._since = memory.since
        self.sets = memory.sets

    def remembered(self) -> ClockMemory:
        return ClockMemory(self.offset_s, self._since, self.sets)


class _Remembering:
    """Mixed into a simulated device: reports every change of its memory to the home, which saves it."""

    changed: Changed = staticmethod(lambda: None)
    memory_records: list[RecordMemory]

    def on_clock_written(self) -> None:
        super().on_clock_written()  # type: ignore[misc]
        self.changed()

    def pending(self) -> bool:
        """Anything the hub has not collected yet (push devices); meters cannot tell, so: any record."""
        return any(not r.sent for r in self.memory_records)

    def on_disconnect(self, reason: str) -> None:
        if self.pending():
            self.start_advertising()  # type: ignore[attr-defined]
        self.changed()


class _HomePushing(_Remembering):
    """Cuffs and scales: a record counts as sent the moment its indication was confirmed."""

    records: list[StoredRecord]

    async def notify(self, uuid: str, data: bytes) -> bool:
        delivered: bool = await super().notify(uuid, data)  # type: ignore[misc]
        if delivered and uuid == self.measurement_uuid:  # type: ignore[attr-defined]
            for record, memory in zip(self.records, self.memory_records, strict=True):
                if not record.sent and record.payload == data:
                    record.sent = memory.sent = True
                    break
            self.changed()
        return delivered

    def remember_sent(self) -> None:
        """`latest_only` devices mark older records sent without indicating them."""
        for record, memory in zip(self.records, self.memory_records, strict=True):
            memory.sent = record.sent


class HomeCuff(_HomePushing, SimBloodPressureCuff):
    pass


class HomeScale(_HomePushing, SimScale):
    pass


class HomeMeter(_Remembering, SimGlucometer):
    """Advertises after a measurement until its newest record went out (a measurement taken while the hub was
    still connected, after the transfer, must not wait for the next one)."""

    notified: set[bytes]

    async def notify(self, uuid: str, data: bytes) -> bool:
        delivered: bool = await super().notify(uuid, data)
        if delivered and uuid == self.measurement_uuid:
            self.notified.add(data)
        return delivered

    def pending(self) -> bool:
        if not self.records:
            return False
        return encode_glucose_measurement(self.records[-1].measurement) not in self.notified


HOME_CLASSES: dict[ReadingKind, type[ProfiledDevice]] = {
    ReadingKind.BLOOD_PRESSURE: HomeCuff,
    ReadingKind.GLUCOSE: HomeMeter,
    ReadingKind.WEIGHT: HomeScale,
}


def build_device(
    spec: DeviceSpec, profile: Profile, sim: SimClock, zone: tzinfo, memory: DeviceMemory, changed: Changed
) -> ProfiledDevice:
    """The simulated device of `spec`, holding the records and clock of `memory`."""
    clock = HomeClock(sim, zone=zone, drift_ppm=spec.drift_ppm, memory=memory.clock)
    kind = profile.kinds[0]
    extra: dict[str, Any] = (
        {"record_interval_s": spec.record_interval_s} if kind is ReadingKind.GLUCOSE else {}
    )
    device: Any = HOME_CLASSES[kind](
        profile,
        spec.address,
        clock,
        serial=spec.serial,
        name=spec.name,
        battery_pct=spec.battery_pct,
        passkey=spec.passkey,
        **extra,
    )
    device.memory_records = memory.records
    device.garbage_records = memory.garbage_left
    device.changed = changed
    device.resume_advertising_on_disconnect = False
    if isinstance(device, HomeMeter):
        device.records = [
            GlucoseRecord(
                r.sequence or 0,
                decode_glucose_measurement(bytes.fromhex(r.payload)),
                decode_glucose_context(bytes.fromhex(r.context)) if r.context else None,
                r.taken_at,
            )
            for r in memory.records
        ]
        device.next_sequence = memory.next_sequence
        device.notified = set()
        device.advertising = bool(device.records)
    else:
        device.records = [StoredRecord(bytes.fromhex(r.payload), r.taken_at, r.sent) for r in memory.records]
        device.advertising = any(not r.sent for r in memory.records)
    return device


def take(device: ProfiledDevice, values: Measurement, at: datetime) -> RecordMemory:
    """The simulated patient measures: the device stores (and advertises) the record, stamped by its clock."""
    kind = device.profile.kinds[0]
    values.check(kind)
    wanted = values.model_dump(exclude_none=True, exclude_defaults=True)
    if isinstance(device, SimBloodPressureCuff):
        assert values.systolic is not None
        assert values.diastolic is not None
        stored = device.measure(values.systolic, values.diastolic, values.pulse, at=at)
        record = RecordMemory(at, stored.payload.hex(), wanted)
    elif isinstance(device, SimScale):
        assert values.weight_kg is not None
        stored = device.step_on(values.weight_kg, at=at)
        record = RecordMemory(at, stored.payload.hex(), wanted)
    else:
        assert isinstance(device, SimGlucometer)
        assert values.mg_dl is not None
        meal = Meal[values.meal.upper()] if values.meal else None
        glucose = device.measure(values.mg_dl, at=at, meal=meal, control_solution=values.control_solution)
        record = RecordMemory(
            at,
            encode_glucose_measurement(glucose.measurement).hex(),
            wanted,
            sequence=glucose.sequence,
            context=encode_glucose_context(glucose.context).hex() if glucose.context else None,
        )
    device.memory_records.append(record)  # type: ignore[attr-defined]
    return record


def device_memory(device: ProfiledDevice) -> DeviceMemory:
    """The device's memory as it is now (clock, records, sent flags, next sequence, garbage left)."""
    records: list[RecordMemory] = device.memory_records  # type: ignore[attr-defined]
    if isinstance(device, HomeMeter):
        kept = {r.sequence for r in device.records}
        records[:] = [r for r in records if r.sequence in kept]  # a meter may delete delivered records
    elif isinstance(device, _HomePushing):
        device.remember_sent()
    assert isinstance(device.clock, HomeClock)
    next_sequence = device.next_sequence if isinstance(device, SimGlucometer) else 1
    return DeviceMemory(device.clock.remembered(), records, next_sequence, device.garbage_records)


__all__ = ["HomeClock", "HomeCuff", "HomeMeter", "HomeScale", "PushingDevice", "build_device", "take"]
