"""The UUID table: derived from the profile modules, accepts every UUID spelling, and knows every kind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.ble.codec import (
    BY_UUID16,
    CHARACTERISTICS,
    EncodeError,
    MeasurementSystem,
    UnknownCharacteristicError,
    WeightMeasurement,
    decode,
    encode,
    encode_weight_measurement,
    lookup,
    parse_uuid,
)
from gateway.ble.codec import registry as registry_module
from gateway.ble.codec.fields import canonical_fields

EXPECTED_UUIDS = {
    0x2A35, 0x2A36, 0x2A18, 0x2A34, 0x2A52, 0x2A9D, 0x2A9C, 0x2A08, 0x2A2B, 0x2A19,
    0x2A29, 0x2A24, 0x2A25, 0x2A27, 0x2A26, 0x2A28, 0x2A23, 0x2A50,
}  # fmt: skip

# One valid payload per characteristic (hand-built; see the per-profile tests for their meaning).
SAMPLES = {
    0x2A35: "1F B0 F0 60 F0 7C F0 E8 07 03 0F 08 1E 2D 48 00 01 02 00",
    0x2A36: "00 96 00 FF 07 FF 07",
    0x2A18: "1B 02 01 E8 07 03 0F 08 1E 2D F1 FF 5F B0 12 21 00",
    0x2A34: "FF 2A 00 00 01 06 E0 02 51 08 07 32 01 02 A0 41 F0",
    0x2A52: "06 00 01 01",
    0x2A9D: "0E 60 36 E8 07 03 0F 08 1E 2D 02 E6 00 C2 06",
    0x2A9C: "06 1C FA 00 E8 07 03 0F 08 1E 2D 01 60 36 C2 06",
    0x2A08: "E8 07 03 0F 08 1E 2D",
    0x2A2B: "E8 07 03 0F 08 1E 2D 05 80 01",
    0x2A19: "64",
    0x2A29: "41 26 44",
    0x2A24: "55 41 2D 36 35 31",
    0x2A25: "35 31 34",
    0x2A27: "31",
    0x2A26: "32",
    0x2A28: "33",
    0x2A23: "01 02 03 04 05 06 07 08",
    0x2A50: "01 5D 00 34 12 00 01",
}


def test_table_is_derived_from_the_modules() -> None:
    assert set(BY_UUID16) == EXPECTED_UUIDS
    assert len(CHARACTERISTICS) == len(BY_UUID16)
    for characteristic in CHARACTERISTICS:
        assert BY_UUID16[characteristic.uuid16] is characteristic


def test_duplicate_uuids_are_refused() -> None:
    with pytest.raises(RuntimeError, match="two codecs claim 0x2A35"):
        registry_module._index([*CHARACTERISTICS, CHARACTERISTICS[0]])


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("2A35", id="short"),
        pytest.param("2a35", id="short-lower"),
        pytest.param("0x2A35", id="hex-prefix"),
        pytest.param("00002a35-0000-1000-8000-00805f9b34fb", id="full"),
        pytest.param("00002A35-0000-1000-8000-00805F9B34FB", id="full-upper"),
        pytest.param(0x2A35, id="int"),
    ],
)
def test_uuid_spellings(spelling: str | int) -> None:
    assert parse_uuid(spelling) == 0x2A35
    assert lookup(spelling).name == "Blood Pressure Measurement"


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("2A3", id="too-short"),
        pytest.param("12345678-0000-1000-8000-00805f9b34fb", id="not-sig-base"),
        pytest.param("00002a35-0000-1000-8000-00805f9b34fc", id="wrong-base"),
        pytest.param("2AFF", id="unknown-characteristic"),
        pytest.param(0x12345, id="int-too-large"),
    ],
)
def test_unknown_uuids(spelling: str | int) -> None:
    with pytest.raises(UnknownCharacteristicError):
        lookup(spelling)


def test_full_uuid_matches_bleak_form() -> None:
    assert lookup("2A35").uuid == "00002a35-0000-1000-8000-00805f9b34fb"


def test_every_characteristic_has_a_sample() -> None:
    assert set(SAMPLES) == EXPECTED_UUIDS


@pytest.mark.parametrize(
    ("uuid16", "hex_payload"),
    [pytest.param(uuid16, payload, id=f"0x{uuid16:04X}") for uuid16, payload in SAMPLES.items()],
)
def test_every_decoded_type_flattens_to_json(uuid16: int, hex_payload: str) -> None:
    payload = bytes.fromhex(hex_payload)
    value: Any = decode(uuid16, payload)
    fields = canonical_fields(lookup(uuid16), value)
    assert fields["kind"] == value.kind
    assert fields["characteristic"] == f"0x{uuid16:04X}"
    json.dumps(fields)
    assert encode(uuid16, value) == payload


@pytest.mark.parametrize("buffer_type", [bytes, bytearray, memoryview], ids=lambda kind: kind.__name__)
def test_decoders_accept_what_bleak_hands_out(buffer_type: type) -> None:
    for uuid16, hex_payload in SAMPLES.items():
        payload = bytes.fromhex(hex_payload)
        assert decode(uuid16, buffer_type(payload)) == decode(uuid16, payload)


def test_encoders_raise_encode_error_for_unencodable_values() -> None:
    for bad in (float("nan"), float("inf"), -1.0, 400.0):
        with pytest.raises(EncodeError):
            encode_weight_measurement(WeightMeasurement(MeasurementSystem.SI, bad))
