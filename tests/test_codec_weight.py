"""Weight Measurement 0x2A9D and Body Composition Measurement 0x2A9C: golden bytes from WSS/BCS.

Expected values are worked out by hand (comments show the arithmetic).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.ble.codec import (
    BodyComposition,
    CodecError,
    DecodeError,
    MeasurementSystem,
    decode_body_composition,
    decode_weight_measurement,
    merge_packets,
)

TIME_STAMP = bytes.fromhex("E8 07 03 0F 08 1E 2D")  # 2024-03-15 08:30:45
WEIGHT = bytes.fromhex("60 36")  # 0x3660 = 13920: SI x 0.005 = 69.6 kg; imperial x 0.01 = 139.2 lb
# 139.2 lb x 0.45359237 = 63.140057904 -> 63.14 kg
BMI_HEIGHT = bytes.fromhex("E6 00 C2 06")  # BMI 230 x 0.1 = 23.0; height 1730: 1.730 m or 173.0 in
# 173.0 in x 0.0254 = 4.3942 m


@pytest.mark.parametrize("flags", range(16), ids=lambda flags: f"flags-0x{flags:02X}")
def test_every_weight_flag_combination(flags: int) -> None:
    imperial = bool(flags & 0x01)
    payload = bytes([flags]) + WEIGHT
    payload += TIME_STAMP if flags & 0x02 else b""
    payload += bytes([0x02]) if flags & 0x04 else b""
    payload += BMI_HEIGHT if flags & 0x08 else b""

    reading = decode_weight_measurement(payload)

    assert reading.unit is (MeasurementSystem.IMPERIAL if imperial else MeasurementSystem.SI)
    assert reading.weight == (139.2 if imperial else 69.6)
    assert reading.weight_kg == (63.14 if imperial else 69.6)
    assert reading.measured_at == (datetime(2024, 3, 15, 8, 30, 45) if flags & 0x02 else None)
    assert reading.user_index == (2 if flags & 0x04 else None)
    assert reading.bmi == (23.0 if flags & 0x08 else None)
    assert reading.height == ((173.0 if imperial else 1.73) if flags & 0x08 else None)
    assert reading.height_m == ((4.3942 if imperial else 1.73) if flags & 0x08 else None)
    assert reading.measurement_unsuccessful is False


def test_weight_resolution_is_exact() -> None:
    # 14001 x 0.005 kg = 70.005 kg, not 70.00500000000001
    assert decode_weight_measurement(bytes.fromhex("00 B1 36")).weight_kg == 70.005


def test_unsuccessful_weight_is_not_327_kg() -> None:
    reading = decode_weight_measurement(bytes.fromhex("00 FF FF"))
    assert reading.weight is None
    assert reading.weight_kg is None
    assert reading.measurement_unsuccessful is True


def test_unknown_user() -> None:
    reading = decode_weight_measurement(bytes.fromhex("04 60 36 FF"))
    assert reading.user_id == 0xFF
    assert reading.user_index is None


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        pytest.param("00 60", "0x2A9D: expected 2 bytes for weight at offset 1, got 1", id="weight"),
        pytest.param("04 60 36", "0x2A9D: expected 1 byte for user_id at offset 3, got 0", id="user"),
        pytest.param(
            "08 60 36 E6 00 C2", "0x2A9D: expected 2 bytes for height at offset 5, got 1", id="height"
        ),
        pytest.param(
            "02 60 36 E8 07 03 0F 19 1E 2D",
            "0x2A9D: time_stamp.hours 25 at offset 7 is out of range (0..23)",
            id="hour-25",
        ),
    ],
)
def test_malformed_weight(hex_payload: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_weight_measurement(bytes.fromhex(hex_payload))
    assert str(caught.value) == message


# Body composition u16 fields after the user id, in wire order; distinct raw values expose a wrong order:
# (flag bit, raw, attribute, SI value, imperial value)
BODY_FIELDS = (
    (0x0008, 7000, "basal_metabolism_kj", 7000, 7000),
    (0x0010, 450, "muscle_percent", 45.0, 45.0),
    (0x0020, 8000, "muscle_mass", 40.0, 80.0),  # x 0.005 kg / x 0.01 lb
    (0x0040, 10000, "fat_free_mass", 50.0, 100.0),
    (0x0080, 9000, "soft_lean_mass", 45.0, 90.0),
    (0x0100, 6000, "body_water_mass", 30.0, 60.0),
    (0x0200, 4500, "impedance_ohm", 450.0, 450.0),
    (0x0400, 13920, "weight", 69.6, 139.2),
    (0x0800, 1730, "height", 1.73, 173.0),  # x 0.001 m / x 0.1 in
)
IMPERIAL_IN_KG = {  # lb x 0.45359237, rounded to grams
    "muscle_mass_kg": 36.287,  # 80 lb = 36.2873896
    "fat_free_mass_kg": 45.359,  # 100 lb = 45.359237
    "soft_lean_mass_kg": 40.823,  # 90 lb = 40.8233133
    "body_water_mass_kg": 27.216,  # 60 lb = 27.2155422
    "weight_kg": 63.14,  # 139.2 lb = 63.140057904
    "height_m": 4.3942,  # 173.0 in x 0.0254
}


def _body_payload(flags: int) -> bytes:
    payload = flags.to_bytes(2, "little") + bytes.fromhex("FA 00")  # body fat 250 x 0.1 = 25.0 %
    payload += TIME_STAMP if flags & 0x0002 else b""
    payload += bytes([0x01]) if flags & 0x0004 else b""
    for bit, raw, _, _, _ in BODY_FIELDS:
        payload += raw.to_bytes(2, "little") if flags & bit else b""
    return payload


def test_every_body_composition_flag_combination() -> None:
    for flags in range(0x2000):
        imperial = bool(flags & 0x0001)
        packet = decode_body_composition(_body_payload(flags))
        assert packet.body_fat_percent == 25.0
        assert packet.unit is (MeasurementSystem.IMPERIAL if imperial else MeasurementSystem.SI)
        assert packet.measured_at == (datetime(2024, 3, 15, 8, 30, 45) if flags & 0x0002 else None)
        assert packet.user_index == (1 if flags & 0x0004 else None)
        for bit, _, name, si_value, imperial_value in BODY_FIELDS:
            expected = (imperial_value if imperial else si_value) if flags & bit else None
            assert getattr(packet, name) == expected, (hex(flags), name)
        assert packet.multiple_packets is bool(flags & 0x1000)
        assert packet.trailing == b""


@pytest.mark.parametrize(
    ("name", "expected"), [pytest.param(name, kg, id=name) for name, kg in IMPERIAL_IN_KG.items()]
)
def test_body_composition_imperial_conversions(name: str, expected: float) -> None:
    packet = decode_body_composition(_body_payload(0x0FF9))
    assert getattr(packet, name) == expected


def test_body_composition_si_canonical_values_pass_through() -> None:
    packet = decode_body_composition(_body_payload(0x0FF8))
    assert (packet.weight_kg, packet.height_m, packet.muscle_mass_kg) == (69.6, 1.73, 40.0)


def test_body_fat_unsuccessful() -> None:
    packet = decode_body_composition(bytes.fromhex("00 00 FF FF"))
    assert packet.body_fat_percent is None
    assert packet.measurement_unsuccessful is True


def test_multiple_packets_merge() -> None:
    # packet 1: multi-packet flag, weight; packet 2: multi-packet flag, height and impedance
    first = decode_body_composition(bytes.fromhex("00 14 FA 00 60 36"))
    second = decode_body_composition(bytes.fromhex("00 1A FA 00 94 11 C2 06"))
    assert first.multiple_packets
    assert second.multiple_packets
    merged = merge_packets(first, second)
    assert merged == BodyComposition(
        MeasurementSystem.SI, 25.0, weight=69.6, height=1.73, impedance_ohm=450.0, multiple_packets=False
    )


def test_merge_refuses_mixed_units() -> None:
    with pytest.raises(CodecError):
        merge_packets(
            decode_body_composition(bytes.fromhex("00 10 FA 00")),
            decode_body_composition(bytes.fromhex("01 10 FA 00")),
        )


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        pytest.param("00", "0x2A9C: expected 2 bytes for flags at offset 0, got 1", id="flags"),
        pytest.param("00 00 FA", "0x2A9C: expected 2 bytes for body_fat at offset 2, got 1", id="body-fat"),
        pytest.param(
            "00 0C FA 00 C2",
            "0x2A9C: expected 2 bytes for weight at offset 4, got 1",
            id="weight-before-height",
        ),
        pytest.param("00 08 FA 00 60", "0x2A9C: expected 2 bytes for height at offset 4, got 1", id="height"),
    ],
)
def test_malformed_body_composition(hex_payload: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_body_composition(bytes.fromhex(hex_payload))
    assert str(caught.value) == message
