"""Helpers for the hub tests: contract readings, hub files for provisioned hubs, running hubs, subscribers.

This module holds no tests; the `test_hub_*` modules import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import queue
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from broker.contract import (
    BloodPressureReading,
    DeviceRef,
    GlucoseReading,
    HubConfig,
    ReadingBatch,
    TimeSource,
    UploadSettings,
    WeightReading,
    encode,
    parse_message,
    reading_id_for,
    reading_identity,
)
from broker.topics import Channel, hub_topic
from broker.units import GlucoseUnit, MassUnit, PressureUnit
from gateway.hub import Hub
from gateway.settings import HubSettings, load_settings
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient

ROOT = Path(__file__).resolve().parents[1]
BASE_TIME = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
DELIVERY_TIMEOUT_S = 90.0
"""Upper bound of a wait for messages at the subscriber; a pass takes a fraction of it. Generous because
CI's two cores may be busy with other test processes; only a failing run ever waits this long."""

TEST_RECONNECT = {"reconnect_base_s": 0.5, "reconnect_cap_s": 2.0}
"""Reconnect windows short enough for a test to wait on; production keeps the defaults."""


def bp_reading(
    device_id: str, sequence: int, *, systolic: float = 128.0, **changes: Any
) -> BloodPressureReading:
    """A blood-pressure reading as the BLE layer would hand it over, with a deterministic reading id."""
    device_time = (BASE_TIME + dt.timedelta(minutes=sequence)).replace(tzinfo=None)
    identity = reading_identity(sequence=sequence, device_time=device_time)
    fields: dict[str, Any] = {
        "reading_id": reading_id_for(device_id, "blood_pressure", identity),
        "device": DeviceRef(device_id=device_id, model="UA-651BLE", profile="and-ua-651ble"),
        "measured_at": BASE_TIME + dt.timedelta(minutes=sequence),
        "device_time": device_time,
        "time_source": TimeSource.DEVICE_RAW,
        "received_at": BASE_TIME + dt.timedelta(minutes=sequence, seconds=30),
        "sequence": sequence,
        "systolic_mmhg": systolic,
        "diastolic_mmhg": 80.0,
        "pulse_bpm": 70.0,
        "device_unit": PressureUnit.MMHG,
    }
    fields.update(changes)
    return BloodPressureReading(**fields)


def glucose_reading(device_id: str, sequence: int) -> GlucoseReading:
    """A meter that shows mmol/L: the reading carries mg/dL (5.5 mmol/L x 18.016) and the device's unit."""
    device_time = (BASE_TIME + dt.timedelta(hours=sequence)).replace(tzinfo=None)
    identity = reading_identity(sequence=sequence, device_time=device_time)
    return GlucoseReading(
        reading_id=reading_id_for(device_id, "glucose", identity),
        device=DeviceRef(device_id=device_id, model="Guide", profile="accu-chek-guide"),
        measured_at=BASE_TIME + dt.timedelta(hours=sequence),
        device_time=device_time,
        time_source=TimeSource.DEVICE_RAW,
        received_at=BASE_TIME + dt.timedelta(hours=sequence, minutes=1),
        sequence=sequence,
        glucose_mg_dl=5.5 * 18.016,
        device_unit=GlucoseUnit.MMOL_L,
    )


def weight_reading(device_id: str, at: dt.datetime) -> WeightReading:
    """A scale that shows pounds and keeps no time: 180 lb = 81.6466266 kg, timed by the hub."""
    values = {"weight_kg": 180 * 0.45359237}
    identity = reading_identity(values=values, received_at=at)
    return WeightReading(
        reading_id=reading_id_for(device_id, "weight", identity),
        device=DeviceRef(device_id=device_id, model="UC-352BLE", profile="and-uc-352ble"),
        measured_at=at,
        time_source=TimeSource.HUB_RECEIPT,
        received_at=at,
        weight_kg=values["weight_kg"],
        device_unit=MassUnit.LB,
    )


def hub_file(hub: ProvisionedHub, name: str = "hub-test.toml", **overrides: object) -> Path:
    """A copy of the bundle's hub.toml with extra settings (e.g. short reconnect windows)."""
    bundle = hub.tls.cert_file.parent
    lines = [(bundle / "hub.toml").read_text()]
    for key, value in {**TEST_RECONNECT, **overrides}.items():
        lines.append(f"{key} = {json.dumps(value)}\n")
    path = bundle / name
    path.write_text("".join(lines))
    return path


def settings_for(hub: ProvisionedHub, **overrides: object) -> HubSettings:
    return load_settings(hub_file(hub, **overrides))


@contextlib.asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[Hub]:
    hub = Hub(settings, version="0.1.0-test")
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()
    assert not hub.failed.is_set(), "a hub task crashed"


async def wait_connected(hub: Hub, timeout: float = DELIVERY_TIMEOUT_S) -> None:
    await asyncio.wait_for(hub.connected.wait(), timeout)


def subscriber(mqtt_url: str, hub_id: str, *channels: Channel, persistent: bool = False) -> TestClient:
    """A svc.ingest client on the loopback listener, subscribed to the hub's channels."""
    client_id = f"test-{hub_id}-{uuid.uuid4().hex[:6]}"
    client = TestClient(
        mqtt_url, client_id, clean_start=not persistent, session_expiry_s=3600 if persistent else 0
    ).connect()
    for channel in channels or (Channel.READINGS,):
        client.subscribe(hub_topic(hub_id, channel))
    return client


def reconnect(client: TestClient, mqtt_url: str) -> TestClient:
    """The same persistent session again (after a broker restart)."""
    return TestClient(
        mqtt_url, client.client._client_id.decode(), clean_start=False, session_expiry_s=3600
    ).connect()


def batches(messages: Iterable[Any]) -> list[ReadingBatch]:
    found = []
    for message in messages:
        batch = parse_message(Channel.READINGS, message.payload)
        assert isinstance(batch, ReadingBatch)
        found.append(batch)
    return found


async def receive(client: TestClient, count: int, timeout: float = DELIVERY_TIMEOUT_S) -> list[Any]:
    """`count` messages, awaited off the event loop so the hub keeps running meanwhile."""
    return await asyncio.to_thread(client.receive, count, timeout)


def collect_readings(
    client: TestClient, expected: set[uuid.UUID], *, timeout: float = DELIVERY_TIMEOUT_S, quiet_s: float = 1.0
) -> tuple[list[uuid.UUID], int]:
    """Read batches until every expected id arrived, then until `quiet_s` passes with nothing more (to catch
    extra copies). Returns every reading id received, repeats included, and the number of messages."""
    ids: list[uuid.UUID] = []
    messages = 0
    deadline = time.monotonic() + timeout
    while not expected <= set(ids):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{len(expected - set(ids))} of {len(expected)} readings never arrived")
        try:
            message = client.messages.get(timeout=remaining)
        except queue.Empty:
            continue
        messages += 1
        ids += [r.reading_id for r in batches([message])[0].readings]
    while True:
        try:
            message = client.messages.get(timeout=quiet_s)
        except queue.Empty:
            return ids, messages
        messages += 1
        ids += [r.reading_id for r in batches([message])[0].readings]


def config_message(hub_id: str, version: int, *, devices: tuple[Any, ...] = (), **upload: int) -> HubConfig:
    return HubConfig(
        hub_id=hub_id,
        version=version,
        issued_at=BASE_TIME,
        devices=devices,
        upload=UploadSettings(**upload) if upload else UploadSettings(),
    )


def publish_config(admin_url: str, hub_id: str, payload: bytes | HubConfig) -> None:
    """Publish a retained config as the cloud does (svc.admin on the loopback listener)."""
    data = encode(payload) if isinstance(payload, HubConfig) else payload
    admin = TestClient(admin_url, f"admin-{uuid.uuid4().hex[:8]}").connect()
    try:
        reason = admin.publish(hub_topic(hub_id, Channel.CONFIG), data, retain=True)
    finally:
        admin.close()
    assert reason is not None
    assert not reason.is_failure, reason


def hub_process(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """`rpm hub run --config FILE` as its own process, logging to `log_path`."""
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "rpmctl.main", "hub", "run", "--config", str(config)],
            cwd=ROOT,
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


async def eventually(predicate: Callable[[], bool], timeout: float = DELIVERY_TIMEOUT_S) -> None:
    """Wait until `predicate()` holds (checked every 20 ms); for state that has no event to await."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
