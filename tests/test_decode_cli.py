"""`rpm decode CHARACTERISTIC HEX`: one JSON object on success, one stderr line and exit 2 on bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rpmctl.main import main

BP_HEX = "1F B0 F0 60 F0 7C F0 E8 07 03 0F 08 1E 2D 48 00 01 02 00"


def _decode(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["decode", *argv]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count("\n") == 1
    return json.loads(out)


def test_blood_pressure(capsys: pytest.CaptureFixture[str]) -> None:
    fields = _decode(capsys, "2A35", BP_HEX)
    assert fields["kind"] == "blood_pressure"
    assert fields["systolic_mmhg"] == 132.0  # 17.6 kPa
    assert fields["diastolic_mmhg"] == 72.0
    assert fields["mean_arterial_mmhg"] == 93.0
    assert fields["pulse_bpm"] == 72.0
    assert fields["measured_at"] == "2024-03-15T08:30:45"
    assert fields["user_index"] == 1
    assert fields["cuff_too_loose"] is True
    assert fields["body_movement"] is False
    assert fields["irregular_pulse"] is False
    assert fields["pulse_rate_range"] == "in_range"
    assert fields["unit"] == "kPa"
    assert fields["device_values"]["systolic"] == 17.6


def test_absent_fields_are_null(capsys: pytest.CaptureFixture[str]) -> None:
    fields = _decode(capsys, "2A35", "00 78 00 50 00 5D 00")
    for name in ("pulse_bpm", "measured_at", "user_index", "body_movement", "irregular_pulse"):
        assert name in fields
        assert fields[name] is None
    assert fields["unit"] == "mmHg"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["2A35", "1FB0F060F07CF0E807030F081E2D4800010200"], id="compact"),
        pytest.param(["0x2A35", "0x1FB0F060F07CF0E807030F081E2D4800010200"], id="whole-0x"),
        pytest.param(["2a35", BP_HEX.lower()], id="lower-case"),
        pytest.param(["2A35", BP_HEX.replace(" ", ":")], id="colons"),
        pytest.param(["2A35", BP_HEX.replace(" ", "-")], id="dashes"),
        pytest.param(["2A35", " ".join("0x" + byte for byte in BP_HEX.split())], id="0x-per-byte"),
        pytest.param(["2A35", *BP_HEX.split()], id="several-argv-words"),
        pytest.param(["00002a35-0000-1000-8000-00805f9b34fb", BP_HEX], id="full-uuid"),
        pytest.param(["2A35", "1F B0F0 60:F0 7C-F0 0xE8 07030F081E2D 48 00 01 02 00"], id="mixed"),
    ],
)
def test_forgiving_hex_and_uuid(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    fields = _decode(capsys, *argv)
    assert fields["systolic_mmhg"] == 132.0
    assert fields["user_index"] == 1


def test_single_digit_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    assert _decode(capsys, "2A19", "0x5")["battery_percent"] == 5
    assert _decode(capsys, "2A52", "0x6 0x0 0x1 0x1")["response_code"] == "success"


def test_glucose(capsys: pytest.CaptureFixture[str]) -> None:
    fields = _decode(capsys, "2A18", "1B 02 01 E8 07 03 0F 08 1E 2D F1 FF 5F B0 12 21 00")
    assert fields["kind"] == "glucose"
    assert fields["glucose_mg_dl"] == 95.0
    assert fields["sequence"] == 258
    assert fields["measured_at"] == "2024-03-15T08:15:45"
    assert fields["battery_low"] is True
    assert fields["result_above_range"] is True
    assert fields["is_control_solution"] is False
    assert fields["unit"] == "kg/L"


def test_weight(capsys: pytest.CaptureFixture[str]) -> None:
    fields = _decode(capsys, "2A9D", "0F F0 3C E8 07 03 0F 08 1E 2D 02 E6 00 B2 02")
    assert fields["kind"] == "weight"
    assert fields["weight_kg"] == 70.76  # 156.00 lb x 0.45359237 = 70.7604
    assert fields["bmi"] == 23.0
    assert fields["height_m"] == 1.7526  # 69.0 in
    assert fields["unit"] == "imperial"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        pytest.param(
            ["2A35", "00 78 00 50"], "expected 2 bytes for diastolic at offset 3, got 1", id="truncated"
        ),
        pytest.param(["2A35", "zz"], "'zz' is not hex", id="not-hex"),
        pytest.param(["2A35", "078"], "odd number of hex digits", id="odd-digits"),
        pytest.param(["2A35", "0x"], "'0x' is not hex", id="empty-0x"),
        pytest.param(["2A35", "::"], "no hex digits", id="only-separators"),
        pytest.param(["2AFF", "00"], "no decoder for 0x2AFF", id="unknown-characteristic"),
        pytest.param(["heart", "00"], "is not a characteristic UUID", id="not-a-uuid"),
        pytest.param(["2A19", "FF"], "battery_level 255 at offset 0 is out of range", id="out-of-range"),
    ],
)
def test_malformed_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(["decode", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert needle in err
