"""Date Time (0x2A08) and Current Time (0x2A2B): device-local naive time, with "unknown" kept distinct.

Year, month or day 0 means the device does not know the date: the value is `None` but the raw fields are kept
(they still say something about a clock that was never set). A date that cannot exist (month 13, 30 February,
hour 25) is a `DecodeError` pointing at the offending byte, because a wrong clock must not become a wrong
`measured_at`.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import datetime
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.errors import DecodeError, EncodeError
from gateway.ble.codec.wire import Buffer, Span, check_uint, out_of_range, require, span

DATE_TIME_UUID: Final = 0x2A08
CURRENT_TIME_UUID: Final = 0x2A2B

_DATE_TIME: Final = Struct("<HBBBBB")
_CURRENT_TIME_TAIL: Final = Struct("<BBB")
DATE_TIME_SIZE: Final = _DATE_TIME.size

MIN_YEAR: Final = 1582
"""Date Time year range is 1582..9999 (Gregorian calendar), 0 = unknown (GATT Specification Supplement)."""
MAX_YEAR: Final = 9999
_LEAP_YEAR: Final = 2000
"""With the year unknown, 29 February is still a possible date, so days are checked against a leap year."""


@dataclass(frozen=True, slots=True)
class DeviceDateTime:
    """A device clock reading as sent (local time, no zone); `value` is `None` when the date is unknown."""

    kind: ClassVar[str] = "date_time"

    year: int
    month: int
    day: int
    hours: int = 0
    minutes: int = 0
    seconds: int = 0
    trailing: bytes = b""

    @property
    def is_known(self) -> bool:
        """False when the device said year, month or day is unknown (0)."""
        return bool(self.year and self.month and self.day)

    @property
    def value(self) -> datetime | None:
        """Naive device-local datetime, or `None` for an unknown date."""
        if not (self.year and self.month and self.day):
            return None
        return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    @classmethod
    def from_datetime(cls, moment: datetime) -> DeviceDateTime:
        """The fields a device would send for `moment` (sub-second part dropped, zone ignored)."""
        return cls(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


@dataclass(frozen=True, slots=True)
class AdjustReason:
    """Why the Current Time was last changed (CTS Adjust Reason bits 0-3)."""

    manual_time_update: bool = False
    external_reference_time_update: bool = False
    change_of_time_zone: bool = False
    change_of_dst: bool = False

    @classmethod
    def from_raw(cls, raw: int) -> AdjustReason:
        return cls(bool(raw & 0x01), bool(raw & 0x02), bool(raw & 0x04), bool(raw & 0x08))

    def to_raw(self) -> int:
        return (
            int(self.manual_time_update)
            | int(self.external_reference_time_update) << 1
            | int(self.change_of_time_zone) << 2
            | int(self.change_of_dst) << 3
        )


@dataclass(frozen=True, slots=True)
class CurrentTime:
    """Current Time (CTS): Date Time plus day of week (1 Monday..7 Sunday, 0 unknown) and 1/256 s
    fractions."""

    kind: ClassVar[str] = "current_time"

    date_time: DeviceDateTime
    day_of_week: int = 0
    fractions256: int = 0
    adjust_reason: AdjustReason = AdjustReason()
    trailing: bytes = b""

    @property
    def value(self) -> datetime | None:
        """Naive device-local datetime including the 1/256 s fraction, or `None` if the date is unknown."""
        base = self.date_time.value
        if base is None:
            return None
        return base.replace(microsecond=self.fractions256 * 1_000_000 // 256)


_DATE_TIME_FIELDS: Final = (
    ("year", 2),
    ("month", 1),
    ("day", 1),
    ("hours", 1),
    ("minutes", 1),
    ("seconds", 1),
)


@functools.cache
def date_time_span(field: str) -> Span:
    """The seven Date Time fields named `field.year`, `field.month`...; memoised, there are only a few
    fields."""
    prefix = f"{field}." if field else ""
    return span(*((prefix + name, size) for name, size in _DATE_TIME_FIELDS))


def read_date_time(
    characteristic: str, data: Buffer, offset: int, field: str = "date_time"
) -> DeviceDateTime:
    """Read and validate a 7-byte Date Time embedded at `offset` (every measurement's time stamp).

    One combined range test on the fast path; only an invalid value pays for finding which field is wrong.
    """
    if len(data) - offset < DATE_TIME_SIZE:
        require(characteristic, data, offset, date_time_span(field))
    year, month, day, hours, minutes, seconds = _DATE_TIME.unpack_from(data, offset)
    if (
        (year and not MIN_YEAR <= year <= MAX_YEAR)
        or month > 12
        or day > _MAX_DAY[month]
        or hours > 23
        or minutes > 59
        or seconds > 59
        or (month == 2 and day == 29 and year and not calendar.isleap(year))
    ):
        raise _invalid(
            characteristic, f"{field}." if field else "", offset, year, month, day, hours, minutes, seconds
        )
    return DeviceDateTime(year, month, day, hours, minutes, seconds)


_MAX_DAY: Final = (31, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
"""Largest day per month (index 0: month unknown); 29 February is checked with `calendar.isleap`."""


def _invalid(
    characteristic: str,
    prefix: str,
    offset: int,
    year: int,
    month: int,
    day: int,
    hours: int,
    minutes: int,
    seconds: int,
) -> DecodeError:
    """The error for the first field of a Date Time that is out of range."""
    if year and not MIN_YEAR <= year <= MAX_YEAR:
        return out_of_range(characteristic, f"{prefix}year", year, f"{MIN_YEAR}..{MAX_YEAR} or 0", offset)
    if month > 12:
        return out_of_range(characteristic, f"{prefix}month", month, "1..12 or 0", offset + 2)
    last = calendar.monthrange(year or _LEAP_YEAR, month)[1] if month else 31
    if day > last:
        return out_of_range(characteristic, f"{prefix}day", day, f"1..{last} or 0", offset + 3)
    if hours > 23:
        return out_of_range(characteristic, f"{prefix}hours", hours, "0..23", offset + 4)
    if minutes > 59:
        return out_of_range(characteristic, f"{prefix}minutes", minutes, "0..59", offset + 5)
    return out_of_range(characteristic, f"{prefix}seconds", seconds, "0..59", offset + 6)


def pack_date_time(value: DeviceDateTime) -> bytes:
    """The 7 wire bytes of a Date Time (no trailing bytes)."""
    check_uint(value.year, 16, "year")
    for name in ("month", "day", "hours", "minutes", "seconds"):
        check_uint(getattr(value, name), 8, name)
    return _DATE_TIME.pack(value.year, value.month, value.day, value.hours, value.minutes, value.seconds)


def decode_date_time(data: Buffer) -> DeviceDateTime:
    """Date Time 0x2A08. Trailing bytes are kept in `trailing`."""
    value = read_date_time("0x2A08", data, 0, "")
    if len(data) > DATE_TIME_SIZE:
        return DeviceDateTime(
            value.year, value.month, value.day, value.hours, value.minutes, value.seconds, bytes(data[7:])
        )
    return value


def encode_date_time(value: DeviceDateTime) -> bytes:
    """Inverse of `decode_date_time`."""
    return pack_date_time(value) + value.trailing


_CURRENT_TIME_TAIL_SPAN: Final = span(("day_of_week", 1), ("fractions256", 1), ("adjust_reason", 1))


def decode_current_time(data: Buffer) -> CurrentTime:
    """Current Time 0x2A2B (10 bytes). Day of week 8..255 is reserved and refused; reserved reason bits
    ignored."""
    date_time = read_date_time("0x2A2B", data, 0, "date_time")
    require("0x2A2B", data, DATE_TIME_SIZE, _CURRENT_TIME_TAIL_SPAN)
    day_of_week, fractions, reason = _CURRENT_TIME_TAIL.unpack_from(data, DATE_TIME_SIZE)
    if day_of_week > 7:
        raise out_of_range("0x2A2B", "day_of_week", day_of_week, "1..7 or 0", DATE_TIME_SIZE)
    return CurrentTime(date_time, day_of_week, fractions, AdjustReason.from_raw(reason), bytes(data[10:]))


def encode_current_time(value: CurrentTime) -> bytes:
    """Inverse of `decode_current_time`; what a hub writes to set a device clock."""
    if value.date_time.trailing:
        raise EncodeError("the Date Time inside a Current Time cannot carry trailing bytes")
    if not 0 <= value.day_of_week <= 7:
        raise EncodeError(f"day_of_week {value.day_of_week} is not 0..7")
    tail = _CURRENT_TIME_TAIL.pack(
        value.day_of_week, check_uint(value.fractions256, 8, "fractions256"), value.adjust_reason.to_raw()
    )
    return pack_date_time(value.date_time) + tail + value.trailing


def current_time_for(moment: datetime, adjust_reason: AdjustReason = AdjustReason()) -> CurrentTime:
    """The Current Time value a hub writes to set a device clock to `moment` (device-local)."""
    return CurrentTime(
        DeviceDateTime.from_datetime(moment),
        moment.isoweekday(),
        moment.microsecond * 256 // 1_000_000,
        adjust_reason,
    )


DATE_TIME: Final = Characteristic(DATE_TIME_UUID, "Date Time", decode_date_time, encode_date_time)
CURRENT_TIME: Final = Characteristic(
    CURRENT_TIME_UUID, "Current Time", decode_current_time, encode_current_time
)
CHARACTERISTICS: Final = (DATE_TIME, CURRENT_TIME)

__all__ = [
    "CHARACTERISTICS",
    "DATE_TIME_SIZE",
    "AdjustReason",
    "CurrentTime",
    "DeviceDateTime",
    "current_time_for",
    "decode_current_time",
    "decode_date_time",
    "encode_current_time",
    "encode_date_time",
    "pack_date_time",
    "read_date_time",
]
