"""Helpers for the simulated-home tests: the devices of one home, its hub file and config, and checks of
what reached the broker against what the devices recorded. This module holds no tests."""

from __future__ import annotations

import datetime as dt
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.contract import (
    AssignedDevice,
    HubConfig,
    HubEvent,
    HubEventType,
    ReadingBatch,
    ScanSettings,
    UploadSettings,
    parse_message,
)
from broker.topics import Channel
from simulators.home import HomeSpec
from simulators.home.memory import HomeMemory, RecordMemory
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient
from tests.test_hub_support import BASE_TIME, DELIVERY_TIMEOUT_S, hub_file

ZONE = "America/New_York"
CUFF, METER, SCALE, SECOND_CUFF = (f"C0:00:00:00:00:{i:02X}" for i in range(1, 5))
SERIALS = {CUFF: "SN-BP-1", METER: "SN-GL-1", SCALE: "SN-WS-1", SECOND_CUFF: "SN-BP-2"}
PROFILES = {
    CUFF: "omron-bp7250",
    METER: "accu-chek-guide",
    SCALE: "and-uc-352ble",
    SECOND_CUFF: "and-ua-651ble",
}
METER_PIN = 246810
CONTINUOUS_SCAN = ScanSettings(interval_s=1, duration_s=1)
QUIET_S = 1.5
"""Once what a step waits for arrived, how long to keep listening for anything more (copies, extra events)."""


def device(address: str, **fields: Any) -> dict[str, Any]:
    return {"profile": PROFILES[address], "address": address, "serial": SERIALS[address], **fields}


def home_spec(*devices: dict[str, Any]) -> HomeSpec:
    return HomeSpec.model_validate({"timezone": ZONE, "devices": list(devices)})


def write_spec(path: Path, spec: HomeSpec) -> Path:
    """The devices file as `rpm sim home --devices` reads it (TOML)."""
    lines = [f'timezone = "{spec.timezone}"']
    for d in spec.devices:
        lines.append("\n[[devices]]")
        for key, value in d.model_dump(
            exclude_defaults=True, exclude={"readings", "series", "schedule"}
        ).items():
            lines.append(f"{key} = {_toml(value)}")
        if d.series is not None:
            lines.append(f"series = {_toml(d.series.model_dump())}")
        if d.readings:
            items = ", ".join(
                _toml(r.model_dump(exclude_none=True, exclude_defaults=True)) for r in d.readings
            )
            lines.append(f"readings = [{items}]")
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def home_hub_file(hub: ProvisionedHub, **overrides: object) -> Path:
    """The bundle's hub.toml with the home's zone and the meter's PIN in `[passkeys]`."""
    path = hub_file(hub, "hub-home.toml", timezone=ZONE, **overrides)
    path.write_text(path.read_text() + f'\n[passkeys]\n"{METER}" = {METER_PIN}\n')
    return path


def home_config(hub_id: str, version: int, *addresses: str, **upload: int) -> HubConfig:
    return HubConfig(
        hub_id=hub_id,
        version=version,
        issued_at=BASE_TIME,
        devices=tuple(
            AssignedDevice(device_id=SERIALS[a], profile=PROFILES[a], address=a, name=PROFILES[a])
            for a in addresses
        ),
        scan=CONTINUOUS_SCAN,
        upload=UploadSettings(**upload) if upload else UploadSettings(),
    )


def patient_records(memory: HomeMemory, address: str) -> list[RecordMemory]:
    """What the device recorded that is a patient reading (control-solution tests are not)."""
    return [r for r in memory.devices[address].records if not r.values.get("control_solution")]


def record_for(memory: HomeMemory, reading: Any) -> RecordMemory:
    """The device record a reading came from: by sequence (meters), else by the true time it was taken."""
    address = reading.device.address
    records = patient_records(memory, address)
    if reading.sequence is not None:
        (match,) = [r for r in records if r.sequence == reading.sequence]
        return match
    return min(records, key=lambda r: _value_gap(r, reading) + abs(_seconds(r.taken_at, reading.measured_at)))


def _seconds(a: dt.datetime, b: dt.datetime) -> float:
    return (a - b).total_seconds()


def _value_gap(record: RecordMemory, reading: Any) -> float:
    """Large unless the reading carries the record's values (in canonical units)."""
    pairs = {
        "systolic": "systolic_mmhg",
        "diastolic": "diastolic_mmhg",
        "pulse": "pulse_bpm",
        "mg_dl": "glucose_mg_dl",
        "weight_kg": "weight_kg",
    }
    gap = 0.0
    for name, attribute in pairs.items():
        if name in record.values:
            gap += 1e9 * (abs(getattr(reading, attribute) - record.values[name]) > 0.01)
    return gap


@dataclass
class Arrivals:
    """What the subscriber got on the hub's readings and events channels."""

    readings: list = field(default_factory=list)
    events: list[HubEvent] = field(default_factory=list)

    def decode_errors(self, device_id: str | None = None) -> list[HubEvent]:
        return [
            e for e in self.events if e.type is HubEventType.DECODE_ERROR and device_id in (None, e.device_id)
        ]

    def of(self, address: str) -> list:
        return [r for r in self.readings if r.device.address == address]

    def drain(self, client: TestClient, done: Callable[[Arrivals], bool]) -> None:
        """Take messages until `done` holds, then until `QUIET_S` passes in silence."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while True:
            finished = done(self)
            wait = QUIET_S if finished else deadline - time.monotonic()
            assert wait > 0, f"timed out with {len(self.readings)} readings, {len(self.events)} events"
            try:
                message = client.messages.get(timeout=wait)
            except queue.Empty:
                if finished:
                    return
                continue
            if message.topic.endswith("/" + Channel.EVENTS.value):
                event = parse_message(Channel.EVENTS, message.payload)
                assert isinstance(event, HubEvent)
                self.events.append(event)
            else:
                batch = parse_message(Channel.READINGS, message.payload)
                assert isinstance(batch, ReadingBatch)
                self.readings += batch.readings
