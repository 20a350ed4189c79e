"""The wire contract: round trips, rejections with their reasons, and fuzzing of `parse_message`."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from broker.contract import (
    MAX_BATCH_READINGS,
    READING_ID_NAMESPACE,
    READING_ID_STRATEGY,
    READING_MODELS,
    SCHEMA_VERSION,
    AssignedDevice,
    BloodPressureReading,
    DeviceRef,
    DeviceSeen,
    GlucoseReading,
    GlucoseSpecimen,
    HubConfig,
    HubEvent,
    HubEventType,
    HubStatus,
    Meal,
    ReadingBatch,
    ReadingKind,
    ReadingSource,
    SampleLocation,
    ScanSettings,
    TimeSource,
    UploadSettings,
    WeightReading,
    encode,
    parse_hub_message,
    parse_message,
    reading_id_for,
    reading_identity,
)
from broker.contract.events import DEVICE_EVENTS
from broker.errors import ContractError, ContractViolation, UnsupportedSchemaVersion
from broker.topics import Channel
from broker.units import GlucoseUnit, MassUnit, PressureUnit

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- strategies of valid messages

offsets = st.sampled_from(
    [UTC, dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=5, minutes=30))]
)
aware = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=offsets)
naive = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1))
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
labels = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S")), min_size=1, max_size=20)
hub_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
macs = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02X}" for x in b))
flags = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), max_size=5).map(tuple)

devices = st.builds(
    DeviceRef,
    device_id=labels,
    model=labels,
    profile=labels,
    firmware=st.none() | labels,
    serial=st.none() | labels,
    address=st.none() | macs,
)


@st.composite
def common_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Fields of every reading, with time fields that agree with `time_source`."""
    source = draw(st.sampled_from(TimeSource))
    return {
        "reading_id": draw(st.uuids()),
        "device": draw(devices),
        "measured_at": draw(aware),
        "device_time": None if source is TimeSource.HUB_RECEIPT else draw(naive),
        "time_source": source,
        "clock_offset_s": draw(finite) if source is TimeSource.DEVICE_CORRECTED else draw(st.none() | finite),
        "received_at": draw(aware),
        "source": draw(st.sampled_from(ReadingSource)),
        "user_index": draw(st.none() | st.integers(0, 255)),
        "sequence": draw(st.none() | st.integers(0, 2**31 - 1)),
        "status": draw(flags),
    }


@st.composite
def readings(draw: st.DrawFn) -> BloodPressureReading | GlucoseReading | WeightReading:
    common = draw(common_fields())
    kind = draw(st.sampled_from(ReadingKind))
    maybe = st.none() | positive
    if kind is ReadingKind.BLOOD_PRESSURE:
        return BloodPressureReading(
            **common,
            systolic_mmhg=draw(positive),
            diastolic_mmhg=draw(positive),
            mean_arterial_mmhg=draw(maybe),
            pulse_bpm=draw(maybe),
            device_unit=draw(st.sampled_from(PressureUnit)),
        )
    if kind is ReadingKind.GLUCOSE:
        return GlucoseReading(
            **common,
            glucose_mg_dl=draw(positive),
            device_unit=draw(st.sampled_from(GlucoseUnit)),
            specimen=draw(st.none() | st.sampled_from(GlucoseSpecimen)),
            sample_location=draw(st.none() | st.sampled_from(SampleLocation)),
            meal=draw(st.none() | st.sampled_from(Meal)),
        )
    return WeightReading(
        **common,
        weight_kg=draw(positive),
        bmi=draw(maybe),
        height_m=draw(maybe),
        device_unit=draw(st.sampled_from(MassUnit)),
    )


batches = st.builds(
    ReadingBatch, hub_id=hub_ids, sent_at=aware, readings=st.lists(readings(), min_size=1, max_size=4)
)
statuses = st.builds(
    HubStatus,
    hub_id=hub_ids,
    online=st.just(True),
    sent_at=aware,
    software_version=labels,
    uptime_s=st.integers(0, 2**31 - 1),
    outbox_depth=st.integers(0, 2**31 - 1),
    oldest_unsent_age_s=st.none() | st.integers(0, 2**31 - 1),
    devices=st.lists(
        st.builds(
            DeviceSeen,
            device_id=labels,
            battery_pct=st.none() | st.integers(0, 100),
            rssi_dbm=st.none() | st.integers(-127, 20),
            last_seen=st.none() | aware,
            clock_offset_s=st.none() | finite,
        ),
        max_size=3,
    ),
) | st.builds(HubStatus.last_will, hub_id=hub_ids, software_version=labels, at=aware)
events = st.builds(
    HubEvent,
    hub_id=hub_ids,
    event_id=st.uuids(),
    at=aware,
    type=st.sampled_from(HubEventType),
    device_id=labels,
    message=st.text(st.characters(codec="utf-8"), min_size=1, max_size=50),
    raw_hex=st.binary(max_size=40).map(bytes.hex),
)
configs = st.builds(
    HubConfig,
    hub_id=hub_ids,
    version=st.integers(1, 2**31 - 1),
    issued_at=aware,
    devices=st.lists(
        st.builds(
            AssignedDevice,
            device_id=labels,
            profile=labels,
            address=st.none() | macs,
            name=st.none() | labels,
        ),
        max_size=4,
        unique_by=lambda d: d.device_id,
    ),
    scan=st.integers(1, 3600).flatmap(
        lambda interval: st.builds(
            ScanSettings, interval_s=st.just(interval), duration_s=st.integers(1, min(interval, 600))
        )
    ),
    upload=st.builds(
        UploadSettings,
        max_batch=st.integers(1, MAX_BATCH_READINGS),
        max_inflight=st.integers(1, 100),
        status_interval_s=st.integers(10, 3600),
    ),
)
MESSAGES = {
    Channel.READINGS: batches,
    Channel.STATUS: statuses,
    Channel.EVENTS: events,
    Channel.CONFIG: configs,
}


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("channel", list(Channel), ids=str)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_encode_then_parse_gives_an_equal_message(channel: Channel, data: st.DataObject) -> None:
    message = data.draw(MESSAGES[channel])
    payload = encode(message)
    parsed = parse_message(channel, payload)
    assert parsed == message
    assert encode(parsed) == payload


def _bp(**overrides: Any) -> BloodPressureReading:
    fields: dict[str, Any] = {
        "reading_id": reading_id_for("SN1", "blood_pressure", "seq=1"),
        "device": DeviceRef(device_id="SN1", model="UA-651BLE", profile="and-ua-651ble"),
        "measured_at": NOW,
        "device_time": dt.datetime(2026, 1, 5, 9, 30),
        "time_source": TimeSource.DEVICE_CORRECTED,
        "clock_offset_s": 3.5,
        "received_at": NOW,
        "systolic_mmhg": 132.0,
        "diastolic_mmhg": 84.0,
        "pulse_bpm": 71.0,
        "device_unit": PressureUnit.MMHG,
    }
    return BloodPressureReading(**(fields | overrides))


def _batch_dict(**overrides: Any) -> dict[str, Any]:
    """A valid batch as decoded JSON, for tests that break one thing in it."""
    return json.loads(encode(ReadingBatch(hub_id="hub-1", sent_at=NOW, readings=[_bp()]))) | overrides


def test_encoded_json_uses_schema_key_utc_z_and_string_uuids() -> None:
    payload = json.loads(encode(ReadingBatch(hub_id="hub-1", sent_at=NOW, readings=[_bp()])))
    assert payload["schema"] == SCHEMA_VERSION == "1.0"
    assert payload["sent_at"] == "2026-01-05T08:30:00Z"
    assert payload["readings"][0]["reading_id"] == str(reading_id_for("SN1", "blood_pressure", "seq=1"))
    assert payload["readings"][0]["device_time"] == "2026-01-05T09:30:00"


def test_measured_at_is_normalised_to_utc() -> None:
    reading = _bp(
        measured_at=dt.datetime(2026, 1, 5, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    )
    assert reading.measured_at == dt.datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    assert reading.measured_at.tzinfo is UTC


def test_status_flags_are_unique_and_sorted() -> None:
    assert _bp(status=["irregular_pulse", "body_movement", "irregular_pulse"]).status == (
        "body_movement",
        "irregular_pulse",
    )


def test_newer_minor_version_with_unknown_fields_is_accepted() -> None:
    data = _batch_dict(schema="1.7", compression="none")
    data["readings"][0]["posture"] = "seated"
    batch = parse_message(Channel.READINGS, json.dumps(data).encode())
    assert isinstance(batch, ReadingBatch)
    assert batch.schema_version == "1.7"
    assert batch.readings[0] == _bp()


def test_models_are_frozen() -> None:
    reading = _bp()
    with pytest.raises(ValidationError, match="frozen"):
        reading.systolic_mmhg = 1.0  # type: ignore[misc]


def test_reading_models_table_matches_kind_literals() -> None:
    for kind, model in READING_MODELS.items():
        assert get_args(model.model_fields["kind"].annotation) == (kind.value,)
    assert set(READING_MODELS) == set(ReadingKind)


# ---------------------------------------------------------------- rejections


def _reading_change(**changes: Any) -> dict[str, Any]:
    data = _batch_dict()
    data["readings"][0].update(changes)
    return data


def _glucose_change(**changes: Any) -> dict[str, Any]:
    data = _batch_dict()
    reading = data["readings"][0]
    for key in ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm"):
        reading.pop(key)
    reading.update(kind="glucose", glucose_mg_dl=99.1, device_unit="mg/dL", **changes)
    return data


def _many_readings(count: int) -> dict[str, Any]:
    data = _batch_dict()
    data["readings"] = data["readings"] * count
    return data


REJECTED_BATCHES = [
    pytest.param(
        _reading_change(measured_at="2026-01-05T08:30:00"),
        "readings.0.measured_at: datetime must carry a UTC offset",
        id="naive-measured-at",
    ),
    pytest.param(
        _batch_dict(sent_at="2026-01-05T08:30:00"),
        "sent_at: datetime must carry a UTC offset",
        id="naive-sent-at",
    ),
    pytest.param(
        _reading_change(device_time="2026-01-05T08:30:00+01:00"),
        "readings.0.device_time: device_time is the device clock as shown",
        id="aware-device-time",
    ),
    pytest.param(
        _reading_change(systolic_mmhg=float("nan")),
        "readings.0.systolic_mmhg: Input should be a finite number",
        id="nan-systolic",
    ),
    pytest.param(
        _reading_change(pulse_bpm=float("inf")),
        "readings.0.pulse_bpm: Input should be a finite number",
        id="inf-pulse",
    ),
    pytest.param(
        _reading_change(diastolic_mmhg=-80.0),
        "readings.0.diastolic_mmhg: Input should be greater than 0",
        id="negative-diastolic",
    ),
    pytest.param(
        _reading_change(systolic_mmhg=0),
        "readings.0.systolic_mmhg: Input should be greater than 0",
        id="zero-systolic",
    ),
    pytest.param(
        _reading_change(systolic_mmhg="132"),
        "readings.0.systolic_mmhg: Input should be a valid number",
        id="string-number",
    ),
    pytest.param(
        _reading_change(kind="spo2"),
        "readings.0: Input tag 'spo2' found using 'kind' does not match any of the expected tags",
        id="unknown-kind",
    ),
    pytest.param(
        _reading_change(device_unit="mg/dL"),
        "readings.0.device_unit: Input should be 'mmHg' or 'kPa'",
        id="glucose-unit-on-blood-pressure",
    ),
    pytest.param(
        _glucose_change(specimen="control_solution"),
        "readings.0.specimen: Input should be 'capillary_whole_blood'",
        id="control-solution-specimen",
    ),
    pytest.param(
        _glucose_change(sample_location="control_solution"),
        "readings.0.sample_location: Input should be 'finger'",
        id="control-solution-location",
    ),
    pytest.param(
        _reading_change(time_source="hub_receipt"),
        "time_source hub_receipt means the device sent no time, but device_time is set",
        id="hub-receipt-with-device-time",
    ),
    pytest.param(
        _reading_change(clock_offset_s=None),
        "time_source device_corrected needs clock_offset_s",
        id="corrected-without-offset",
    ),
    pytest.param(
        _reading_change(status=["Body Movement"]),
        "status flag 'Body Movement' must be snake_case",
        id="status-flag-not-snake-case",
    ),
    pytest.param(
        _reading_change(user_index=256),
        "readings.0.user_index: Input should be less than or equal to 255",
        id="user-256",
    ),
    pytest.param(
        _reading_change(device={"device_id": "", "model": "m", "profile": "p"}),
        "readings.0.device.device_id: String should have at least 1 character",
        id="empty-device-id",
    ),
    pytest.param(
        _reading_change(device={"device_id": "SN1 ", "model": "m", "profile": "p"}),
        "readings.0.device.device_id: must not start or end with whitespace",
        id="device-id-trailing-space",
    ),
    pytest.param(
        _reading_change(device={"device_id": "SN1", "model": "m", "profile": "p", "address": "nope"}),
        "readings.0.device.address: BLE address must be a MAC address",
        id="bad-ble-address",
    ),
    pytest.param(
        _batch_dict(schema="1"), "schema: schema must be a string 'MAJOR.MINOR'", id="schema-not-major-minor"
    ),
    pytest.param(
        _batch_dict(schema=1.0), "schema: schema must be a string 'MAJOR.MINOR'", id="schema-as-number"
    ),
    pytest.param(
        {k: v for k, v in _batch_dict().items() if k != "schema"},
        "schema: schema is required",
        id="schema-missing",
    ),
    pytest.param(
        _batch_dict(hub_id="hub/1"),
        "hub_id: invalid hub_id 'hub/1': must be 1-64 characters",
        id="hub-id-slash",
    ),
    pytest.param(_batch_dict(hub_id="+"), "hub_id: invalid hub_id '+'", id="hub-id-wildcard"),
    pytest.param(
        _many_readings(MAX_BATCH_READINGS + 1),
        "readings: Tuple should have at most 500 items",
        id="too-many-readings",
    ),
    pytest.param(_batch_dict(readings=[]), "readings: Tuple should have at least 1 item", id="no-readings"),
    pytest.param(
        _batch_dict(readings={"0": {}}), "readings: Input should be a valid array", id="readings-not-a-list"
    ),
]


@pytest.mark.parametrize(("data", "expected"), REJECTED_BATCHES)
def test_invalid_batch_is_a_contract_violation_with_its_reason(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_message(Channel.READINGS, json.dumps(data).encode())
    assert expected in caught.value.reason
    assert caught.value.reason.startswith("invalid ReadingBatch: ")
    assert any(expected in issue for issue in caught.value.issues)


def test_full_batch_of_500_is_accepted() -> None:
    batch = parse_message(Channel.READINGS, json.dumps(_many_readings(MAX_BATCH_READINGS)).encode())
    assert isinstance(batch, ReadingBatch)
    assert len(batch.readings) == MAX_BATCH_READINGS


def test_reason_lists_the_first_issues_and_counts_the_rest() -> None:
    data = _many_readings(30)
    for reading in data["readings"]:
        reading["systolic_mmhg"] = -1
    with pytest.raises(ContractViolation) as caught:
        parse_message(Channel.READINGS, json.dumps(data).encode())
    assert len(caught.value.issues) == 30
    assert caught.value.reason.endswith("; and 20 more")


@pytest.mark.parametrize("schema", ["2.0", "0.9", "10.3"])
def test_unknown_major_version_is_refused_with_its_own_error(schema: str) -> None:
    with pytest.raises(UnsupportedSchemaVersion) as caught:
        parse_message(Channel.READINGS, json.dumps(_batch_dict(schema=schema, readings="whatever")).encode())
    assert caught.value.reason == f"unsupported schema version {schema}: this build understands 1.x"
    assert caught.value.version == schema


def test_unknown_major_version_is_refused_when_built_in_code() -> None:
    with pytest.raises(
        ValidationError, match=r"unsupported schema version 2\.0: this build understands 1\.x"
    ):
        ReadingBatch(schema="2.0", hub_id="hub-1", sent_at=NOW, readings=[_bp()])


def test_naive_datetime_is_refused_when_built_in_code() -> None:
    with pytest.raises(ValidationError, match="datetime must carry a UTC offset"):
        _bp(received_at=dt.datetime(2026, 1, 5, 8, 30))


STATUS = {
    "schema": "1.0",
    "hub_id": "hub-1",
    "online": True,
    "sent_at": "2026-01-05T08:30:00Z",
    "software_version": "0.1.0",
}
EVENT = {
    "schema": "1.0",
    "hub_id": "hub-1",
    "event_id": "0b8f5e1c-4a6e-4b8e-9a63-0d6c5e0b7d11",
    "at": "2026-01-05T08:30:00Z",
    "message": "something happened",
}
CONFIG = {"schema": "1.0", "hub_id": "hub-1", "version": 3, "issued_at": "2026-01-05T08:30:00Z"}

REJECTED_OTHERS = [
    pytest.param(
        Channel.STATUS,
        STATUS,
        "an online status must report uptime_s and outbox_depth",
        id="online-without-uptime",
    ),
    pytest.param(
        Channel.STATUS,
        STATUS | {"uptime_s": 5, "outbox_depth": 0, "devices": [{"device_id": "SN1", "battery_pct": 101}]},
        "devices.0.battery_pct: Input should be less than or equal to 100",
        id="battery-over-100",
    ),
    pytest.param(
        Channel.STATUS,
        STATUS | {"online": "yes"},
        "online: Input should be a valid boolean",
        id="online-string",
    ),
    pytest.param(
        Channel.EVENTS,
        EVENT | {"type": "decode_error", "device_id": "SN1"},
        "event type decode_error needs raw_hex",
        id="decode-error-without-bytes",
    ),
    pytest.param(
        Channel.EVENTS,
        EVENT | {"type": "decode_error", "device_id": "SN1", "raw_hex": "abc"},
        "raw_hex: raw_hex must be an even number of hex digits",
        id="odd-raw-hex",
    ),
    pytest.param(
        Channel.EVENTS,
        EVENT | {"type": "battery_low"},
        "event type battery_low needs device_id",
        id="device-event-no-device",
    ),
    pytest.param(
        Channel.EVENTS,
        EVENT | {"type": "reboot"},
        "type: Input should be 'hub_started'",
        id="unknown-event-type",
    ),
    pytest.param(
        Channel.EVENTS, EVENT | {"type": "hub_started", "event_id": "x"}, "event_id: ", id="bad-event-id"
    ),
    pytest.param(
        Channel.CONFIG,
        CONFIG | {"version": 0},
        "version: Input should be greater than or equal to 1",
        id="version-0",
    ),
    pytest.param(
        Channel.CONFIG,
        CONFIG | {"devices": [{"device_id": "SN1", "profile": "a"}, {"device_id": "SN1", "profile": "b"}]},
        "device SN1 is assigned twice",
        id="device-assigned-twice",
    ),
    pytest.param(
        Channel.CONFIG,
        CONFIG | {"scan": {"interval_s": 10, "duration_s": 20}},
        "scan duration_s (20) must not exceed interval_s (10)",
        id="scan-longer-than-interval",
    ),
    pytest.param(
        Channel.CONFIG,
        CONFIG | {"upload": {"max_batch": 501}},
        "upload.max_batch: Input should be less than or equal to 500",
        id="upload-batch-over-limit",
    ),
]


@pytest.mark.parametrize(("channel", "data", "expected"), REJECTED_OTHERS)
def test_invalid_status_event_config_is_refused_with_its_reason(
    channel: Channel, data: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_message(channel, json.dumps(data).encode())
    assert expected in caught.value.reason


def test_last_will_is_a_valid_offline_status() -> None:
    will = HubStatus.last_will("hub-1", "0.1.0", NOW)
    assert will.online is False
    assert parse_message(Channel.STATUS, encode(will)) == will


def test_config_defaults_are_valid_and_documented_bounds_hold() -> None:
    config = parse_message(Channel.CONFIG, json.dumps(CONFIG).encode())
    assert isinstance(config, HubConfig)
    assert config.scan == ScanSettings()
    assert config.scan.duration_s <= config.scan.interval_s
    assert config.upload.max_batch <= MAX_BATCH_READINGS


def test_every_device_event_type_needs_a_device() -> None:
    assert HubEventType.DECODE_ERROR in DEVICE_EVENTS
    assert HubEventType.OUTBOX_FULL not in DEVICE_EVENTS


def test_raw_hex_is_normalised_to_lower_case() -> None:
    event = parse_message(
        Channel.EVENTS,
        json.dumps(EVENT | {"type": "decode_error", "device_id": "SN1", "raw_hex": "1E7800"}).encode(),
    )
    assert isinstance(event, HubEvent)
    assert event.raw_hex == "1e7800"


# ---------------------------------------------------------------- topic-aware parsing


def test_parse_hub_message_checks_the_payload_names_the_topic_hub() -> None:
    payload = encode(ReadingBatch(hub_id="hub-1", sent_at=NOW, readings=[_bp()]))
    where, message = parse_hub_message("rpm/v1/hubs/hub-1/readings", payload)
    assert (where.hub_id, where.channel) == ("hub-1", Channel.READINGS)
    assert isinstance(message, ReadingBatch)
    with pytest.raises(ContractViolation, match="payload hub_id 'hub-1' does not match topic hub 'hub-2'"):
        parse_hub_message("rpm/v1/hubs/hub-2/readings", payload)


def test_parse_hub_message_turns_a_bad_topic_into_a_violation() -> None:
    with pytest.raises(ContractViolation, match="does not match rpm/v1/hubs"):
        parse_hub_message("rpm/v1/hubs/readings", b"{}")


def test_unknown_channel_is_a_violation() -> None:
    with pytest.raises(ContractViolation, match="unknown channel 'telemetry'"):
        parse_message("telemetry", b"{}")


def test_contract_violation_is_a_contract_error() -> None:
    assert issubclass(ContractViolation, ContractError)
    assert issubclass(UnsupportedSchemaVersion, ContractViolation)


# ---------------------------------------------------------------- reading identity


def test_reading_id_is_pinned() -> None:
    """Ids are stored forever: a silent change of the strategy would duplicate every re-read record."""
    assert READING_ID_STRATEGY == "rpm-reading-id/v1"
    assert uuid.UUID("3713c951-df2f-4b81-b794-b196f6c8e9c3") == READING_ID_NAMESPACE
    assert reading_id_for("SN1", "blood_pressure", "seq=1") == uuid.UUID(
        "5c05f4b0-1f59-50db-b63e-373f1ce2f117"
    )
    assert reading_id_for("SN1", "blood_pressure", "seq=1").version == 5


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(("SN1", "glucose", "seq=1"), ("SN2", "glucose", "seq=1"), id="other-device"),
        pytest.param(("SN1", "glucose", "seq=1"), ("SN1", "weight", "seq=1"), id="other-kind"),
        pytest.param(("SN1", "glucose", "seq=1"), ("SN1", "glucose", "seq=2"), id="other-identity"),
        pytest.param(("a|b", "glucose", "c"), ("a", "glucose", "b|c"), id="no-separator-ambiguity"),
    ],
)
def test_reading_ids_differ_when_any_part_differs(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    assert reading_id_for(*a) != reading_id_for(*b)


IDENTITY_CASES = [
    pytest.param({"sequence": 7}, "seq=7", id="sequence-only"),
    pytest.param(
        {"sequence": 7, "device_time": dt.datetime(2026, 1, 5, 9, 30), "values": {"glucose_mg_dl": 99.0}},
        "seq=7;t=2026-01-05T09:30:00",
        id="sequence-and-device-time",
    ),
    pytest.param(
        {
            "device_time": dt.datetime(2026, 1, 5, 9, 30),
            "values": {"systolic_mmhg": 132.010912, "pulse_bpm": None},
        },
        "t=2026-01-05T09:30:00;systolic_mmhg=132.010912",
        id="device-time-and-values",
    ),
    pytest.param(
        {"values": {"weight_kg": 81.5}, "received_at": NOW},
        "rx=2026-01-05T08:30:00+00:00;weight_kg=81.5",
        id="no-clock-uses-receipt",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), IDENTITY_CASES)
def test_reading_identity_follows_the_v1_rules(kwargs: dict[str, Any], expected: str) -> None:
    assert reading_identity(**kwargs) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"values": {"weight_kg": 80.0}}, id="values-without-time"),
        pytest.param({"sequence": 1, "device_time": NOW}, id="aware-device-time"),
    ],
)
def test_reading_identity_refuses_what_cannot_identify_a_record(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"device_time|identified"):
        reading_identity(**kwargs)


# ---------------------------------------------------------------- fuzzing the boundary

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=30,
)
keys_of_messages = st.sampled_from(
    [
        "schema",
        "hub_id",
        "sent_at",
        "readings",
        "online",
        "devices",
        "type",
        "event_id",
        "version",
        "kind",
        "at",
    ]
)
message_like = st.dictionaries(keys_of_messages, json_values, max_size=8)


def _violation_or_none(channel: Channel, payload: bytes) -> ContractViolation | None:
    try:
        parse_message(channel, payload)
    except ContractViolation as exc:
        return exc
    return None


def _assert_parses_or_violates(channel: Channel, payload: bytes) -> None:
    violation = _violation_or_none(channel, payload)
    assert violation is None or (violation.reason.strip() and all(i.strip() for i in violation.issues))


@pytest.mark.parametrize("channel", list(Channel), ids=str)
@settings(max_examples=150, deadline=None)
@given(value=json_values | message_like)
def test_any_json_value_parses_or_is_a_violation(channel: Channel, value: object) -> None:
    _assert_parses_or_violates(channel, json.dumps(value).encode())


@pytest.mark.parametrize("channel", list(Channel), ids=str)
@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=200))
def test_any_bytes_parse_or_are_a_violation(channel: Channel, payload: bytes) -> None:
    _assert_parses_or_violates(channel, payload)


BATCH_PARTS: list[tuple[str | int, ...]] = [(), ("readings", 0), ("readings", 0, "device")]
FIELD_NAMES = sorted(
    set(ReadingBatch.model_fields) | set(BloodPressureReading.model_fields) | set(DeviceRef.model_fields)
)


@settings(max_examples=300, deadline=None)
@given(part=st.sampled_from(BATCH_PARTS), key=st.sampled_from([*FIELD_NAMES, "schema"]), value=json_values)
def test_a_valid_batch_with_one_field_replaced_parses_or_is_a_violation(
    part: tuple[str | int, ...], key: str, value: object
) -> None:
    data: Any = _batch_dict()
    container = data
    for step in part:
        container = container[step]
    container[key] = value
    _assert_parses_or_violates(Channel.READINGS, json.dumps(data).encode())


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"[" * 100_000, id="deep-nesting"),
        pytest.param(b"\xff\xfe\x00", id="invalid-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"schema": "1.0", "hub_id": "h", "sent_at": 1e999}', id="huge-number"),
        pytest.param(
            b'{"schema": "1.0", "hub_id": "h", "sent_at": "0001-01-01T00:00:00+05:00"}', id="year-1"
        ),
        pytest.param(b'{"schema": "1.0", "hub_id": "h\\u0000"}', id="nul-in-hub-id"),
    ],
)
def test_hostile_payloads_are_violations(payload: bytes) -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_message(Channel.READINGS, payload)
    assert caught.value.reason


# ---------------------------------------------------------------- dependencies


def test_contract_imports_only_pydantic_and_the_standard_library() -> None:
    """The hub installs the contract without the cloud's dependencies."""
    code = (
        "import sys, broker, broker.contract, broker.topics, broker.units, broker.plausibility, "
        "broker.schema_export, broker.cli, broker.errors\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    top_level = {name.split(".")[0] for name in result.stdout.split() if not name.startswith("_")}
    forbidden = {
        "paho",
        "numpy",
        "psycopg",
        "psycopg_pool",
        "fastapi",
        "bleak",
        "rpmctl",
        "gateway",
        "ingest",
    }
    assert not top_level & forbidden
    third_party = (
        top_level
        - set(sys.stdlib_module_names)
        - {"broker", "pydantic", "pydantic_core", "typing_extensions"}
    )
    assert third_party <= {"annotated_types", "typing_inspection"}, third_party
