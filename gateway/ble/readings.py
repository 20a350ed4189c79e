"""Decoded characteristic values -> contract readings (canonical units, corrected time, deterministic id).

A value that is no patient reading (control solution, NaN/NRes, a failed weighing, a value the contract
refuses) becomes a `Discarded` with the reason, which the session reports as an event; it never becomes a
reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from broker.contract.identity import reading_id_for, reading_identity
from broker.contract.readings import (
    BloodPressureReading,
    DeviceRef,
    GlucoseReading,
    GlucoseSpecimen,
    Meal,
    ReadingKind,
    SampleLocation,
    StatusFlag,
    WeightReading,
)
from broker.units import GlucoseUnit, MassUnit, PressureUnit
from gateway.ble.clock import LocalTime, correct_time
from gateway.ble.codec.blood_pressure import BloodPressureMeasurement, PulseRateRange
from gateway.ble.codec.blood_pressure import PressureUnit as CodecPressureUnit
from gateway.ble.codec.glucose import GlucoseLocation, GlucoseMeasurement
from gateway.ble.codec.glucose import GlucoseUnit as CodecGlucoseUnit
from gateway.ble.codec.glucose_context import GlucoseContext
from gateway.ble.codec.units import MeasurementSystem
from gateway.ble.codec.weight import WeightMeasurement

AnyReading = BloodPressureReading | GlucoseReading | WeightReading

_LOCATIONS: Final = {
    GlucoseLocation.FINGER: SampleLocation.FINGER,
    GlucoseLocation.ALTERNATE_SITE_TEST: SampleLocation.ALTERNATE_SITE,
    GlucoseLocation.EARLOBE: SampleLocation.EARLOBE,
    GlucoseLocation.NOT_AVAILABLE: SampleLocation.NOT_AVAILABLE,
}
_SPECIMENS: Final = {specimen.value: specimen for specimen in GlucoseSpecimen}
_MEALS: Final = {meal.value: meal for meal in Meal}


@dataclass(frozen=True, slots=True)
class Discarded:
    """A record that is not a patient reading, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class ReadingContext:
    """What the session knows when a value arrives."""

    device: DeviceRef
    received_at: datetime
    offset_s: float | None
    local: LocalTime


def _time_fields(device_time: datetime | None, ctx: ReadingContext) -> dict[str, object]:
    corrected = correct_time(device_time, ctx.received_at, ctx.offset_s, ctx.local)
    return {
        "measured_at": corrected.measured_at,
        "time_source": corrected.time_source,
        "clock_offset_s": corrected.clock_offset_s,
        "device_time": device_time,
        "received_at": ctx.received_at,
    }


def _reading_id(
    ctx: ReadingContext,
    kind: ReadingKind,
    sequence: int | None,
    device_time: datetime | None,
    values: dict[str, float | None],
) -> object:
    identity = reading_identity(
        sequence=sequence, device_time=device_time, values=values, received_at=ctx.received_at
    )
    return reading_id_for(ctx.device.device_id, kind.value, identity)


def _bp_flags(value: BloodPressureMeasurement) -> tuple[str, ...]:
    status = value.status
    if status is None:
        return ()
    flags = [
        name
        for name, on in (
            (StatusFlag.BODY_MOVEMENT, status.body_movement),
            (StatusFlag.CUFF_TOO_LOOSE, status.cuff_too_loose),
            (StatusFlag.IRREGULAR_PULSE, status.irregular_pulse),
            (StatusFlag.IMPROPER_POSITION, status.improper_position),
        )
        if on
    ]
    if status.pulse_rate_range is PulseRateRange.ABOVE_UPPER_LIMIT:
        flags.append(StatusFlag.PULSE_ABOVE_RANGE)
    elif status.pulse_rate_range is PulseRateRange.BELOW_LOWER_LIMIT:
        flags.append(StatusFlag.PULSE_BELOW_RANGE)
    return tuple(flag.value for flag in flags)


def blood_pressure_reading(value: BloodPressureMeasurement, ctx: ReadingContext) -> AnyReading | Discarded:
    if value.systolic_mmhg is None or value.diastolic_mmhg is None:
        return Discarded("blood pressure without systolic or diastolic value (SFLOAT NaN/NRes)")
    device_time = value.measured_at
    values = {
        "systolic_mmhg": value.systolic_mmhg,
        "diastolic_mmhg": value.diastolic_mmhg,
        "mean_arterial_mmhg": value.mean_arterial_mmhg,
        "pulse_bpm": value.pulse_bpm,
    }
    unit = PressureUnit.KPA if value.unit is CodecPressureUnit.KPA else PressureUnit.MMHG
    return _build(
        BloodPressureReading,
        reading_id=_reading_id(ctx, ReadingKind.BLOOD_PRESSURE, None, device_time, values),
        device=ctx.device,
        user_index=value.user_index,
        status=_bp_flags(value),
        device_unit=unit,
        **values,
        **_time_fields(device_time, ctx),
    )


def glucose_reading(
    value: GlucoseMeasurement, context: GlucoseContext | None, ctx: ReadingContext
) -> AnyReading | Discarded:
    if value.is_control_solution:
        return Discarded(f"glucose record {value.sequence} is a control-solution test")
    mg_dl = value.patient_value_mg_dl
    if mg_dl is None:
        return Discarded(f"glucose record {value.sequence} has no concentration (absent or NaN/NRes)")
    device_time = value.measured_at
    specimen = _SPECIMENS.get(value.sample_type.label) if value.sample_type is not None else None
    location = _LOCATIONS.get(value.sample_location) if value.sample_location is not None else None
    meal = _MEALS.get(context.meal.label) if context is not None and context.meal is not None else None
    status = value.sensor_status
    flags = tuple(name for name, on in status.as_dict().items() if on) if status is not None else ()
    unit = GlucoseUnit.MMOL_L if value.unit is CodecGlucoseUnit.MOL_PER_L else GlucoseUnit.KG_L
    return _build(
        GlucoseReading,
        reading_id=_reading_id(
            ctx, ReadingKind.GLUCOSE, value.sequence, device_time, {"glucose_mg_dl": mg_dl}
        ),
        device=ctx.device,
        sequence=value.sequence,
        glucose_mg_dl=mg_dl,
        device_unit=unit,
        specimen=specimen,
        sample_location=location,
        meal=meal,
        status=flags,
        **_time_fields(device_time, ctx),
    )


def weight_reading(value: WeightMeasurement, ctx: ReadingContext) -> AnyReading | Discarded:
    if value.weight_kg is None:
        return Discarded("the scale reported an unsuccessful measurement (0xFFFF)")
    device_time = value.measured_at
    values = {"weight_kg": value.weight_kg, "bmi": value.bmi, "height_m": value.height_m}
    unit = MassUnit.KG if value.unit is MeasurementSystem.SI else MassUnit.LB
    return _build(
        WeightReading,
        reading_id=_reading_id(ctx, ReadingKind.WEIGHT, None, device_time, values),
        device=ctx.device,
        user_index=value.user_index,
        device_unit=unit,
        **values,
        **_time_fields(device_time, ctx),
    )


def _build(model: type[AnyReading], **fields: object) -> AnyReading | Discarded:
    """Validate against the contract; a value it refuses (zero, negative, out of range) is discarded."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return Discarded(f"the contract refuses the value: {problems}")


def device_time_of(value: object) -> datetime | None:
    """The raw device time stamp of a decoded measurement, if it has one."""
    measured_at = getattr(value, "measured_at", None)
    return measured_at if isinstance(measured_at, datetime) else None


def to_reading(
    value: object, context: GlucoseContext | None, ctx: ReadingContext
) -> AnyReading | Discarded | None:
    """The reading for a decoded measurement; None for values that are not measurements (cuff progress)."""
    if isinstance(value, GlucoseMeasurement):
        return glucose_reading(value, context, ctx)
    if isinstance(value, BloodPressureMeasurement):
        return blood_pressure_reading(value, ctx)
    if isinstance(value, WeightMeasurement):
        return weight_reading(value, ctx)
    return None
