"""Readings: one measurement of one device, in canonical units, with how its time was obtained.

The contract checks shape and physics (finite, positive, canonical units, consistent time fields);
clinical plausibility is judged separately by `broker.plausibility`, which flags and never rejects.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from broker.contract.fields import (
    BleAddress,
    Counter,
    DeviceClock,
    DeviceId,
    FiniteFloat,
    Label64,
    Measure,
    UtcDatetime,
)
from broker.contract.version import ContractModel
from broker.units import GlucoseUnit, MassUnit, PressureUnit


class ReadingKind(StrEnum):
    """What a reading measures; the `kind` discriminator of `Reading`."""

    BLOOD_PRESSURE = "blood_pressure"
    GLUCOSE = "glucose"
    WEIGHT = "weight"


class TimeSource(StrEnum):
    """How `measured_at` was obtained."""

    DEVICE_CORRECTED = "device_corrected"
    """Device clock corrected by the hub's estimate of the device-minus-hub offset."""
    DEVICE_RAW = "device_raw"
    """Device clock used as is (no offset estimate yet, or the profile trusts the clock)."""
    HUB_RECEIPT = "hub_receipt"
    """The device sent no time; the hub's receive time is used."""


class ReadingSource(StrEnum):
    """How the reading reached the hub; only `ble` counts as an RPM data day (automatic transmission)."""

    BLE = "ble"
    MANUAL = "manual"


class StatusFlag(StrEnum):
    """Status flag names for the SIG status bits, so every decoder spells them the same way.

    `status` accepts other snake_case names too (vendor flags, flags added in a MINOR version).
    """

    # Blood Pressure Measurement status (BLS 0x2A35)
    BODY_MOVEMENT = "body_movement"
    CUFF_TOO_LOOSE = "cuff_too_loose"
    IRREGULAR_PULSE = "irregular_pulse"
    PULSE_ABOVE_RANGE = "pulse_above_range"
    PULSE_BELOW_RANGE = "pulse_below_range"
    IMPROPER_POSITION = "improper_position"
    # Glucose Measurement sensor status annunciation (GLS 0x2A18)
    BATTERY_LOW = "battery_low"
    SENSOR_MALFUNCTION = "sensor_malfunction"
    SAMPLE_TOO_SMALL = "sample_too_small"
    STRIP_INSERTION_ERROR = "strip_insertion_error"
    WRONG_STRIP_TYPE = "wrong_strip_type"
    RESULT_ABOVE_RANGE = "result_above_range"
    RESULT_BELOW_RANGE = "result_below_range"
    TEMPERATURE_TOO_HIGH = "temperature_too_high"
    TEMPERATURE_TOO_LOW = "temperature_too_low"
    READ_INTERRUPTED = "read_interrupted"
    GENERAL_FAULT = "general_fault"
    TIME_FAULT = "time_fault"


STATUS_FLAG_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_STATUS_FLAG_RE = re.compile(STATUS_FLAG_PATTERN)
MAX_STATUS_FLAGS = 32
"""The SIG status fields are 16 bits wide; 32 leaves room for vendor flags and stops runaway lists."""


def _status(flags: tuple[str, ...]) -> tuple[str, ...]:
    for flag in flags:
        if _STATUS_FLAG_RE.fullmatch(flag) is None:
            raise PydanticCustomError(
                "status_flag",
                "status flag '{flag}' must be snake_case (a-z, 0-9, _), 1-64 characters",
                {"flag": flag},
            )
    return tuple(sorted(set(flags)))


StatusFlags = Annotated[
    tuple[str, ...],
    Field(
        max_length=MAX_STATUS_FLAGS,
        json_schema_extra={"items": {"type": "string", "pattern": STATUS_FLAG_PATTERN}},
    ),
    AfterValidator(_status),
]


class DeviceRef(ContractModel):
    """The device that took a reading. The hub knows devices, never patients."""

    device_id: DeviceId = Field(
        description="Stable id: serial number from Device Information, else BLE address."
    )
    model: Label64
    profile: Label64 = Field(description="Name of the firmware profile that decoded the reading.")
    firmware: Label64 | None = None
    serial: Label64 | None = None
    address: BleAddress | None = None


class BaseReading(ContractModel):
    """Fields every reading carries, whatever it measures."""

    reading_id: uuid.UUID = Field(
        description="Deterministic id (strategy rpm-reading-id/v1, see reading_id_for)."
    )
    device: DeviceRef
    measured_at: UtcDatetime = Field(
        description="When the measurement was taken, UTC, after clock correction."
    )
    device_time: DeviceClock | None = Field(default=None, description="Raw device clock value, no time zone.")
    time_source: TimeSource
    clock_offset_s: FiniteFloat | None = Field(
        default=None, description="Device clock minus hub clock, in seconds, as estimated by the hub."
    )
    received_at: UtcDatetime = Field(description="When the hub received the reading (hub clock), UTC.")
    source: ReadingSource = ReadingSource.BLE
    user_index: int | None = Field(default=None, ge=0, le=255, description="User slot on multi-user devices.")
    sequence: Counter | None = Field(default=None, description="The device's record sequence number, if any.")
    status: StatusFlags = Field(default=(), description="Device status flags, unique and sorted.")

    @model_validator(mode="after")
    def _time_fields_agree(self) -> BaseReading:
        """`time_source` says where `measured_at` came from; the other time fields must agree with it."""
        if self.time_source is TimeSource.HUB_RECEIPT and self.device_time is not None:
            raise PydanticCustomError(
                "time_source", "time_source hub_receipt means the device sent no time, but device_time is set"
            )
        if self.time_source is not TimeSource.HUB_RECEIPT and self.device_time is None:
            raise PydanticCustomError(
                "time_source",
                "time_source {source} needs device_time (the raw device clock value)",
                {"source": self.time_source.value},
            )
        if self.time_source is TimeSource.DEVICE_CORRECTED and self.clock_offset_s is None:
            raise PydanticCustomError(
                "time_source", "time_source device_corrected needs clock_offset_s (the offset applied)"
            )
        return self


class BloodPressureReading(BaseReading):
    """A cuff reading (BLS 0x2A35)."""

    kind: Literal["blood_pressure"] = "blood_pressure"
    systolic_mmhg: Measure
    diastolic_mmhg: Measure
    mean_arterial_mmhg: Measure | None = None
    pulse_bpm: Measure | None = None
    device_unit: PressureUnit


class GlucoseSpecimen(StrEnum):
    """Sample type (GLS type nibble 1-9). Control solution (10) is absent on purpose: no patient reading."""

    CAPILLARY_WHOLE_BLOOD = "capillary_whole_blood"
    CAPILLARY_PLASMA = "capillary_plasma"
    VENOUS_WHOLE_BLOOD = "venous_whole_blood"
    VENOUS_PLASMA = "venous_plasma"
    ARTERIAL_WHOLE_BLOOD = "arterial_whole_blood"
    ARTERIAL_PLASMA = "arterial_plasma"
    UNDETERMINED_WHOLE_BLOOD = "undetermined_whole_blood"
    UNDETERMINED_PLASMA = "undetermined_plasma"
    INTERSTITIAL_FLUID = "interstitial_fluid"


class SampleLocation(StrEnum):
    """Sample location (GLS location nibble). Control solution (4) is deliberately absent."""

    FINGER = "finger"
    ALTERNATE_SITE = "alternate_site"
    EARLOBE = "earlobe"
    NOT_AVAILABLE = "not_available"


class Meal(StrEnum):
    """Meal context (GLS Measurement Context 0x2A34, meal field 1-5)."""

    PREPRANDIAL = "preprandial"
    POSTPRANDIAL = "postprandial"
    FASTING = "fasting"
    CASUAL = "casual"
    BEDTIME = "bedtime"


class GlucoseReading(BaseReading):
    """A glucometer reading (GLS 0x2A18, with its context 0x2A34 when the meter sent one)."""

    kind: Literal["glucose"] = "glucose"
    glucose_mg_dl: Measure
    device_unit: GlucoseUnit
    specimen: GlucoseSpecimen | None = None
    sample_location: SampleLocation | None = None
    meal: Meal | None = None


class WeightReading(BaseReading):
    """A scale reading (WSS 0x2A9D); the scale sends BMI and height together or neither."""

    kind: Literal["weight"] = "weight"
    weight_kg: Measure
    bmi: Measure | None = Field(
        default=None, description="Body mass index in kg/m2, as the scale computed it."
    )
    height_m: Measure | None = None
    device_unit: MassUnit


Reading = Annotated[BloodPressureReading | GlucoseReading | WeightReading, Field(discriminator="kind")]
"""Any reading; `kind` selects the model."""

READING_MODELS: dict[ReadingKind, type[BaseReading]] = {
    ReadingKind.BLOOD_PRESSURE: BloodPressureReading,
    ReadingKind.GLUCOSE: GlucoseReading,
    ReadingKind.WEIGHT: WeightReading,
}
"""The model of each kind (a test checks it agrees with each model's `kind` literal)."""
