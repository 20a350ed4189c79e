"""Glucose Measurement (0x2A18), GLS 1.0.

Layout: `flags u8 | sequence u16 | base time (Date Time) | [time offset s16 min] | [concentration SFLOAT +
type/location u8] | [sensor status u16]`. Control-solution results are marked `is_control_solution` and never
yield a patient value. Trailing bytes are kept in `trailing`; reserved flag and status bits are ignored.

Sensor status bit 5 is "result higher than the device can process" and bit 6 "lower" (GLS 1.0 Sensor Status
Annunciation; the same order in Nordic's and RivieraWaves' GLP stacks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.codes import CodeEnum
from gateway.ble.codec.date_time import DATE_TIME_SIZE, DeviceDateTime, pack_date_time, read_date_time
from gateway.ble.codec.errors import DecodeError, EncodeError
from gateway.ble.codec.numbers import decode_sfloat, encode_sfloat
from gateway.ble.codec.wire import S16, U16, Buffer, check_uint, require, span

GLUCOSE_MEASUREMENT_UUID: Final = 0x2A18

MG_DL_PER_KG_L: Final = 100_000
"""1 kg/L = 10^6 mg / 10 dL = 100,000 mg/dL."""
MG_DL_PER_MMOL_L: Final = 18.016
"""Glucose molar mass 180.16 g/mol: 1 mmol/L = 18.016 mg/dL (DESIGN.md conversions)."""
MG_DL_DECIMALS: Final = 1
"""Meters resolve 1 mg/dL or 0.1 mmol/L (1.8 mg/dL); one decimal keeps that and drops float noise."""

_FLAG_TIME_OFFSET: Final = 0x01
_FLAG_CONCENTRATION: Final = 0x02
_FLAG_MOL_PER_L: Final = 0x04
_FLAG_STATUS: Final = 0x08
_FLAG_CONTEXT_FOLLOWS: Final = 0x10

_HEAD: Final = Struct("<BH")
_CONCENTRATION: Final = Struct("<HB")


class GlucoseUnit(Enum):
    """Concentration unit (flag bit 2)."""

    KG_PER_L = "kg/L"
    MOL_PER_L = "mol/L"


class GlucoseType(CodeEnum):
    """Sample type, low nibble of the type/location byte."""

    CAPILLARY_WHOLE_BLOOD = 1
    CAPILLARY_PLASMA = 2
    VENOUS_WHOLE_BLOOD = 3
    VENOUS_PLASMA = 4
    ARTERIAL_WHOLE_BLOOD = 5
    ARTERIAL_PLASMA = 6
    UNDETERMINED_WHOLE_BLOOD = 7
    UNDETERMINED_PLASMA = 8
    INTERSTITIAL_FLUID = 9
    CONTROL_SOLUTION = 10


class GlucoseLocation(CodeEnum):
    """Sample location, high nibble of the type/location byte."""

    FINGER = 1
    ALTERNATE_SITE_TEST = 2
    EARLOBE = 3
    CONTROL_SOLUTION = 4
    NOT_AVAILABLE = 15


_STATUS_BITS: Final = (
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
)


@dataclass(frozen=True, slots=True)
class GlucoseSensorStatus:
    """Sensor Status Annunciation as named flags (bit n = `_STATUS_BITS[n]`)."""

    battery_low: bool = False
    sensor_malfunction: bool = False
    sample_too_small: bool = False
    strip_insertion_error: bool = False
    wrong_strip_type: bool = False
    result_above_range: bool = False
    result_below_range: bool = False
    temperature_too_high: bool = False
    temperature_too_low: bool = False
    read_interrupted: bool = False
    general_fault: bool = False
    time_fault: bool = False

    @classmethod
    def from_raw(cls, raw: int) -> GlucoseSensorStatus:
        return cls(
            bool(raw & 0x0001),
            bool(raw & 0x0002),
            bool(raw & 0x0004),
            bool(raw & 0x0008),
            bool(raw & 0x0010),
            bool(raw & 0x0020),
            bool(raw & 0x0040),
            bool(raw & 0x0080),
            bool(raw & 0x0100),
            bool(raw & 0x0200),
            bool(raw & 0x0400),
            bool(raw & 0x0800),
        )

    def to_raw(self) -> int:
        return sum(1 << bit for bit, name in enumerate(_STATUS_BITS) if getattr(self, name))

    def as_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in _STATUS_BITS}


@dataclass(frozen=True, slots=True)
class GlucoseMeasurement:
    """One glucose record. `concentration` is in `unit`; `None` when absent or an SFLOAT special value."""

    kind: ClassVar[str] = "glucose"

    sequence: int
    base_time: DeviceDateTime
    unit: GlucoseUnit = GlucoseUnit.KG_PER_L
    time_offset_minutes: int | None = None
    concentration: float | None = None
    sample_type: GlucoseType | None = None
    sample_location: GlucoseLocation | None = None
    sensor_status: GlucoseSensorStatus | None = None
    context_follows: bool = False
    trailing: bytes = b""

    @property
    def measured_at(self) -> datetime | None:
        """Base time plus time offset, device-local; `None` if the meter does not know the date."""
        base = self.base_time.value
        if base is None or not self.time_offset_minutes:
            return base
        return base + timedelta(minutes=self.time_offset_minutes)

    @property
    def is_control_solution(self) -> bool:
        """A meter check with control solution: never a patient value."""
        return self.sample_type == GlucoseType.CONTROL_SOLUTION or (
            self.sample_location == GlucoseLocation.CONTROL_SOLUTION
        )

    @property
    def glucose_mg_dl(self) -> float | None:
        """Concentration in mg/dL, whatever the sample was."""
        if self.concentration is None:
            return None
        if self.unit is GlucoseUnit.KG_PER_L:
            return round(self.concentration * MG_DL_PER_KG_L, MG_DL_DECIMALS)
        return round(self.concentration * 1000 * MG_DL_PER_MMOL_L, MG_DL_DECIMALS)

    @property
    def patient_value_mg_dl(self) -> float | None:
        """mg/dL for a patient sample; `None` for control solution or no value. Range flags stay with the
        caller."""
        return None if self.is_control_solution else self.glucose_mg_dl


_TYPES: Final = tuple(GlucoseType(code) for code in range(16))
_LOCATIONS: Final = tuple(GlucoseLocation(code) for code in range(16))
"""Every nibble's member, looked up by index: an Enum call per record costs more than the rest of a field."""
_HEAD_SPAN = span(("flags", 1), ("sequence", 2))
_OFFSET_SPAN = span(("time_offset", 2))
_CONCENTRATION_SPAN = span(("concentration", 2), ("type_location", 1))
_STATUS_SPAN = span(("sensor_status", 2))
_C: Final = "0x2A18"


def decode_glucose_measurement(data: Buffer) -> GlucoseMeasurement:
    """Glucose Measurement 0x2A18."""
    require(_C, data, 0, _HEAD_SPAN)
    flags, sequence = _HEAD.unpack_from(data, 0)
    base_time = read_date_time(_C, data, 3, "base_time")
    offset = 3 + DATE_TIME_SIZE
    time_offset = concentration = sample_type = location = status = None
    if flags & _FLAG_TIME_OFFSET:
        require(_C, data, offset, _OFFSET_SPAN)
        time_offset = S16.unpack_from(data, offset)[0]
        if base_time.year == 9999 and base_time.value is not None:
            try:
                base_time.value + timedelta(minutes=time_offset)
            except OverflowError:
                raise DecodeError(
                    _C, f"time_offset {time_offset} at offset {offset} overflows year 9999", offset=offset
                ) from None
        offset += 2
    if flags & _FLAG_CONCENTRATION:
        require(_C, data, offset, _CONCENTRATION_SPAN)
        raw, type_location = _CONCENTRATION.unpack_from(data, offset)
        concentration = decode_sfloat(raw)
        sample_type = _TYPES[type_location & 0x0F]
        location = _LOCATIONS[type_location >> 4]
        offset += 3
    if flags & _FLAG_STATUS:
        require(_C, data, offset, _STATUS_SPAN)
        status = GlucoseSensorStatus.from_raw(U16.unpack_from(data, offset)[0])
        offset += 2
    return GlucoseMeasurement(
        sequence,
        base_time,
        GlucoseUnit.MOL_PER_L if flags & _FLAG_MOL_PER_L else GlucoseUnit.KG_PER_L,
        time_offset,
        concentration,
        sample_type,
        location,
        status,
        bool(flags & _FLAG_CONTEXT_FOLLOWS),
        bytes(data[offset:]),
    )


def encode_glucose_measurement(value: GlucoseMeasurement) -> bytes:
    """Inverse of `decode_glucose_measurement`. The concentration block is sent when type and location are
    set."""
    has_block = value.sample_type is not None or value.sample_location is not None
    if (value.sample_type is None) != (value.sample_location is None):
        raise EncodeError("sample_type and sample_location travel together: set both or neither")
    if value.concentration is not None and not has_block:
        raise EncodeError("a concentration needs sample_type and sample_location")
    if value.base_time.trailing:
        raise EncodeError("an embedded base time cannot carry trailing bytes")
    flags = (_FLAG_MOL_PER_L if value.unit is GlucoseUnit.MOL_PER_L else 0) | (
        _FLAG_CONTEXT_FOLLOWS if value.context_follows else 0
    )
    parts = [b"", pack_date_time(value.base_time)]
    if value.time_offset_minutes is not None:
        flags |= _FLAG_TIME_OFFSET
        if not -0x8000 <= value.time_offset_minutes <= 0x7FFF:
            raise EncodeError(
                f"time_offset_minutes {value.time_offset_minutes} does not fit a signed 16-bit field"
            )
        parts.append(S16.pack(value.time_offset_minutes))
    if value.sample_type is not None and value.sample_location is not None:
        flags |= _FLAG_CONCENTRATION
        type_location = check_uint(int(value.sample_location), 4, "sample_location") << 4 | check_uint(
            int(value.sample_type), 4, "sample_type"
        )
        parts.append(_CONCENTRATION.pack(encode_sfloat(value.concentration), type_location))
    if value.sensor_status is not None:
        flags |= _FLAG_STATUS
        parts.append(U16.pack(value.sensor_status.to_raw()))
    parts[0] = _HEAD.pack(flags, check_uint(value.sequence, 16, "sequence"))
    parts.append(value.trailing)
    return b"".join(parts)


GLUCOSE_MEASUREMENT: Final = Characteristic(
    GLUCOSE_MEASUREMENT_UUID, "Glucose Measurement", decode_glucose_measurement, encode_glucose_measurement
)
CHARACTERISTICS: Final = (GLUCOSE_MEASUREMENT,)
