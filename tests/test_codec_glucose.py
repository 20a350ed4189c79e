"""Glucose Measurement 0x2A18 and Measurement Context 0x2A34: golden bytes from the GLS layout.

Expected values are worked out by hand from the specification (comments show the arithmetic).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.ble.codec import (
    CarbohydrateId,
    DecodeError,
    GlucoseLocation,
    GlucoseSensorStatus,
    GlucoseType,
    GlucoseUnit,
    Health,
    Meal,
    MedicationId,
    MedicationUnit,
    SampleTester,
    decode_glucose_context,
    decode_glucose_measurement,
)

SEQUENCE = bytes.fromhex("02 01")  # 0x0102 = 258
BASE_TIME = bytes.fromhex("E8 07 03 0F 08 1E 2D")  # 2024-03-15 08:30:45
TIME_OFFSET = bytes.fromhex("F1 FF")  # s16 -15 minutes -> 08:15:45
# 0xB05F: exponent 0xB = -5, mantissa 0x05F = 95 -> 95 x 10^-5 = 0.00095
#   kg/L: x 100000 = 95.0 mg/dL;  mol/L: 0.95 mmol/L x 18.016 = 17.1152 -> 17.1 mg/dL
CONCENTRATION = bytes.fromhex("5F B0 12")  # type/location 0x12: location 1 finger, type 2 capillary plasma
STATUS = bytes.fromhex("21 00")  # bit 0 battery low + bit 5 result higher than the device can process


@pytest.mark.parametrize("flags", range(32), ids=lambda flags: f"flags-0x{flags:02X}")
def test_every_flag_combination(flags: int) -> None:
    payload = bytes([flags]) + SEQUENCE + BASE_TIME
    payload += TIME_OFFSET if flags & 0x01 else b""
    payload += CONCENTRATION if flags & 0x02 else b""
    payload += STATUS if flags & 0x08 else b""

    record = decode_glucose_measurement(payload)

    assert record.sequence == 258
    assert record.unit is (GlucoseUnit.MOL_PER_L if flags & 0x04 else GlucoseUnit.KG_PER_L)
    assert record.measured_at == (
        datetime(2024, 3, 15, 8, 15, 45) if flags & 0x01 else datetime(2024, 3, 15, 8, 30, 45)
    )
    assert record.time_offset_minutes == (-15 if flags & 0x01 else None)
    if flags & 0x02:
        assert record.concentration == 0.00095
        assert record.glucose_mg_dl == (17.1 if flags & 0x04 else 95.0)
        assert record.patient_value_mg_dl == record.glucose_mg_dl
        assert record.sample_type is GlucoseType.CAPILLARY_PLASMA
        assert record.sample_location is GlucoseLocation.FINGER
    else:
        assert record.glucose_mg_dl is None
        assert record.sample_type is None
        assert record.sample_location is None
    assert record.sensor_status == (
        GlucoseSensorStatus(battery_low=True, result_above_range=True) if flags & 0x08 else None
    )
    assert record.context_follows is bool(flags & 0x10)
    assert record.is_control_solution is False


def test_mmol_per_l_golden() -> None:
    # 0xC037: exponent -4, mantissa 55 -> 0.0055 mol/L = 5.5 mmol/L x 18.016 = 99.088 -> 99.1 mg/dL
    record = decode_glucose_measurement(bytes.fromhex("06 01 00") + BASE_TIME + bytes.fromhex("37 C0 11"))
    assert record.glucose_mg_dl == 99.1
    assert record.sample_type is GlucoseType.CAPILLARY_WHOLE_BLOOD


@pytest.mark.parametrize(
    ("type_location", "expected"),
    [
        pytest.param(0x4A, True, id="type-10-location-4"),
        pytest.param(0x1A, True, id="type-10-finger"),
        pytest.param(0x42, True, id="plasma-location-4"),
        pytest.param(0xF2, False, id="plasma-location-not-available"),
    ],
)
def test_control_solution_is_never_a_patient_value(type_location: int, expected: bool) -> None:
    payload = bytes.fromhex("02 01 00") + BASE_TIME + bytes.fromhex("5F B0") + bytes([type_location])
    record = decode_glucose_measurement(payload)
    assert record.is_control_solution is expected
    assert record.glucose_mg_dl == 95.0
    assert record.patient_value_mg_dl == (None if expected else 95.0)


def test_special_concentration_is_no_value() -> None:
    record = decode_glucose_measurement(bytes.fromhex("02 01 00") + BASE_TIME + bytes.fromhex("FF 07 12"))
    assert record.concentration is None
    assert record.glucose_mg_dl is None
    assert record.patient_value_mg_dl is None


@pytest.mark.parametrize("bit", range(12), ids=lambda bit: f"bit-{bit}")
def test_each_sensor_status_bit(bit: int) -> None:
    names = [
        "battery_low",
        "sensor_malfunction",
        "sample_too_small",
        "strip_insertion_error",
        "wrong_strip_type",
        "result_above_range",
        "result_below_range",
        "temperature_too_high",
        "temperature_too_low",
        "read_interrupted",
        "general_fault",
        "time_fault",
    ]
    payload = bytes.fromhex("08 01 00") + BASE_TIME + (1 << bit).to_bytes(2, "little")
    status = decode_glucose_measurement(payload).sensor_status
    assert status == GlucoseSensorStatus(**{names[bit]: True})


def test_reserved_sample_type_is_kept() -> None:
    record = decode_glucose_measurement(bytes.fromhex("02 01 00") + BASE_TIME + bytes.fromhex("5F B0 5B"))
    assert record.sample_type == 11
    assert record.sample_type is not None
    assert record.sample_type.is_reserved
    assert record.sample_location == 5


def test_unknown_base_time_gives_no_measured_at() -> None:
    record = decode_glucose_measurement(bytes.fromhex("01 01 00 00 00 00 00 00 00 00 05 00"))
    assert record.measured_at is None
    assert record.time_offset_minutes == 5


def test_offset_overflowing_year_9999_is_a_decode_error() -> None:
    payload = bytes.fromhex("01 01 00 0F 27 0C 1F 17 3B 3B FF 7F")  # 9999-12-31 23:59:59 + 32767 min
    with pytest.raises(DecodeError, match="offset 10"):
        decode_glucose_measurement(payload)


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        pytest.param("00 01", "0x2A18: expected 2 bytes for sequence at offset 1, got 1", id="sequence"),
        pytest.param(
            "00 01 00 E8 07", "0x2A18: expected 1 byte for base_time.month at offset 5, got 0", id="time"
        ),
        pytest.param(
            "02 01 00 E8 07 03 0F 08 1E 2D 5F B0",
            "0x2A18: expected 1 byte for type_location at offset 12, got 0",
            id="type-location",
        ),
        pytest.param(
            "09 01 00 E8 07 03 0F 08 1E 2D F1 FF 21",
            "0x2A18: expected 2 bytes for sensor_status at offset 12, got 1",
            id="status",
        ),
        pytest.param(
            "00 01 00 E8 07 02 1E 08 1E 2D",
            "0x2A18: base_time.day 30 at offset 6 is out of range (1..29 or 0)",
            id="february-30",
        ),
    ],
)
def test_malformed_measurement(hex_payload: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_glucose_measurement(bytes.fromhex(hex_payload))
    assert str(caught.value) == message


# Context parts, in wire order after flags and sequence (flag bit, bytes, expected attributes):
CONTEXT_PARTS = (
    (0x80, "00", {"extended_flags": 0}),
    # carbohydrate: id 1 breakfast, 0xE006 = 6 x 10^-2 kg = 60 g
    (0x01, "01 06 E0", {"carbohydrate_id": CarbohydrateId.BREAKFAST, "carbohydrate_kg": 0.06}),
    (0x02, "02", {"meal": Meal.POSTPRANDIAL}),
    # tester low nibble 1 self, health high nibble 5 no health issues
    (0x04, "51", {"tester": SampleTester.SELF, "health": Health.NO_HEALTH_ISSUES}),
    # exercise: 0x0708 = 1800 s, intensity 0x32 = 50 %
    (0x08, "08 07 32", {"exercise_duration_s": 1800, "exercise_intensity_percent": 50}),
    # medication: id 1 rapid-acting insulin, 0xA002 = 2 x 10^-6
    (0x10, "01 02 A0", {"medication_id": MedicationId.RAPID_ACTING_INSULIN, "medication": 2e-06}),
    # HbA1c: 0xF041 = 65 x 10^-1 = 6.5 %
    (0x40, "41 F0", {"hba1c_percent": 6.5}),
)


def test_every_context_flag_combination() -> None:
    for flags in range(256):
        payload = bytes([flags]) + bytes.fromhex("2A 00")
        expected: dict[str, object] = {}
        for bit, chunk, attributes in CONTEXT_PARTS:
            payload += bytes.fromhex(chunk) if flags & bit else b""
            expected |= {name: (value if flags & bit else None) for name, value in attributes.items()}
        context = decode_glucose_context(payload)
        assert context.sequence == 42, flags
        for name, value in expected.items():
            assert getattr(context, name) == value, (flags, name)
        assert context.medication_unit is (
            MedicationUnit.LITERS if flags & 0x20 else MedicationUnit.KILOGRAMS
        )
        assert context.trailing == b""


def test_context_carbohydrate_grams() -> None:
    context = decode_glucose_context(bytes.fromhex("01 2A 00 01 06 E0"))
    assert context.carbohydrate_grams == 60.0


def test_context_truncated_medication() -> None:
    with pytest.raises(DecodeError, match=r"^0x2A34: expected 2 bytes for medication at offset 4, got 1$"):
        decode_glucose_context(bytes.fromhex("10 2A 00 01 02"))
