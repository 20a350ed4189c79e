"""Weight Measurement (0x2A9D), WSS 1.0.

Layout: `flags u8 | weight u16 | [Date Time] | [user id u8] | [BMI u16 + height u16]` (one flag for BMI and
height). Weight 0xFFFF means the measurement failed: `weight` is `None`. Trailing bytes are kept in
`trailing`; reserved flag bits are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.date_time import DATE_TIME_SIZE, DeviceDateTime, pack_date_time, read_date_time
from gateway.ble.codec.errors import EncodeError
from gateway.ble.codec.units import (
    HEIGHT_SCALE,
    MASS_SCALE,
    MEASUREMENT_UNSUCCESSFUL,
    TENTHS,
    UNKNOWN_USER,
    MeasurementSystem,
    to_kg,
    to_m,
)
from gateway.ble.codec.wire import U8, Buffer, check_uint, require, scale_to_raw, span

WEIGHT_MEASUREMENT_UUID: Final = 0x2A9D

_FLAG_IMPERIAL: Final = 0x01
_FLAG_TIME_STAMP: Final = 0x02
_FLAG_USER_ID: Final = 0x04
_FLAG_BMI_HEIGHT: Final = 0x08

_HEAD: Final = Struct("<BH")
_BMI_HEIGHT: Final = Struct("<HH")


@dataclass(frozen=True, slots=True)
class WeightMeasurement:
    """One weighing, values in the scale's unit system; `*_kg`/`height_m` give canonical units."""

    kind: ClassVar[str] = "weight"

    unit: MeasurementSystem
    weight: float | None
    time_stamp: DeviceDateTime | None = None
    user_id: int | None = None
    bmi: float | None = None
    height: float | None = None
    trailing: bytes = b""

    @property
    def measurement_unsuccessful(self) -> bool:
        """The scale sent 0xFFFF: it could not weigh."""
        return self.weight is None

    @property
    def weight_kg(self) -> float | None:
        return to_kg(self.weight, self.unit)

    @property
    def height_m(self) -> float | None:
        return to_m(self.height, self.unit)

    @property
    def measured_at(self) -> datetime | None:
        return self.time_stamp.value if self.time_stamp is not None else None

    @property
    def user_index(self) -> int | None:
        """The user number, `None` when absent or 0xFF (unknown user)."""
        return None if self.user_id is None or self.user_id == UNKNOWN_USER else self.user_id


_C: Final = "0x2A9D"
_HEAD_SPAN = span(("flags", 1), ("weight", 2))
_USER_SPAN = span(("user_id", 1))
_BMI_HEIGHT_SPAN = span(("bmi", 2), ("height", 2))


def decode_weight_measurement(data: Buffer) -> WeightMeasurement:
    """Weight Measurement 0x2A9D."""
    require(_C, data, 0, _HEAD_SPAN)
    flags, raw_weight = _HEAD.unpack_from(data, 0)
    system = MeasurementSystem.IMPERIAL if flags & _FLAG_IMPERIAL else MeasurementSystem.SI
    offset = 3
    time_stamp = user_id = bmi = height = None
    if flags & _FLAG_TIME_STAMP:
        time_stamp = read_date_time(_C, data, offset, "time_stamp")
        offset += DATE_TIME_SIZE
    if flags & _FLAG_USER_ID:
        require(_C, data, offset, _USER_SPAN)
        user_id = data[offset]
        offset += 1
    if flags & _FLAG_BMI_HEIGHT:
        require(_C, data, offset, _BMI_HEIGHT_SPAN)
        raw_bmi, raw_height = _BMI_HEIGHT.unpack_from(data, offset)
        numerator, denominator = HEIGHT_SCALE[system]
        bmi, height = raw_bmi / 10, raw_height * numerator / denominator
        offset += 4
    weight = None
    if raw_weight != MEASUREMENT_UNSUCCESSFUL:
        numerator, denominator = MASS_SCALE[system]
        weight = raw_weight * numerator / denominator
    return WeightMeasurement(system, weight, time_stamp, user_id, bmi, height, bytes(data[offset:]))


def encode_weight_measurement(value: WeightMeasurement) -> bytes:
    """Inverse of `decode_weight_measurement`; `weight=None` is sent as 0xFFFF (measurement unsuccessful)."""
    flags = _FLAG_IMPERIAL if value.unit is MeasurementSystem.IMPERIAL else 0
    if value.weight is None:
        raw_weight = MEASUREMENT_UNSUCCESSFUL
    else:
        raw_weight = scale_to_raw(value.weight, *MASS_SCALE[value.unit], 16, "weight")
        if raw_weight == MEASUREMENT_UNSUCCESSFUL:
            raise EncodeError(
                f"weight {value.weight} encodes as 0xFFFF, which means 'measurement unsuccessful'"
            )
    parts = [b""]
    if value.time_stamp is not None:
        if value.time_stamp.trailing:
            raise EncodeError("an embedded time stamp cannot carry trailing bytes")
        flags |= _FLAG_TIME_STAMP
        parts.append(pack_date_time(value.time_stamp))
    if value.user_id is not None:
        flags |= _FLAG_USER_ID
        parts.append(U8.pack(check_uint(value.user_id, 8, "user_id")))
    if (value.bmi is None) != (value.height is None):
        raise EncodeError("BMI and height share one flag: set both or neither")
    if value.bmi is not None and value.height is not None:
        flags |= _FLAG_BMI_HEIGHT
        parts.append(
            _BMI_HEIGHT.pack(
                scale_to_raw(value.bmi, *TENTHS, 16, "bmi"),
                scale_to_raw(value.height, *HEIGHT_SCALE[value.unit], 16, "height"),
            )
        )
    parts[0] = _HEAD.pack(flags, raw_weight)
    parts.append(value.trailing)
    return b"".join(parts)


WEIGHT_MEASUREMENT: Final = Characteristic(
    WEIGHT_MEASUREMENT_UUID, "Weight Measurement", decode_weight_measurement, encode_weight_measurement
)
CHARACTERISTICS: Final = (WEIGHT_MEASUREMENT,)
