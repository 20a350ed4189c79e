"""Flatten a decoded value into canonical, JSON-ready fields (`systolic_mmhg`, `measured_at`, named flags...).

Reading kinds always carry every canonical field of their kind, `None` where the payload did not, so consumers
never have to ask whether a key exists. The device's own unit and values are kept next to the canonical ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from gateway.ble.codec.battery import BatteryLevel
from gateway.ble.codec.blood_pressure import (
    BloodPressureMeasurement,
    BloodPressureStatus,
    IntermediateCuffPressure,
)
from gateway.ble.codec.body_composition import BodyComposition
from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.codes import CodeEnum
from gateway.ble.codec.date_time import CurrentTime, DeviceDateTime
from gateway.ble.codec.device_info import DeviceInformationString, PnpId, SystemId
from gateway.ble.codec.glucose import GlucoseMeasurement, GlucoseSensorStatus
from gateway.ble.codec.glucose_context import GlucoseContext
from gateway.ble.codec.racp import RacpRecordCount, RacpRequest, RacpResponse
from gateway.ble.codec.weight import WeightMeasurement

Fields = dict[str, Any]

_BP_STATUS_FIELDS = (
    "body_movement",
    "cuff_too_loose",
    "irregular_pulse",
    "pulse_rate_range",
    "improper_position",
)
_GLUCOSE_STATUS_FIELDS = tuple(GlucoseSensorStatus.__dataclass_fields__)


def _plain(value: Any) -> Any:
    """JSON-friendly scalar: enum codes as lower-case names, datetimes as ISO 8601, bytes as hex."""
    if isinstance(value, CodeEnum):
        return value.label
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, DeviceDateTime):
        return _date_time(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _date_time(value: DeviceDateTime | None) -> Fields | None:
    if value is None:
        return None
    return _device_date_time(value)


def _bp_status(status: BloodPressureStatus | None) -> Fields:
    if status is None:
        return dict.fromkeys(_BP_STATUS_FIELDS)
    return {name: _plain(getattr(status, name)) for name in _BP_STATUS_FIELDS}


def _blood_pressure(value: BloodPressureMeasurement) -> Fields:
    return {
        "systolic_mmhg": value.systolic_mmhg,
        "diastolic_mmhg": value.diastolic_mmhg,
        "mean_arterial_mmhg": value.mean_arterial_mmhg,
        "pulse_bpm": value.pulse_bpm,
        "measured_at": _plain(value.measured_at),
        "user_index": value.user_index,
        "user_id": value.user_id,
        **_bp_status(value.status),
        "unit": value.unit.value,
        "device_values": {
            "systolic": value.systolic,
            "diastolic": value.diastolic,
            "mean_arterial": value.mean_arterial,
        },
        "time_stamp": _date_time(value.time_stamp),
    }


def _cuff(value: IntermediateCuffPressure) -> Fields:
    return {
        "cuff_pressure_mmhg": value.cuff_pressure_mmhg,
        "pulse_bpm": value.pulse_rate,
        "measured_at": _plain(value.measured_at),
        "user_index": value.user_index,
        "user_id": value.user_id,
        **_bp_status(value.status),
        "unit": value.unit.value,
        "device_values": {"cuff_pressure": value.cuff_pressure},
        "time_stamp": _date_time(value.time_stamp),
    }


def _glucose(value: GlucoseMeasurement) -> Fields:
    status = value.sensor_status
    flags = status.as_dict() if status is not None else dict.fromkeys(_GLUCOSE_STATUS_FIELDS)
    return {
        "sequence": value.sequence,
        "glucose_mg_dl": value.glucose_mg_dl,
        "patient_glucose_mg_dl": value.patient_value_mg_dl,
        "is_control_solution": value.is_control_solution,
        "sample_type": _plain(value.sample_type),
        "sample_location": _plain(value.sample_location),
        "measured_at": _plain(value.measured_at),
        "user_index": None,
        **flags,
        "context_follows": value.context_follows,
        "unit": value.unit.value,
        "device_values": {"concentration": value.concentration},
        "base_time": _date_time(value.base_time),
        "time_offset_minutes": value.time_offset_minutes,
    }


def _glucose_context(value: GlucoseContext) -> Fields:
    return {
        "sequence": value.sequence,
        "carbohydrate_id": _plain(value.carbohydrate_id),
        "carbohydrate_grams": value.carbohydrate_grams,
        "meal": _plain(value.meal),
        "tester": _plain(value.tester),
        "health": _plain(value.health),
        "exercise_duration_s": value.exercise_duration_s,
        "exercise_intensity_percent": value.exercise_intensity_percent,
        "medication_id": _plain(value.medication_id),
        "medication": value.medication,
        "medication_unit": value.medication_unit.value,
        "hba1c_percent": value.hba1c_percent,
        "extended_flags": value.extended_flags,
    }


def _weight_common(value: WeightMeasurement | BodyComposition) -> Fields:
    return {
        "measured_at": _plain(value.measured_at),
        "user_index": value.user_index,
        "user_id": value.user_id,
    }


def _weight(value: WeightMeasurement) -> Fields:
    return {
        "weight_kg": value.weight_kg,
        "bmi": value.bmi,
        "height_m": value.height_m,
        **_weight_common(value),
        "measurement_unsuccessful": value.measurement_unsuccessful,
        "unit": value.unit.value,
        "device_values": {"weight": value.weight, "height": value.height},
        "time_stamp": _date_time(value.time_stamp),
    }


def _body_composition(value: BodyComposition) -> Fields:
    return {
        "body_fat_percent": value.body_fat_percent,
        "weight_kg": value.weight_kg,
        "height_m": value.height_m,
        "muscle_percent": value.muscle_percent,
        "muscle_mass_kg": value.muscle_mass_kg,
        "fat_free_mass_kg": value.fat_free_mass_kg,
        "soft_lean_mass_kg": value.soft_lean_mass_kg,
        "body_water_mass_kg": value.body_water_mass_kg,
        "basal_metabolism_kj": value.basal_metabolism_kj,
        "impedance_ohm": value.impedance_ohm,
        **_weight_common(value),
        "measurement_unsuccessful": value.measurement_unsuccessful,
        "multiple_packets": value.multiple_packets,
        "unit": value.unit.value,
        "device_values": {
            "weight": value.weight,
            "height": value.height,
            "muscle_mass": value.muscle_mass,
            "fat_free_mass": value.fat_free_mass,
            "soft_lean_mass": value.soft_lean_mass,
            "body_water_mass": value.body_water_mass,
        },
        "time_stamp": _date_time(value.time_stamp),
    }


def _racp_request(value: RacpRequest) -> Fields:
    return {
        "opcode": value.opcode.label,
        "operator": value.operator.label,
        "filter_type": _plain(value.filter_type),
        "minimum": _plain(value.minimum),
        "maximum": _plain(value.maximum),
    }


def _racp_count(value: RacpRecordCount) -> Fields:
    return {"opcode": "number_of_stored_records_response", "count": value.count}


def _racp_response(value: RacpResponse) -> Fields:
    return {
        "opcode": "response_code",
        "request_opcode": value.request_opcode.label,
        "response_code": value.response_code.label,
        "succeeded": value.succeeded,
    }


def _raw_date_time(value: DeviceDateTime) -> list[int]:
    return [value.year, value.month, value.day, value.hours, value.minutes, value.seconds]


def _device_date_time(value: DeviceDateTime) -> Fields:
    return {"value": _plain(value.value), "raw": _raw_date_time(value)}


def _current_time(value: CurrentTime) -> Fields:
    return {
        "value": _plain(value.value),
        "raw": _raw_date_time(value.date_time),
        "day_of_week": value.day_of_week,
        "fractions256": value.fractions256,
        "manual_time_update": value.adjust_reason.manual_time_update,
        "external_reference_time_update": value.adjust_reason.external_reference_time_update,
        "change_of_time_zone": value.adjust_reason.change_of_time_zone,
        "change_of_dst": value.adjust_reason.change_of_dst,
    }


def _battery(value: BatteryLevel) -> Fields:
    return {"battery_percent": value.percent}


def _dis_string(value: DeviceInformationString) -> Fields:
    return {"field": value.field.name.lower(), "value": value.value}


def _system_id(value: SystemId) -> Fields:
    return {
        "field": "system_id",
        "manufacturer_identifier": value.manufacturer_identifier,
        "organizationally_unique_identifier": value.organizationally_unique_identifier,
    }


def _pnp_id(value: PnpId) -> Fields:
    return {
        "field": "pnp_id",
        "vendor_id_source": value.vendor_id_source.label,
        "vendor_id": value.vendor_id,
        "product_id": value.product_id,
        "product_version": value.product_version,
    }


_FLATTENERS: dict[type, Callable[[Any], Fields]] = {
    BloodPressureMeasurement: _blood_pressure,
    IntermediateCuffPressure: _cuff,
    GlucoseMeasurement: _glucose,
    GlucoseContext: _glucose_context,
    RacpRequest: _racp_request,
    RacpRecordCount: _racp_count,
    RacpResponse: _racp_response,
    WeightMeasurement: _weight,
    BodyComposition: _body_composition,
    DeviceDateTime: _device_date_time,
    CurrentTime: _current_time,
    BatteryLevel: _battery,
    DeviceInformationString: _dis_string,
    SystemId: _system_id,
    PnpId: _pnp_id,
}
"""One flattener per decoded type; a test checks every registered characteristic's type is covered."""


def canonical_fields(characteristic: Characteristic[Any], value: Any) -> Fields:
    """`kind`, characteristic, canonical fields, device unit/values and any trailing bytes, JSON-ready."""
    flatten = _FLATTENERS[type(value)]
    fields: Fields = {"kind": value.kind, "characteristic": characteristic.label, "name": characteristic.name}
    fields.update(flatten(value))
    fields["trailing_bytes"] = getattr(value, "trailing", b"").hex()
    return fields
