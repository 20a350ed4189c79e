"""Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36), BLS 1.1.

Layout: `flags u8 | systolic SFLOAT | diastolic SFLOAT | MAP SFLOAT | [Date Time] | [pulse SFLOAT] | [user id
u8] | [status u16]`. Values are kept in the device's unit; `*_mmhg` properties give the canonical unit.
Trailing bytes after the last flagged field are accepted and kept in `trailing` (the SIG lets later spec
versions append fields); reserved flag and status bits are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.codes import CodeEnum
from gateway.ble.codec.date_time import DATE_TIME_SIZE, DeviceDateTime, pack_date_time, read_date_time
from gateway.ble.codec.errors import EncodeError
from gateway.ble.codec.numbers import decode_sfloat, encode_sfloat
from gateway.ble.codec.wire import U8, U16, Buffer, Span, check_uint, require, span

BLOOD_PRESSURE_MEASUREMENT_UUID: Final = 0x2A35
INTERMEDIATE_CUFF_PRESSURE_UUID: Final = 0x2A36

MMHG_PER_KPA: Final = 7.50062
"""1 kPa = 7.50062 mmHg (DESIGN.md conversions; 760 mmHg / 101.325 kPa)."""
MMHG_DECIMALS: Final = 1
"""A kPa cuff resolves 0.1 kPa = 0.75 mmHg, so one decimal keeps all it measured and drops float noise."""

UNKNOWN_USER: Final = 0xFF
"""User ID 0xFF: the device does not know who measured (BLS)."""

_FLAG_KPA: Final = 0x01
_FLAG_TIME_STAMP: Final = 0x02
_FLAG_PULSE_RATE: Final = 0x04
_FLAG_USER_ID: Final = 0x08
_FLAG_STATUS: Final = 0x10

_HEAD: Final = Struct("<BHHH")
_NAN: Final = 0x07FF


class PressureUnit(Enum):
    """Unit the cuff reported in (flag bit 0)."""

    MMHG = "mmHg"
    KPA = "kPa"


class PulseRateRange(CodeEnum):
    """Measurement status bits 3-4."""

    IN_RANGE = 0
    ABOVE_UPPER_LIMIT = 1
    BELOW_LOWER_LIMIT = 2
    RESERVED = 3


_PULSE_RATE_RANGES: Final = tuple(PulseRateRange)
"""Indexed by the two status bits, cheaper than an Enum call per reading."""


@dataclass(frozen=True, slots=True)
class BloodPressureStatus:
    """Measurement Status as named flags; the device sets them, we never infer them."""

    body_movement: bool = False
    cuff_too_loose: bool = False
    irregular_pulse: bool = False
    pulse_rate_range: PulseRateRange = PulseRateRange.IN_RANGE
    improper_position: bool = False

    @classmethod
    def from_raw(cls, raw: int) -> BloodPressureStatus:
        return cls(
            bool(raw & 0x01),
            bool(raw & 0x02),
            bool(raw & 0x04),
            _PULSE_RATE_RANGES[(raw >> 3) & 0x03],
            bool(raw & 0x20),
        )

    def to_raw(self) -> int:
        return (
            int(self.body_movement)
            | int(self.cuff_too_loose) << 1
            | int(self.irregular_pulse) << 2
            | (int(self.pulse_rate_range) & 0x03) << 3
            | int(self.improper_position) << 5
        )


def to_mmhg(value: float | None, unit: PressureUnit) -> float | None:
    """A pressure in mmHg, converting kPa."""
    if value is None or unit is PressureUnit.MMHG:
        return value
    return round(value * MMHG_PER_KPA, MMHG_DECIMALS)


@dataclass(frozen=True, slots=True)
class BloodPressureMeasurement:
    """One cuff reading. `None` pressures/pulse are SFLOAT special values (the cuff had no value)."""

    kind: ClassVar[str] = "blood_pressure"

    unit: PressureUnit
    systolic: float | None
    diastolic: float | None
    mean_arterial: float | None
    time_stamp: DeviceDateTime | None = None
    pulse_rate: float | None = None
    user_id: int | None = None
    status: BloodPressureStatus | None = None
    trailing: bytes = b""

    @property
    def systolic_mmhg(self) -> float | None:
        return to_mmhg(self.systolic, self.unit)

    @property
    def diastolic_mmhg(self) -> float | None:
        return to_mmhg(self.diastolic, self.unit)

    @property
    def mean_arterial_mmhg(self) -> float | None:
        return to_mmhg(self.mean_arterial, self.unit)

    @property
    def pulse_bpm(self) -> float | None:
        return self.pulse_rate

    @property
    def measured_at(self) -> datetime | None:
        """Device-local time stamp, `None` if absent or unknown."""
        return self.time_stamp.value if self.time_stamp is not None else None

    @property
    def user_index(self) -> int | None:
        """The user number, `None` when absent or 0xFF (unknown user)."""
        return None if self.user_id is None or self.user_id == UNKNOWN_USER else self.user_id


@dataclass(frozen=True, slots=True)
class IntermediateCuffPressure:
    """Cuff pressure while inflating/deflating: progress for a UI, never a reading."""

    kind: ClassVar[str] = "intermediate_cuff_pressure"

    unit: PressureUnit
    cuff_pressure: float | None
    time_stamp: DeviceDateTime | None = None
    pulse_rate: float | None = None
    user_id: int | None = None
    status: BloodPressureStatus | None = None
    trailing: bytes = b""

    @property
    def cuff_pressure_mmhg(self) -> float | None:
        return to_mmhg(self.cuff_pressure, self.unit)

    @property
    def measured_at(self) -> datetime | None:
        return self.time_stamp.value if self.time_stamp is not None else None

    @property
    def user_index(self) -> int | None:
        return None if self.user_id is None or self.user_id == UNKNOWN_USER else self.user_id


_BP_HEAD = span(("flags", 1), ("systolic", 2), ("diastolic", 2), ("mean_arterial", 2))
_ICP_HEAD = span(("flags", 1), ("cuff_pressure", 2), ("unused_diastolic", 2), ("unused_mean_arterial", 2))
_PULSE = span(("pulse_rate", 2))
_USER = span(("user_id", 1))
_STATUS = span(("status", 2))

_Common = tuple[
    PressureUnit,
    int,
    int,
    int,
    DeviceDateTime | None,
    float | None,
    int | None,
    BloodPressureStatus | None,
    bytes,
]


def _decode_common(characteristic: str, data: Buffer, head: Span) -> _Common:
    """Both characteristics share one layout; only the meaning of the three pressures differs."""
    require(characteristic, data, 0, head)
    flags, first, second, third = _HEAD.unpack_from(data, 0)
    offset = 7
    time_stamp = pulse = user_id = status = None
    if flags & _FLAG_TIME_STAMP:
        time_stamp = read_date_time(characteristic, data, offset, "time_stamp")
        offset += DATE_TIME_SIZE
    if flags & _FLAG_PULSE_RATE:
        require(characteristic, data, offset, _PULSE)
        pulse = decode_sfloat(U16.unpack_from(data, offset)[0])
        offset += 2
    if flags & _FLAG_USER_ID:
        require(characteristic, data, offset, _USER)
        user_id = data[offset]
        offset += 1
    if flags & _FLAG_STATUS:
        require(characteristic, data, offset, _STATUS)
        status = BloodPressureStatus.from_raw(U16.unpack_from(data, offset)[0])
        offset += 2
    unit = PressureUnit.KPA if flags & _FLAG_KPA else PressureUnit.MMHG
    return unit, first, second, third, time_stamp, pulse, user_id, status, bytes(data[offset:])


def decode_blood_pressure_measurement(data: Buffer) -> BloodPressureMeasurement:
    """Blood Pressure Measurement 0x2A35."""
    unit, sys_raw, dia_raw, map_raw, time_stamp, pulse, user_id, status, trailing = _decode_common(
        "0x2A35", data, _BP_HEAD
    )
    return BloodPressureMeasurement(
        unit,
        decode_sfloat(sys_raw),
        decode_sfloat(dia_raw),
        decode_sfloat(map_raw),
        time_stamp,
        pulse,
        user_id,
        status,
        trailing,
    )


def decode_intermediate_cuff_pressure(data: Buffer) -> IntermediateCuffPressure:
    """Intermediate Cuff Pressure 0x2A36: only the first value means anything (BLS sets the others to NaN)."""
    unit, cuff_raw, _, _, time_stamp, pulse, user_id, status, trailing = _decode_common(
        "0x2A36", data, _ICP_HEAD
    )
    return IntermediateCuffPressure(
        unit, decode_sfloat(cuff_raw), time_stamp, pulse, user_id, status, trailing
    )


def _encode_common(
    unit: PressureUnit,
    pressures: tuple[int, int, int],
    time_stamp: DeviceDateTime | None,
    pulse_rate: float | None,
    user_id: int | None,
    status: BloodPressureStatus | None,
    trailing: bytes,
) -> bytes:
    flags = _FLAG_KPA if unit is PressureUnit.KPA else 0
    parts = [b""]
    if time_stamp is not None:
        if time_stamp.trailing:
            raise EncodeError("an embedded time stamp cannot carry trailing bytes")
        flags |= _FLAG_TIME_STAMP
        parts.append(pack_date_time(time_stamp))
    if pulse_rate is not None:
        flags |= _FLAG_PULSE_RATE
        parts.append(U16.pack(encode_sfloat(pulse_rate)))
    if user_id is not None:
        flags |= _FLAG_USER_ID
        parts.append(U8.pack(check_uint(user_id, 8, "user_id")))
    if status is not None:
        flags |= _FLAG_STATUS
        parts.append(U16.pack(status.to_raw()))
    parts[0] = _HEAD.pack(flags, *pressures)
    parts.append(trailing)
    return b"".join(parts)


def encode_blood_pressure_measurement(value: BloodPressureMeasurement) -> bytes:
    """Inverse of `decode_blood_pressure_measurement`; `None` values are sent as NaN, absent pulse omitted."""
    pressures = (
        encode_sfloat(value.systolic),
        encode_sfloat(value.diastolic),
        encode_sfloat(value.mean_arterial),
    )
    return _encode_common(
        value.unit, pressures, value.time_stamp, value.pulse_rate, value.user_id, value.status, value.trailing
    )


def encode_intermediate_cuff_pressure(value: IntermediateCuffPressure) -> bytes:
    """Inverse of `decode_intermediate_cuff_pressure`; diastolic and MAP are sent as NaN as BLS requires."""
    pressures = (encode_sfloat(value.cuff_pressure), _NAN, _NAN)
    return _encode_common(
        value.unit, pressures, value.time_stamp, value.pulse_rate, value.user_id, value.status, value.trailing
    )


BLOOD_PRESSURE_MEASUREMENT: Final = Characteristic(
    BLOOD_PRESSURE_MEASUREMENT_UUID,
    "Blood Pressure Measurement",
    decode_blood_pressure_measurement,
    encode_blood_pressure_measurement,
)
INTERMEDIATE_CUFF_PRESSURE: Final = Characteristic(
    INTERMEDIATE_CUFF_PRESSURE_UUID,
    "Intermediate Cuff Pressure",
    decode_intermediate_cuff_pressure,
    encode_intermediate_cuff_pressure,
)
CHARACTERISTICS: Final = (BLOOD_PRESSURE_MEASUREMENT, INTERMEDIATE_CUFF_PRESSURE)
