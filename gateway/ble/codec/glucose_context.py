"""Glucose Measurement Context (0x2A34), GLS 1.0: meal, carbs, exercise, medication, HbA1c for one record.

Layout: `flags u8 | sequence u16 | [ext flags u8] | [carb id u8 + carb SFLOAT kg] | [meal u8] | [tester/health
u8] | [exercise duration u16 s + intensity u8 %] | [medication id u8 + SFLOAT kg or L] | [HbA1c SFLOAT %]`.
Paired to its measurement by `sequence`. Trailing bytes are kept in `trailing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.codes import CodeEnum
from gateway.ble.codec.errors import EncodeError
from gateway.ble.codec.numbers import decode_sfloat, encode_sfloat
from gateway.ble.codec.wire import U8, U16, Buffer, check_uint, require, span

GLUCOSE_CONTEXT_UUID: Final = 0x2A34

_FLAG_CARBS: Final = 0x01
_FLAG_MEAL: Final = 0x02
_FLAG_TESTER_HEALTH: Final = 0x04
_FLAG_EXERCISE: Final = 0x08
_FLAG_MEDICATION: Final = 0x10
_FLAG_MEDICATION_LITERS: Final = 0x20
_FLAG_HBA1C: Final = 0x40
_FLAG_EXTENDED: Final = 0x80

EXERCISE_DURATION_OVERRUN: Final = 0xFFFF
"""Exercise duration 0xFFFF: longer than the field can count (GLS)."""

_HEAD: Final = Struct("<BH")
_ID_SFLOAT: Final = Struct("<BH")
_EXERCISE: Final = Struct("<HB")


class CarbohydrateId(CodeEnum):
    BREAKFAST = 1
    LUNCH = 2
    DINNER = 3
    SNACK = 4
    DRINK = 5
    SUPPER = 6
    BRUNCH = 7


class Meal(CodeEnum):
    PREPRANDIAL = 1
    POSTPRANDIAL = 2
    FASTING = 3
    CASUAL = 4
    BEDTIME = 5


class SampleTester(CodeEnum):
    SELF = 1
    HEALTH_CARE_PROFESSIONAL = 2
    LAB_TEST = 3
    NOT_AVAILABLE = 15


class Health(CodeEnum):
    MINOR_HEALTH_ISSUES = 1
    MAJOR_HEALTH_ISSUES = 2
    DURING_MENSES = 3
    UNDER_STRESS = 4
    NO_HEALTH_ISSUES = 5
    NOT_AVAILABLE = 15


class MedicationId(CodeEnum):
    RAPID_ACTING_INSULIN = 1
    SHORT_ACTING_INSULIN = 2
    INTERMEDIATE_ACTING_INSULIN = 3
    LONG_ACTING_INSULIN = 4
    PRE_MIXED_INSULIN = 5


class MedicationUnit(Enum):
    """Flag bit 5: medication quantity in kilograms (0) or litres (1)."""

    KILOGRAMS = "kg"
    LITERS = "L"


@dataclass(frozen=True, slots=True)
class GlucoseContext:
    """Context for the glucose record with the same `sequence`. Absent parts are `None`."""

    kind: ClassVar[str] = "glucose_context"

    sequence: int
    extended_flags: int | None = None
    carbohydrate_id: CarbohydrateId | None = None
    carbohydrate_kg: float | None = None
    meal: Meal | None = None
    tester: SampleTester | None = None
    health: Health | None = None
    exercise_duration_s: int | None = None
    exercise_intensity_percent: int | None = None
    medication_id: MedicationId | None = None
    medication: float | None = None
    medication_unit: MedicationUnit = MedicationUnit.KILOGRAMS
    hba1c_percent: float | None = None
    trailing: bytes = b""

    @property
    def carbohydrate_grams(self) -> float | None:
        """Carbohydrate in grams (the wire unit is kilograms)."""
        return None if self.carbohydrate_kg is None else round(self.carbohydrate_kg * 1000, 6)


_C: Final = "0x2A34"
_HEAD_SPAN = span(("flags", 1), ("sequence", 2))
_EXT_SPAN = span(("extended_flags", 1))
_CARB_SPAN = span(("carbohydrate_id", 1), ("carbohydrate", 2))
_MEAL_SPAN = span(("meal", 1))
_TESTER_SPAN = span(("tester_health", 1))
_EXERCISE_SPAN = span(("exercise_duration", 2), ("exercise_intensity", 1))
_MEDICATION_SPAN = span(("medication_id", 1), ("medication", 2))
_HBA1C_SPAN = span(("hba1c", 2))


def decode_glucose_context(data: Buffer) -> GlucoseContext:
    """Glucose Measurement Context 0x2A34."""
    require(_C, data, 0, _HEAD_SPAN)
    flags, sequence = _HEAD.unpack_from(data, 0)
    offset = 3
    ext = carb_id = carb = meal = tester = health = duration = intensity = med_id = med = hba1c = None
    if flags & _FLAG_EXTENDED:
        require(_C, data, offset, _EXT_SPAN)
        ext = data[offset]
        offset += 1
    if flags & _FLAG_CARBS:
        require(_C, data, offset, _CARB_SPAN)
        raw_id, raw = _ID_SFLOAT.unpack_from(data, offset)
        carb_id, carb = CarbohydrateId(raw_id), decode_sfloat(raw)
        offset += 3
    if flags & _FLAG_MEAL:
        require(_C, data, offset, _MEAL_SPAN)
        meal = Meal(data[offset])
        offset += 1
    if flags & _FLAG_TESTER_HEALTH:
        require(_C, data, offset, _TESTER_SPAN)
        tester, health = SampleTester(data[offset] & 0x0F), Health(data[offset] >> 4)
        offset += 1
    if flags & _FLAG_EXERCISE:
        require(_C, data, offset, _EXERCISE_SPAN)
        duration, intensity = _EXERCISE.unpack_from(data, offset)
        offset += 3
    if flags & _FLAG_MEDICATION:
        require(_C, data, offset, _MEDICATION_SPAN)
        raw_id, raw = _ID_SFLOAT.unpack_from(data, offset)
        med_id, med = MedicationId(raw_id), decode_sfloat(raw)
        offset += 3
    if flags & _FLAG_HBA1C:
        require(_C, data, offset, _HBA1C_SPAN)
        hba1c = decode_sfloat(U16.unpack_from(data, offset)[0])
        offset += 2
    unit = MedicationUnit.LITERS if flags & _FLAG_MEDICATION_LITERS else MedicationUnit.KILOGRAMS
    return GlucoseContext(
        sequence,
        ext,
        carb_id,
        carb,
        meal,
        tester,
        health,
        duration,
        intensity,
        med_id,
        med,
        unit,
        hba1c,
        bytes(data[offset:]),
    )


def _together(value: GlucoseContext, key: str, dependent: str) -> bool:
    """Whether the group led by `key` is sent; a value without its id cannot be encoded."""
    if getattr(value, key) is not None:
        return True
    if getattr(value, dependent) is not None:
        raise EncodeError(f"{key} must be set when {dependent} is")
    return False


def encode_glucose_context(value: GlucoseContext) -> bytes:
    """Inverse of `decode_glucose_context`. A group is sent when its id/code field is set (`None` SFLOAT ->
    NaN)."""
    flags = _FLAG_MEDICATION_LITERS if value.medication_unit is MedicationUnit.LITERS else 0
    parts = [b""]
    if value.extended_flags is not None:
        flags |= _FLAG_EXTENDED
        parts.append(U8.pack(check_uint(value.extended_flags, 8, "extended_flags")))
    if _together(value, "carbohydrate_id", "carbohydrate_kg"):
        assert value.carbohydrate_id is not None
        flags |= _FLAG_CARBS
        parts.append(
            _ID_SFLOAT.pack(
                check_uint(value.carbohydrate_id, 8, "carbohydrate_id"), encode_sfloat(value.carbohydrate_kg)
            )
        )
    if value.meal is not None:
        flags |= _FLAG_MEAL
        parts.append(U8.pack(check_uint(value.meal, 8, "meal")))
    if (value.tester is None) != (value.health is None):
        raise EncodeError("tester and health share one byte: set both or neither")
    if value.tester is not None and value.health is not None:
        flags |= _FLAG_TESTER_HEALTH
        parts.append(
            U8.pack(check_uint(value.health, 4, "health") << 4 | check_uint(value.tester, 4, "tester"))
        )
    if (value.exercise_duration_s is None) != (value.exercise_intensity_percent is None):
        raise EncodeError("exercise duration and intensity travel together: set both or neither")
    if value.exercise_duration_s is not None and value.exercise_intensity_percent is not None:
        flags |= _FLAG_EXERCISE
        parts.append(
            _EXERCISE.pack(
                check_uint(value.exercise_duration_s, 16, "exercise_duration_s"),
                check_uint(value.exercise_intensity_percent, 8, "exercise_intensity_percent"),
            )
        )
    if _together(value, "medication_id", "medication"):
        assert value.medication_id is not None
        flags |= _FLAG_MEDICATION
        parts.append(
            _ID_SFLOAT.pack(
                check_uint(value.medication_id, 8, "medication_id"), encode_sfloat(value.medication)
            )
        )
    if value.hba1c_percent is not None:
        flags |= _FLAG_HBA1C
        parts.append(U16.pack(encode_sfloat(value.hba1c_percent)))
    parts[0] = _HEAD.pack(flags, check_uint(value.sequence, 16, "sequence"))
    parts.append(value.trailing)
    return b"".join(parts)


GLUCOSE_CONTEXT: Final = Characteristic(
    GLUCOSE_CONTEXT_UUID, "Glucose Measurement Context", decode_glucose_context, encode_glucose_context
)
CHARACTERISTICS: Final = (GLUCOSE_CONTEXT,)
