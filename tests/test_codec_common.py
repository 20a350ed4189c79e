"""Date Time 0x2A08, Current Time 0x2A2B, Battery Level 0x2A19 and Device Information: golden bytes."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.ble.codec import (
    AdjustReason,
    DecodeError,
    DeviceDateTime,
    DeviceInfoField,
    VendorIdSource,
    current_time_for,
    decode,
    decode_battery_level,
    decode_current_time,
    decode_date_time,
    decode_pnp_id,
    decode_serial_number,
    decode_system_id,
    encode_current_time,
)


def test_date_time_golden() -> None:
    value = decode_date_time(bytes.fromhex("E8 07 03 0F 08 1E 2D"))
    assert value == DeviceDateTime(2024, 3, 15, 8, 30, 45)
    assert value.value == datetime(2024, 3, 15, 8, 30, 45)
    assert value.value.tzinfo is None


@pytest.mark.parametrize(
    "hex_value",
    [
        pytest.param("00 00 03 0F 08 1E 2D", id="year-unknown"),
        pytest.param("E8 07 00 0F 08 1E 2D", id="month-unknown"),
        pytest.param("E8 07 03 00 08 1E 2D", id="day-unknown"),
        pytest.param("00 00 00 00 00 00 00", id="all-zero"),
        pytest.param("00 00 02 1D 00 00 00", id="feb-29-year-unknown"),
    ],
)
def test_unknown_date_is_none_with_raw_fields(hex_value: str) -> None:
    raw = bytes.fromhex(hex_value)
    value = decode_date_time(raw)
    assert value.value is None
    assert value.is_known is False
    assert (value.year, value.month, value.day) == (int.from_bytes(raw[:2], "little"), raw[2], raw[3])


@pytest.mark.parametrize(
    ("hex_value", "message"),
    [
        pytest.param(
            "E8 07 0D 0F 08 1E 2D", "0x2A08: month 13 at offset 2 is out of range (1..12 or 0)", id="month-13"
        ),
        pytest.param(
            "E8 07 02 1E 08 1E 2D", "0x2A08: day 30 at offset 3 is out of range (1..29 or 0)", id="feb-30"
        ),
        pytest.param(
            "E7 07 02 1D 08 1E 2D",
            "0x2A08: day 29 at offset 3 is out of range (1..28 or 0)",
            id="feb-29-2023",
        ),
        pytest.param(
            "E8 07 04 1F 08 1E 2D", "0x2A08: day 31 at offset 3 is out of range (1..30 or 0)", id="april-31"
        ),
        pytest.param(
            "E8 07 00 20 08 1E 2D", "0x2A08: day 32 at offset 3 is out of range (1..31 or 0)", id="day-32"
        ),
        pytest.param(
            "E8 07 03 0F 19 1E 2D", "0x2A08: hours 25 at offset 4 is out of range (0..23)", id="hour-25"
        ),
        pytest.param(
            "E8 07 03 0F 08 3C 2D", "0x2A08: minutes 60 at offset 5 is out of range (0..59)", id="minute-60"
        ),
        pytest.param(
            "E8 07 03 0F 08 1E 3C", "0x2A08: seconds 60 at offset 6 is out of range (0..59)", id="second-60"
        ),
        pytest.param(
            "E8 03 03 0F 08 1E 2D",
            "0x2A08: year 1000 at offset 0 is out of range (1582..9999 or 0)",
            id="year-1000",
        ),
        pytest.param(
            "E8 07 03 0F 08 1E", "0x2A08: expected 1 byte for seconds at offset 6, got 0", id="truncated"
        ),
    ],
)
def test_invalid_date_time(hex_value: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_date_time(bytes.fromhex(hex_value))
    assert str(caught.value) == message


def test_current_time_golden() -> None:
    # 2024-03-15 is a Friday (5); fractions 0x80 = 128/256 s = 0.5 s; adjust reason 0x01 manual update
    value = decode_current_time(bytes.fromhex("E8 07 03 0F 08 1E 2D 05 80 01"))
    assert value.value == datetime(2024, 3, 15, 8, 30, 45, 500000)
    assert value.day_of_week == 5
    assert value.adjust_reason == AdjustReason(manual_time_update=True)


def test_current_time_for_writes_what_a_device_expects() -> None:
    frame = encode_current_time(current_time_for(datetime(2024, 3, 15, 8, 30, 45, 500000)))
    assert frame == bytes.fromhex("E8 07 03 0F 08 1E 2D 05 80 00")


@pytest.mark.parametrize(
    ("hex_value", "message"),
    [
        pytest.param(
            "E8 07 03 0F 08 1E 2D 08 00 00",
            "0x2A2B: day_of_week 8 at offset 7 is out of range (1..7 or 0)",
            id="weekday-8",
        ),
        pytest.param(
            "E8 07 03 0F 08 1E 2D 05 80",
            "0x2A2B: expected 1 byte for adjust_reason at offset 9, got 0",
            id="truncated",
        ),
    ],
)
def test_invalid_current_time(hex_value: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_current_time(bytes.fromhex(hex_value))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("raw", "percent"), [pytest.param(0x64, 100, id="full"), pytest.param(0x00, 0, id="empty")]
)
def test_battery_level(raw: int, percent: int) -> None:
    assert decode_battery_level(bytes([raw])).percent == percent


def test_battery_level_reserved_value() -> None:
    with pytest.raises(
        DecodeError, match=r"^0x2A19: battery_level 101 at offset 0 is out of range \(0\.\.100\)$"
    ):
        decode_battery_level(bytes([101]))


@pytest.mark.parametrize(
    ("uuid", "raw", "field", "text"),
    [
        pytest.param(
            "2A29", b"A&D Medical\x00\x00\x00", DeviceInfoField.MANUFACTURER_NAME, "A&D Medical", id="padded"
        ),
        pytest.param("2A24", b"UA-651BLE", DeviceInfoField.MODEL_NUMBER, "UA-651BLE", id="model"),
        pytest.param("2A25", b"5140313\x00", DeviceInfoField.SERIAL_NUMBER, "5140313", id="serial"),
        pytest.param("2A27", "Rév 2".encode(), DeviceInfoField.HARDWARE_REVISION, "Rév 2", id="utf8"),
        pytest.param(
            "2A26", b"1.0\x00.1\x00", DeviceInfoField.FIRMWARE_REVISION, "1.0\x00.1", id="inner-nul-kept"
        ),
        pytest.param("2A28", b"", DeviceInfoField.SOFTWARE_REVISION, "", id="empty"),
    ],
)
def test_device_information_strings(uuid: str, raw: bytes, field: DeviceInfoField, text: str) -> None:
    value = decode(uuid, raw)
    assert (value.field, value.value) == (field, text)


def test_device_information_invalid_utf8() -> None:
    with pytest.raises(DecodeError, match=r"^0x2A25: invalid UTF-8 at offset 2 in serial_number"):
        decode_serial_number(b"ab\xff\x00")


def test_system_id() -> None:
    value = decode_system_id(bytes.fromhex("01 02 03 04 05 06 07 08"))
    assert value.manufacturer_identifier == 0x0504030201
    assert value.organizationally_unique_identifier == 0x080706


def test_pnp_id() -> None:
    value = decode_pnp_id(bytes.fromhex("01 5D 00 34 12 00 01"))
    assert value.vendor_id_source is VendorIdSource.BLUETOOTH_SIG
    assert (value.vendor_id, value.product_id, value.product_version) == (0x005D, 0x1234, 0x0100)


def test_pnp_id_truncated() -> None:
    with pytest.raises(
        DecodeError, match=r"^0x2A50: expected 2 bytes for product_version at offset 5, got 1$"
    ):
        decode_pnp_id(bytes.fromhex("01 5D 00 34 12 00"))
