"""Blood Pressure Measurement 0x2A35 and Intermediate Cuff Pressure 0x2A36: golden bytes from the BLS layout.

Expected values are worked out by hand from the specification (comments show the arithmetic), never taken
from the decoder.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.ble.codec import (
    BloodPressureStatus,
    DecodeError,
    PressureUnit,
    PulseRateRange,
    decode_blood_pressure_measurement,
    decode_intermediate_cuff_pressure,
)

# 2024-03-15 08:30:45: year 2024 = 0x07E8 (LE E8 07), month 3, day 15 = 0x0F, 08:30:45 = 08 1E 2D
TIME_STAMP = bytes.fromhex("E8 07 03 0F 08 1E 2D")
MMHG_VALUES = bytes.fromhex("78 00 50 00 5D 00")  # 120, 80, 93 with exponent 0
# kPa: 0xF0B0 = 176 x 10^-1 = 17.6 kPa -> 17.6 x 7.50062 = 132.0109 -> 132.0 mmHg
#      0xF060 = 96 x 10^-1 = 9.6 kPa -> 72.0060 -> 72.0;  0xF07C = 124 x 10^-1 = 12.4 kPa -> 93.0077 -> 93.0
KPA_VALUES = bytes.fromhex("B0 F0 60 F0 7C F0")

OPTIONAL_FIELDS = (
    (0x02, TIME_STAMP, "measured_at", datetime(2024, 3, 15, 8, 30, 45)),
    (0x04, bytes.fromhex("48 00"), "pulse_bpm", 72.0),
    (0x08, bytes.fromhex("03"), "user_index", 3),
    # 0x0025 = bit 0 body movement + bit 2 irregular pulse + bit 5 improper position
    (
        0x10,
        bytes.fromhex("25 00"),
        "status",
        BloodPressureStatus(body_movement=True, irregular_pulse=True, improper_position=True),
    ),
)


@pytest.mark.parametrize("flags", range(32), ids=lambda flags: f"flags-0x{flags:02X}")
def test_every_flag_combination(flags: int) -> None:
    payload = bytes([flags]) + (KPA_VALUES if flags & 0x01 else MMHG_VALUES)
    expected: dict[str, object] = {}
    for bit, chunk, attribute, value in OPTIONAL_FIELDS:
        payload += chunk if flags & bit else b""
        expected[attribute] = value if flags & bit else None

    reading = decode_blood_pressure_measurement(payload)

    if flags & 0x01:
        assert reading.unit is PressureUnit.KPA
        assert (reading.systolic, reading.diastolic, reading.mean_arterial) == (17.6, 9.6, 12.4)
    else:
        assert reading.unit is PressureUnit.MMHG
    assert (reading.systolic_mmhg, reading.diastolic_mmhg, reading.mean_arterial_mmhg) == (
        (132.0, 72.0, 93.0) if flags & 0x01 else (120.0, 80.0, 93.0)
    )
    for attribute, value in expected.items():
        assert getattr(reading, attribute) == value, attribute
    assert reading.trailing == b""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(0x0001, BloodPressureStatus(body_movement=True), id="body-movement"),
        pytest.param(0x0002, BloodPressureStatus(cuff_too_loose=True), id="cuff-too-loose"),
        pytest.param(0x0004, BloodPressureStatus(irregular_pulse=True), id="irregular-pulse"),
        pytest.param(
            0x0008, BloodPressureStatus(pulse_rate_range=PulseRateRange.ABOVE_UPPER_LIMIT), id="pulse-above"
        ),
        pytest.param(
            0x0010, BloodPressureStatus(pulse_rate_range=PulseRateRange.BELOW_LOWER_LIMIT), id="pulse-below"
        ),
        pytest.param(
            0x0018, BloodPressureStatus(pulse_rate_range=PulseRateRange.RESERVED), id="pulse-reserved"
        ),
        pytest.param(0x0020, BloodPressureStatus(improper_position=True), id="improper-position"),
        pytest.param(0xFFC0, BloodPressureStatus(), id="reserved-bits-ignored"),
    ],
)
def test_status_bits(raw: int, expected: BloodPressureStatus) -> None:
    payload = bytes([0x10]) + MMHG_VALUES + raw.to_bytes(2, "little")
    assert decode_blood_pressure_measurement(payload).status == expected


def test_full_payload_with_kpa() -> None:
    # flags 0x1F: kPa, time stamp, pulse 72, user 1, status 0x0002 (cuff too loose): 19 bytes, the maximum
    payload = bytes.fromhex("1F") + KPA_VALUES + TIME_STAMP + bytes.fromhex("48 00 01 02 00")
    reading = decode_blood_pressure_measurement(payload)
    assert reading.systolic_mmhg == 132.0
    assert reading.pulse_bpm == 72.0
    assert reading.user_id == 1
    assert reading.status == BloodPressureStatus(cuff_too_loose=True)


@pytest.mark.parametrize(
    ("chunk", "field"),
    [
        pytest.param("FF 07 50 00 5D 00", "systolic", id="systolic-nan"),
        pytest.param("78 00 00 08 5D 00", "diastolic", id="diastolic-nres"),
        pytest.param("78 00 50 00 01 08", "mean_arterial", id="map-reserved"),
        pytest.param("FE 07 50 00 5D 00", "systolic", id="systolic-plus-inf"),
        pytest.param("78 00 02 08 5D 00", "diastolic", id="diastolic-minus-inf"),
    ],
)
def test_special_values_are_none_not_2047(chunk: str, field: str) -> None:
    reading = decode_blood_pressure_measurement(bytes([0x00]) + bytes.fromhex(chunk))
    assert getattr(reading, field) is None
    assert getattr(reading, f"{field}_mmhg") is None


def test_pulse_special_value_is_none() -> None:
    reading = decode_blood_pressure_measurement(bytes([0x04]) + MMHG_VALUES + bytes.fromhex("FF 07"))
    assert reading.pulse_bpm is None


def test_unknown_user_has_no_index() -> None:
    reading = decode_blood_pressure_measurement(bytes([0x08]) + MMHG_VALUES + bytes([0xFF]))
    assert reading.user_id == 0xFF
    assert reading.user_index is None


def test_unknown_time_stamp_keeps_raw_fields() -> None:
    payload = bytes([0x02]) + MMHG_VALUES + bytes.fromhex("00 00 03 0F 08 1E 2D")
    reading = decode_blood_pressure_measurement(payload)
    assert reading.measured_at is None
    assert reading.time_stamp is not None
    assert (reading.time_stamp.month, reading.time_stamp.day) == (3, 15)


def test_trailing_bytes_are_kept() -> None:
    reading = decode_blood_pressure_measurement(bytes([0x00]) + MMHG_VALUES + b"\xaa\xbb")
    assert reading.trailing == b"\xaa\xbb"
    assert reading.systolic_mmhg == 120.0


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        pytest.param("", "0x2A35: expected 1 byte for flags at offset 0, got 0", id="empty"),
        pytest.param(
            "00 78 00 50", "0x2A35: expected 2 bytes for diastolic at offset 3, got 1", id="diastolic"
        ),
        pytest.param(
            "02 78 00 50 00 5D 00 E8 07 03",
            "0x2A35: expected 1 byte for time_stamp.day at offset 10, got 0",
            id="time-stamp",
        ),
        pytest.param(
            "04 78 00 50 00 5D 00 48",
            "0x2A35: expected 2 bytes for pulse_rate at offset 7, got 1",
            id="pulse",
        ),
        pytest.param(
            "08 78 00 50 00 5D 00", "0x2A35: expected 1 byte for user_id at offset 7, got 0", id="user"
        ),
        pytest.param(
            "1E 78 00 50 00 5D 00 E8 07 03 0F 08 1E 2D 48 00 01 02",
            "0x2A35: expected 2 bytes for status at offset 17, got 1",
            id="status",
        ),
        pytest.param(
            "02 78 00 50 00 5D 00 E8 07 0D 0F 08 1E 2D",
            "0x2A35: time_stamp.month 13 at offset 9 is out of range (1..12 or 0)",
            id="month-13",
        ),
    ],
)
def test_malformed_input_names_field_and_offset(hex_payload: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_blood_pressure_measurement(bytes.fromhex(hex_payload))
    assert str(caught.value) == message


def test_intermediate_cuff_pressure_is_cuff_value_only() -> None:
    # flags 0x04: mmHg, pulse present; cuff 0x0096 = 150 mmHg, diastolic and MAP NaN as BLS requires
    cuff = decode_intermediate_cuff_pressure(bytes.fromhex("04 96 00 FF 07 FF 07 48 00"))
    assert cuff.kind == "intermediate_cuff_pressure"
    assert cuff.cuff_pressure_mmhg == 150.0
    assert cuff.pulse_rate == 72.0
    assert not hasattr(cuff, "systolic_mmhg")


def test_intermediate_cuff_pressure_kpa() -> None:
    # 0xF0C8 = 200 x 10^-1 = 20.0 kPa -> 150.0124 -> 150.0 mmHg
    cuff = decode_intermediate_cuff_pressure(bytes.fromhex("01 C8 F0 FF 07 FF 07"))
    assert cuff.cuff_pressure == 20.0
    assert cuff.cuff_pressure_mmhg == 150.0


def test_intermediate_cuff_pressure_truncated_names_its_fields() -> None:
    with pytest.raises(DecodeError, match=r"^0x2A36: expected 2 bytes for cuff_pressure at offset 1, got 1$"):
        decode_intermediate_cuff_pressure(bytes.fromhex("00 96"))
