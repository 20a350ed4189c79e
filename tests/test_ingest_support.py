"""Helpers for the ingest tests: readings as wire JSON, seeded patients, workers in threads or processes.

This module holds no tests; the `test_ingest_*` modules import it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from broker.contract import reading_id_for, reading_identity
from broker.topics import shared_filter
from ingest.config import IngestConfig
from ingest.mqtt import CHANNELS
from ingest.worker import Worker
from tests.mqtt_helpers import WAIT_S, TestClient

ROOT = Path(__file__).resolve().parents[1]
BASE_TIME = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
WAIT_FOR_S = 60.0
"""Upper bound of a wait for rows to appear; a pass takes a fraction of it."""


def iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def bp_reading(device_id: str, sequence: int, *, systolic: float = 128.0, **changes: Any) -> dict[str, Any]:
    """A valid blood-pressure reading as the hub sends it; `changes` overrides or adds fields."""
    device_time = (BASE_TIME + dt.timedelta(minutes=sequence)).replace(tzinfo=None)
    measured_at = BASE_TIME + dt.timedelta(minutes=sequence)
    identity = reading_identity(sequence=sequence, device_time=device_time)
    reading: dict[str, Any] = {
        "kind": "blood_pressure",
        "reading_id": str(reading_id_for(device_id, "blood_pressure", identity)),
        "device": {"device_id": device_id, "model": "UA-651BLE", "profile": "and_ua651ble"},
        "measured_at": iso(measured_at),
        "device_time": device_time.isoformat(),
        "time_source": "device_raw",
        "received_at": iso(measured_at + dt.timedelta(seconds=30)),
        "sequence": sequence,
        "systolic_mmhg": systolic,
        "diastolic_mmhg": 80.0,
        "pulse_bpm": 70.0,
        "device_unit": "mmHg",
    }
    reading.update(changes)
    return reading


def batch_payload(hub_id: str, readings: list[dict[str, Any]], **changes: Any) -> bytes:
    document: dict[str, Any] = {
        "schema": "1.0",
        "hub_id": hub_id,
        "sent_at": iso(BASE_TIME + dt.timedelta(days=1)),
        "readings": readings,
    }
    document.update(changes)
    return json.dumps(document).encode()


def seed_assignment(
    url: str, device_id: str, *, valid_from: dt.datetime = BASE_TIME - dt.timedelta(days=30)
) -> uuid.UUID:
    """A practice, a patient and the device assigned to them from `valid_from` on; returns the patient."""
    with psycopg.connect(url, autocommit=True) as conn:
        practice = conn.execute(
            "INSERT INTO practices (name) VALUES ('Riverside') RETURNING practice_id"
        ).fetchone()[0]
        patient = conn.execute(
            "INSERT INTO patients (practice_id, mrn, given_name, family_name, timezone)"
            " VALUES (%s, %s, 'Ada', 'Lovelace', 'America/Chicago') RETURNING patient_id",
            (practice, f"MRN-{uuid.uuid4().hex[:8]}"),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO devices (device_id, model, profile) VALUES (%s, 'UA-651BLE', 'and_ua651ble')"
            " ON CONFLICT DO NOTHING",
            (device_id,),
        )
        conn.execute(
            "INSERT INTO device_assignments (device_id, patient_id, valid)"
            " VALUES (%s, %s, tstzrange(%s, NULL))",
            (device_id, patient, valid_from),
        )
    return patient


def scalar(url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_FOR_S) -> None:
    """Poll until `condition()` holds; fail with `what` after `timeout`. A bounded wait, not an assertion."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except psycopg.OperationalError:
            pass  # the database is restarting (some tests restart it on purpose): not yet
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


TEST_SESSION_EXPIRY_S = 900
"""How long the broker keeps a test worker's session once it disconnected. A deployed worker's session lasts a
week; a test run that is killed before its clean-up would leave a share group that queues every later
test's messages for that week, so test workers ask for minutes."""


def worker_config(database_url: str, mqtt_url: str, **changes: object) -> IngestConfig:
    """A test worker's settings: its own id and share group (unless given), a session of minutes."""
    settings: dict[str, object] = {
        "database_url": database_url,
        "mqtt_url": mqtt_url,
        "worker_id": unique("t"),
        "share_group": unique("g"),
        "session_expiry_s": TEST_SESSION_EXPIRY_S,
    }
    settings.update(changes)
    return IngestConfig(**settings)  # type: ignore[arg-type]


def forget_sessions(mqtt_url: str, client_ids: list[str]) -> None:
    """Delete the broker sessions of these client ids, so a test's share group queues nothing afterwards."""
    for client_id in client_ids:
        client = TestClient(mqtt_url, client_id, clean_start=True, session_expiry_s=0).connect()
        client.close()


def prepare_session(
    mqtt_url: str, client_id: str, share_group: str, expiry_s: int = TEST_SESSION_EXPIRY_S
) -> None:
    """Create a worker's broker session with its shared subscriptions, as a deployed worker has one: messages
    published before the worker process is up are queued for it instead of going to no subscriber."""
    client = TestClient(mqtt_url, client_id, clean_start=True, session_expiry_s=expiry_s).connect()
    try:
        for channel in CHANNELS:
            reason = client.subscribe(shared_filter(share_group, channel), qos=1)
            assert not reason.is_failure, reason
    finally:
        client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextmanager
def worker_thread(config: IngestConfig, **kwargs: Any) -> Iterator[Worker]:
    """An in-process worker; stopped and its broker session deleted on exit."""
    worker = Worker(config, **kwargs)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            worker.run()
        except BaseException as exc:
            errors.append(exc)
            raise

    thread = threading.Thread(target=target, name=f"ingest-{config.worker_id}", daemon=True)
    thread.start()
    wait_for(lambda: worker.subscriber.connected or bool(errors), "the worker to connect", WAIT_S)
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(WAIT_S)
        forget_sessions(config.mqtt_url, [config.client_id])
    assert not errors, errors


class WorkerProcess:
    """`rpm ingest run` as a subprocess, to kill with SIGKILL and start again with the same id."""

    def __init__(
        self, database_url: str, mqtt_url: str, worker_id: str, share_group: str, *extra: str
    ) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "rpmctl.main",
            "ingest",
            "run",
            "--worker-id",
            worker_id,
            "--share-group",
            share_group,
            "--database-url",
            database_url,
            "--mqtt-url",
            mqtt_url,
            "--log-level",
            "INFO",
            "--session-expiry-s",
            str(TEST_SESSION_EXPIRY_S),
            *extra,
        ]
        self.client_id = f"ingest-{worker_id}"
        self.share_group = share_group
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"{self.client_id}.log"

    def start(self) -> WorkerProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=env, stderr=log)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT_S)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(WAIT_S * 3)


def session_properties(expiry_s: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    return props


def hub_publisher(hub: Any) -> TestClient:
    """A connected hub client that may keep many QoS 1 publishes in flight."""
    client = hub.client()
    client.client.max_inflight_messages_set(100)
    client.client.max_queued_messages_set(0)
    return client.connect()


def publish_all(client: TestClient, topic: str, payloads: list[bytes]) -> None:
    """Publish QoS 1 with up to 100 in flight, then wait for every PUBACK."""
    infos: list[mqtt.MQTTMessageInfo] = [client.client.publish(topic, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(WAIT_FOR_S)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
