"""Body Composition Measurement (0x2A9C), BCS 1.0.

Layout: `flags u16 | body fat u16 (0.1 %) | [Date Time] | [user id u8] | then u16 fields in flag order: basal
metabolism (kJ), muscle % (0.1), muscle mass, fat-free mass, soft lean mass, body water mass (0.005 kg / 0.01
lb), impedance (0.1 ohm), weight (mass), height (0.001 m / 0.1 in)`. Flag bit 12 says the measurement is split
over several packets: each packet is decoded on its own with `multiple_packets=True`, and `merge_packets`
joins them. Body fat 0xFFFF means the measurement failed (`body_fat_percent=None`). Trailing bytes are kept in
`trailing`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.date_time import DATE_TIME_SIZE, DeviceDateTime, pack_date_time, read_date_time
from gateway.ble.codec.errors import CodecError, EncodeError
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
from gateway.ble.codec.wire import U8, U16, Buffer, check_uint, require, scale_to_raw, span

BODY_COMPOSITION_UUID: Final = 0x2A9C

_FLAG_IMPERIAL: Final = 0x0001
_FLAG_TIME_STAMP: Final = 0x0002
_FLAG_USER_ID: Final = 0x0004
_FLAG_MULTIPLE_PACKETS: Final = 0x1000

_HEAD: Final = Struct("<HH")

_OPTIONAL_U16: Final = (
    (0x0008, "basal_metabolism_kj", "int"),
    (0x0010, "muscle_percent", "tenths"),
    (0x0020, "muscle_mass", "mass"),
    (0x0040, "fat_free_mass", "mass"),
    (0x0080, "soft_lean_mass", "mass"),
    (0x0100, "body_water_mass", "mass"),
    (0x0200, "impedance_ohm", "tenths"),
    (0x0400, "weight", "mass"),
    (0x0800, "height", "height"),
)
"""The u16 fields after the user id, in wire order: (flag bit, field name, resolution kind)."""


@dataclass(frozen=True, slots=True)
class BodyComposition:
    """One body-composition packet; masses and height in the scale's unit system."""

    kind: ClassVar[str] = "body_composition"

    unit: MeasurementSystem
    body_fat_percent: float | None
    time_stamp: DeviceDateTime | None = None
    user_id: int | None = None
    basal_metabolism_kj: int | None = None
    muscle_percent: float | None = None
    muscle_mass: float | None = None
    fat_free_mass: float | None = None
    soft_lean_mass: float | None = None
    body_water_mass: float | None = None
    impedance_ohm: float | None = None
    weight: float | None = None
    height: float | None = None
    multiple_packets: bool = False
    trailing: bytes = b""

    @property
    def measurement_unsuccessful(self) -> bool:
        return self.body_fat_percent is None

    @property
    def weight_kg(self) -> float | None:
        return to_kg(self.weight, self.unit)

    @property
    def height_m(self) -> float | None:
        return to_m(self.height, self.unit)

    @property
    def muscle_mass_kg(self) -> float | None:
        return to_kg(self.muscle_mass, self.unit)

    @property
    def fat_free_mass_kg(self) -> float | None:
        return to_kg(self.fat_free_mass, self.unit)

    @property
    def soft_lean_mass_kg(self) -> float | None:
        return to_kg(self.soft_lean_mass, self.unit)

    @property
    def body_water_mass_kg(self) -> float | None:
        return to_kg(self.body_water_mass, self.unit)

    @property
    def measured_at(self) -> datetime | None:
        return self.time_stamp.value if self.time_stamp is not None else None

    @property
    def user_index(self) -> int | None:
        return None if self.user_id is None or self.user_id == UNKNOWN_USER else self.user_id


def _scale(kind: str, system: MeasurementSystem) -> tuple[int, int]:
    if kind == "mass":
        return MASS_SCALE[system]
    if kind == "height":
        return HEIGHT_SCALE[system]
    return TENTHS if kind == "tenths" else (1, 1)


_C: Final = "0x2A9C"
_HEAD_SPAN = span(("flags", 2), ("body_fat", 2))
_USER_SPAN = span(("user_id", 1))
_FIELD_SPANS: Final = {name: span((name, 2)) for _, name, _ in _OPTIONAL_U16}


def decode_body_composition(data: Buffer) -> BodyComposition:
    """Body Composition Measurement 0x2A9C (one packet)."""
    require(_C, data, 0, _HEAD_SPAN)
    flags, raw_fat = _HEAD.unpack_from(data, 0)
    system = MeasurementSystem.IMPERIAL if flags & _FLAG_IMPERIAL else MeasurementSystem.SI
    offset = 4
    time_stamp = user_id = None
    if flags & _FLAG_TIME_STAMP:
        time_stamp = read_date_time(_C, data, offset, "time_stamp")
        offset += DATE_TIME_SIZE
    if flags & _FLAG_USER_ID:
        require(_C, data, offset, _USER_SPAN)
        user_id = data[offset]
        offset += 1
    values: list[float | int | None] = []
    for bit, name, kind in _OPTIONAL_U16:
        if not flags & bit:
            values.append(None)
            continue
        require(_C, data, offset, _FIELD_SPANS[name])
        raw = U16.unpack_from(data, offset)[0]
        offset += 2
        if kind == "int":
            values.append(raw)
        else:
            numerator, denominator = _scale(kind, system)
            values.append(raw * numerator / denominator)
    body_fat = None if raw_fat == MEASUREMENT_UNSUCCESSFUL else raw_fat / 10
    return BodyComposition(
        system,
        body_fat,
        time_stamp,
        user_id,
        *values,  # type: ignore[arg-type]
        multiple_packets=bool(flags & _FLAG_MULTIPLE_PACKETS),
        trailing=bytes(data[offset:]),
    )


def encode_body_composition(value: BodyComposition) -> bytes:
    """Inverse of `decode_body_composition`; `body_fat_percent=None` is sent as 0xFFFF."""
    flags = (_FLAG_IMPERIAL if value.unit is MeasurementSystem.IMPERIAL else 0) | (
        _FLAG_MULTIPLE_PACKETS if value.multiple_packets else 0
    )
    if value.body_fat_percent is None:
        raw_fat = MEASUREMENT_UNSUCCESSFUL
    else:
        raw_fat = scale_to_raw(value.body_fat_percent, *TENTHS, 16, "body_fat_percent")
        if raw_fat == MEASUREMENT_UNSUCCESSFUL:
            raise EncodeError("body fat 6553.5 % encodes as 0xFFFF, which means 'measurement unsuccessful'")
    parts = [b""]
    if value.time_stamp is not None:
        if value.time_stamp.trailing:
            raise EncodeError("an embedded time stamp cannot carry trailing bytes")
        flags |= _FLAG_TIME_STAMP
        parts.append(pack_date_time(value.time_stamp))
    if value.user_id is not None:
        flags |= _FLAG_USER_ID
        parts.append(U8.pack(check_uint(value.user_id, 8, "user_id")))
    for bit, name, kind in _OPTIONAL_U16:
        field_value = getattr(value, name)
        if field_value is None:
            continue
        flags |= bit
        parts.append(U16.pack(scale_to_raw(field_value, *_scale(kind, value.unit), 16, name)))
    parts[0] = _HEAD.pack(flags, raw_fat)
    parts.append(value.trailing)
    return b"".join(parts)


def merge_packets(first: BodyComposition, *rest: BodyComposition) -> BodyComposition:
    """Join the packets of one multi-packet measurement: each field from the first packet that carries it.

    Packets must share a unit system; the result has `multiple_packets=False` and no trailing bytes.
    """
    merged = {field.name: getattr(first, field.name) for field in dataclasses.fields(first)}
    for packet in rest:
        if packet.unit is not first.unit:
            raise CodecError("cannot merge body-composition packets with different unit systems")
        for name, current in merged.items():
            if current is None:
                merged[name] = getattr(packet, name)
    merged.update(multiple_packets=False, trailing=b"")
    return BodyComposition(**merged)


BODY_COMPOSITION: Final = Characteristic(
    BODY_COMPOSITION_UUID, "Body Composition Measurement", decode_body_composition, encode_body_composition
)
CHARACTERISTICS: Final = (BODY_COMPOSITION,)
