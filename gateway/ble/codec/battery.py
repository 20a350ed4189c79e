"""Battery Level (0x2A19): a u8 percentage; 101..255 are reserved and refused rather than shown as 255 %."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.errors import EncodeError
from gateway.ble.codec.wire import Buffer, out_of_range, require, span

BATTERY_LEVEL_UUID: Final = 0x2A19
MAX_PERCENT: Final = 100


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    """Battery charge in percent."""

    kind: ClassVar[str] = "battery_level"

    percent: int
    trailing: bytes = b""


_SPAN = span(("battery_level", 1))


def decode_battery_level(data: Buffer) -> BatteryLevel:
    """Battery Level 0x2A19. Trailing bytes are kept in `trailing`."""
    require("0x2A19", data, 0, _SPAN)
    level = data[0]
    if level > MAX_PERCENT:
        raise out_of_range("0x2A19", "battery_level", level, "0..100", 0)
    return BatteryLevel(level, bytes(data[1:]))


def encode_battery_level(value: BatteryLevel) -> bytes:
    """Inverse of `decode_battery_level`."""
    if not 0 <= value.percent <= MAX_PERCENT:
        raise EncodeError(f"battery level {value.percent} is not 0..100")
    return bytes([value.percent]) + value.trailing


BATTERY_LEVEL: Final = Characteristic(
    BATTERY_LEVEL_UUID, "Battery Level", decode_battery_level, encode_battery_level
)
CHARACTERISTICS: Final = (BATTERY_LEVEL,)
