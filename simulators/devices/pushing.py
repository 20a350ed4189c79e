"""Devices that push their stored measurements once subscribed: cuffs and scales.

Behaviour from the profile: `device_pushes` sends every unsent record, `latest_only` only the newest;
`device_waits_for_clock` holds everything until the hub wrote the clock (A&D); with
`device_disconnects_after_sending` the device hangs up when done. A record counts as sent only when the
indication was confirmed, so a record sent before the hub subscribed (fault `send_before_subscribe`) is sent
again later instead of being lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from firmware_profiles import RecordStrategy
from gateway.ble.codec.blood_pressure import (
    BloodPressureMeasurement,
    BloodPressureStatus,
    PressureUnit,
    encode_blood_pressure_measurement,
)
from gateway.ble.codec.units import MeasurementSystem
from gateway.ble.codec.weight import WeightMeasurement, encode_weight_measurement
from simulators.devices.base import ProfiledDevice


@dataclass
class StoredRecord:
    payload: bytes
    taken_at: datetime
    """True (simulated UTC) time of the measurement, for tests to compare with `measured_at`."""
    sent: bool = False


class PushingDevice(ProfiledDevice):
    """Base of cuffs and scales: a memory of records and the push-on-subscribe behaviour."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.records: list[StoredRecord] = []
        self._clock_written = False
        self._sending = False

    def has_records(self) -> bool:
        return bool(self.records)

    def store(self, payload: bytes, taken_at: datetime) -> StoredRecord:
        record = StoredRecord(payload, taken_at)
        self.records.append(record)
        self.start_advertising()
        return record

    def _due(self) -> list[StoredRecord]:
        unsent = [r for r in self.records if not r.sent]
        if self.profile.records.strategy is RecordStrategy.LATEST_ONLY:
            return unsent[-1:]
        return unsent

    # firmware hooks

    async def on_connect(self) -> None:
        self._clock_written = False
        if self.faults.send_before_subscribe:
            await self._send()  # before connect() returns on the hub side: nobody can be subscribed yet

    def on_subscribe(self, uuid: str) -> None:
        if uuid == self.measurement_uuid and not self.profile.records.device_waits_for_clock:
            self.spawn(self._send(), name="send")

    def on_clock_written(self) -> None:
        self._clock_written = True
        if self.profile.records.device_waits_for_clock and self.link is not None:
            self.spawn(self._send(), name="send-after-clock")

    async def _send(self) -> None:
        if self._sending:
            return
        self._sending = True
        try:
            due = self._due()
            for record in due:
                if await self.notify(self.measurement_uuid, self.on_air(record.payload)):
                    record.sent = True
            if self.profile.records.strategy is RecordStrategy.LATEST_ONLY:
                for record in self.records:
                    record.sent = record.sent or bool(due and due[-1].sent)
        finally:
            self._sending = False
        if (
            self.profile.link.device_disconnects_after_sending
            and due
            and all(r.sent for r in due)
            and self.link is not None
        ):
            await self.disconnect()


class SimBloodPressureCuff(PushingDevice):
    """A BLS cuff; `measure()` stores a reading stamped by the device clock."""

    def measure(
        self,
        systolic: float,
        diastolic: float,
        pulse: float | None = 70.0,
        *,
        at: datetime | None = None,
        user_id: int | None = 1,
        status: BloodPressureStatus | None = None,
        unit: PressureUnit = PressureUnit.MMHG,
    ) -> StoredRecord:
        taken = at if at is not None else self.clock.sim.wallclock()
        mean = round((systolic + 2 * diastolic) / 3)
        value = BloodPressureMeasurement(
            unit,
            systolic,
            diastolic,
            mean,
            self.stamp(taken),
            pulse,
            user_id,
            status if status is not None else BloodPressureStatus(),
        )
        return self.store(encode_blood_pressure_measurement(value), taken)


class SimScale(PushingDevice):
    """A WSS scale; `step_on()` stores a weighing stamped by the device clock."""

    def step_on(
        self,
        weight_kg: float,
        *,
        at: datetime | None = None,
        bmi: float | None = None,
        height_m: float | None = None,
        user_id: int | None = None,
    ) -> StoredRecord:
        taken = at if at is not None else self.clock.sim.wallclock()
        value = WeightMeasurement(MeasurementSystem.SI, weight_kg, self.stamp(taken), user_id, bmi, height_m)
        return self.store(encode_weight_measurement(value), taken)
