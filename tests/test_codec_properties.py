"""Property tests over every registered characteristic: encode->decode round trips, and fuzzing that only ever
decodes or raises `DecodeError` (arbitrary bytes, strict prefixes of valid payloads, bit flips)."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.ble.codec import (
    CHARACTERISTICS,
    AdjustReason,
    BatteryLevel,
    BloodPressureMeasurement,
    BloodPressureStatus,
    BodyComposition,
    CurrentTime,
    DecodeError,
    DeviceDateTime,
    DeviceInfoField,
    DeviceInformationString,
    GlucoseContext,
    GlucoseLocation,
    GlucoseMeasurement,
    GlucoseSensorStatus,
    GlucoseType,
    GlucoseUnit,
    IntermediateCuffPressure,
    MeasurementSystem,
    MedicationUnit,
    PnpId,
    PressureUnit,
    RacpFilterType,
    RacpOpcode,
    RacpOperator,
    RacpRecordCount,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    SystemId,
    VendorIdSource,
    WeightMeasurement,
    decode_sfloat,
)
from gateway.ble.codec.body_composition import _OPTIONAL_U16
from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.glucose_context import CarbohydrateId, Health, Meal, MedicationId, SampleTester
from gateway.ble.codec.units import HEIGHT_SCALE, MASS_SCALE

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
sfloats = u16.map(decode_sfloat)
finite_sfloats = sfloats.filter(lambda value: value is not None)
trailing = st.binary(max_size=4)


def _date_time(moment: datetime) -> DeviceDateTime:
    return DeviceDateTime.from_datetime(moment)


def _unknown(year: int, month: int, day: int, clock: tuple[int, int, int], which: str) -> DeviceDateTime:
    parts = {"year": year, "month": month, "day": day} | {which: 0}
    return DeviceDateTime(parts["year"], parts["month"], parts["day"], *clock)


clocks = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
date_times = st.one_of(
    st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
        _date_time
    ),
    st.builds(
        _unknown,
        st.integers(1582, 9999),
        st.integers(1, 12),
        st.integers(1, 28),
        clocks,
        st.sampled_from(["year", "month", "day"]),
    ),
)
optional_time = st.none() | date_times
optional_user = st.none() | u8
bp_status = st.none() | st.integers(0, 0x3F).map(BloodPressureStatus.from_raw)

blood_pressure = st.builds(
    BloodPressureMeasurement,
    unit=st.sampled_from(PressureUnit),
    systolic=sfloats,
    diastolic=sfloats,
    mean_arterial=sfloats,
    time_stamp=optional_time,
    pulse_rate=sfloats,
    user_id=optional_user,
    status=bp_status,
    trailing=trailing,
)
cuff_pressure = st.builds(
    IntermediateCuffPressure,
    unit=st.sampled_from(PressureUnit),
    cuff_pressure=sfloats,
    time_stamp=optional_time,
    pulse_rate=sfloats,
    user_id=optional_user,
    status=bp_status,
    trailing=trailing,
)


@st.composite
def glucose(draw: st.DrawFn) -> GlucoseMeasurement:
    block = draw(st.none() | st.tuples(sfloats, st.integers(0, 15), st.integers(0, 15)))
    base_time = draw(
        st.datetimes(min_value=datetime(1582, 2, 1), max_value=datetime(9999, 11, 30)).map(_date_time)
        | date_times.filter(lambda value: not value.is_known)
    )
    return GlucoseMeasurement(
        sequence=draw(u16),
        base_time=base_time,
        unit=draw(st.sampled_from(GlucoseUnit)),
        time_offset_minutes=draw(st.none() | st.integers(-0x8000, 0x7FFF)),
        concentration=block[0] if block else None,
        sample_type=GlucoseType(block[1]) if block else None,
        sample_location=GlucoseLocation(block[2]) if block else None,
        sensor_status=draw(st.none() | st.integers(0, 0x0FFF).map(GlucoseSensorStatus.from_raw)),
        context_follows=draw(st.booleans()),
        trailing=draw(trailing),
    )


@st.composite
def glucose_context(draw: st.DrawFn) -> GlucoseContext:
    carbs = draw(st.none() | st.tuples(u8, sfloats))
    tester_health = draw(st.none() | st.tuples(st.integers(0, 15), st.integers(0, 15)))
    exercise = draw(st.none() | st.tuples(u16, u8))
    medication = draw(st.none() | st.tuples(u8, sfloats))
    return GlucoseContext(
        sequence=draw(u16),
        extended_flags=draw(st.none() | u8),
        carbohydrate_id=CarbohydrateId(carbs[0]) if carbs else None,
        carbohydrate_kg=carbs[1] if carbs else None,
        meal=draw(st.none() | u8.map(Meal)),
        tester=SampleTester(tester_health[0]) if tester_health else None,
        health=Health(tester_health[1]) if tester_health else None,
        exercise_duration_s=exercise[0] if exercise else None,
        exercise_intensity_percent=exercise[1] if exercise else None,
        medication_id=MedicationId(medication[0]) if medication else None,
        medication=medication[1] if medication else None,
        medication_unit=draw(st.sampled_from(MedicationUnit)),
        hba1c_percent=draw(finite_sfloats | st.none()),
        trailing=draw(trailing),
    )


def _bound(filter_type: RacpFilterType) -> st.SearchStrategy[Any]:
    return u16 if filter_type is RacpFilterType.SEQUENCE_NUMBER else date_times


@st.composite
def racp_request(draw: st.DrawFn) -> RacpRequest:
    opcode = draw(st.sampled_from([1, 2, 3, 4]).map(RacpOpcode))
    if opcode is RacpOpcode.ABORT_OPERATION:
        return RacpRequest(opcode, RacpOperator.NULL, trailing=draw(trailing))
    operator = RacpOperator(draw(st.integers(1, 6)))
    if operator in (RacpOperator.ALL_RECORDS, RacpOperator.FIRST_RECORD, RacpOperator.LAST_RECORD):
        return RacpRequest(opcode, operator, trailing=draw(trailing))
    filter_type = draw(st.sampled_from(RacpFilterType))
    minimum = maximum = None
    if operator in (RacpOperator.GREATER_THAN_OR_EQUAL_TO, RacpOperator.WITHIN_RANGE_OF):
        minimum = draw(_bound(filter_type))
    if operator in (RacpOperator.LESS_THAN_OR_EQUAL_TO, RacpOperator.WITHIN_RANGE_OF):
        maximum = draw(_bound(filter_type))
    return RacpRequest(opcode, operator, filter_type, minimum, maximum, draw(trailing))


racp = st.one_of(
    racp_request(),
    st.builds(RacpRecordCount, u16, trailing),
    st.builds(RacpResponse, u8.map(RacpOpcode), u8.map(RacpResponseCode), trailing),
)


def _scaled(raw: int, scale: tuple[int, int]) -> float:
    return raw * scale[0] / scale[1]


@st.composite
def weight(draw: st.DrawFn) -> WeightMeasurement:
    unit = draw(st.sampled_from(MeasurementSystem))
    bmi_height = draw(st.none() | st.tuples(u16, u16))
    raw_weight = draw(st.none() | st.integers(0, 0xFFFE))
    return WeightMeasurement(
        unit=unit,
        weight=None if raw_weight is None else _scaled(raw_weight, MASS_SCALE[unit]),
        time_stamp=draw(optional_time),
        user_id=draw(optional_user),
        bmi=bmi_height[0] / 10 if bmi_height else None,
        height=_scaled(bmi_height[1], HEIGHT_SCALE[unit]) if bmi_height else None,
        trailing=draw(trailing),
    )


@st.composite
def body_composition(draw: st.DrawFn) -> BodyComposition:
    unit = draw(st.sampled_from(MeasurementSystem))
    scales = {"int": (1, 1), "tenths": (1, 10), "mass": MASS_SCALE[unit], "height": HEIGHT_SCALE[unit]}
    optional: dict[str, Any] = {}
    for _, name, kind in _OPTIONAL_U16:
        raw = draw(st.none() | u16)
        optional[name] = None if raw is None else (raw if kind == "int" else _scaled(raw, scales[kind]))
    raw_fat = draw(st.none() | st.integers(0, 0xFFFE))
    return BodyComposition(
        unit=unit,
        body_fat_percent=None if raw_fat is None else raw_fat / 10,
        time_stamp=draw(optional_time),
        user_id=draw(optional_user),
        multiple_packets=draw(st.booleans()),
        trailing=draw(trailing),
        **optional,
    )


current_time = st.builds(
    CurrentTime,
    date_times,
    st.integers(0, 7),
    u8,
    st.integers(0, 15).map(AdjustReason.from_raw),
    trailing,
)
text = st.text().filter(lambda value: not value.endswith("\x00"))


def _dis(field: DeviceInfoField) -> st.SearchStrategy[DeviceInformationString]:
    return text.map(lambda value: DeviceInformationString(field, value))


STRATEGIES: dict[int, st.SearchStrategy[Any]] = {
    0x2A35: blood_pressure,
    0x2A36: cuff_pressure,
    0x2A18: glucose(),
    0x2A34: glucose_context(),
    0x2A52: racp,
    0x2A9D: weight(),
    0x2A9C: body_composition(),
    0x2A08: st.builds(lambda value, extra: DeviceDateTime(*_fields(value), extra), date_times, trailing),
    0x2A2B: current_time,
    0x2A19: st.builds(BatteryLevel, st.integers(0, 100), trailing),
    0x2A23: st.builds(SystemId, st.integers(0, 2**40 - 1), st.integers(0, 2**24 - 1), trailing),
    0x2A50: st.builds(PnpId, u8.map(VendorIdSource), u16, u16, u16, trailing),
    **{field.value: _dis(field) for field in DeviceInfoField},
}


def _fields(value: DeviceDateTime) -> tuple[int, ...]:
    return (value.year, value.month, value.day, value.hours, value.minutes, value.seconds)


BY_LABEL = [pytest.param(characteristic, id=characteristic.label) for characteristic in CHARACTERISTICS]
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_characteristic_has_a_strategy() -> None:
    assert {characteristic.uuid16 for characteristic in CHARACTERISTICS} == set(STRATEGIES)


@pytest.mark.parametrize("characteristic", BY_LABEL)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_round_trip(characteristic: Characteristic[Any], data: st.DataObject) -> None:
    value = data.draw(STRATEGIES[characteristic.uuid16])
    assert characteristic.decode(characteristic.encode(value)) == value


@pytest.mark.parametrize("characteristic", BY_LABEL)
@PROPERTY_SETTINGS
@given(payload=st.binary(max_size=40))
def test_arbitrary_bytes_decode_or_raise_decode_error(
    characteristic: Characteristic[Any], payload: bytes
) -> None:
    with contextlib.suppress(DecodeError):
        characteristic.decode(payload)


@pytest.mark.parametrize("characteristic", BY_LABEL)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_strict_prefixes_of_valid_payloads_never_decode_partially(
    characteristic: Characteristic[Any], data: st.DataObject
) -> None:
    value = data.draw(STRATEGIES[characteristic.uuid16])
    if hasattr(value, "trailing"):
        value = dataclasses.replace(value, trailing=b"")
    payload = characteristic.encode(value)
    cut = data.draw(st.integers(0, max(len(payload) - 1, 0)))
    if isinstance(value, DeviceInformationString):
        with contextlib.suppress(DecodeError):  # a prefix of a string is a string, unless UTF-8 is cut
            characteristic.decode(payload[:cut])
        return
    with pytest.raises(DecodeError):
        characteristic.decode(payload[:cut])


@pytest.mark.parametrize("characteristic", BY_LABEL)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_mutated_valid_payloads_decode_or_raise_decode_error(
    characteristic: Characteristic[Any], data: st.DataObject
) -> None:
    payload = bytearray(characteristic.encode(data.draw(STRATEGIES[characteristic.uuid16])))
    if payload:
        index = data.draw(st.integers(0, len(payload) - 1))
        payload[index] ^= data.draw(st.integers(1, 255))
    payload += data.draw(st.binary(max_size=3))
    with contextlib.suppress(DecodeError):
        characteristic.decode(bytes(payload))
