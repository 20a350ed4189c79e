"""`kill -9` of a simulated home's hub process (`rpm sim home`) at random points while a meter's RACP
transfer and the upload are under way, again and again: after the last restart every record the devices hold
has arrived, and any repeat carries the very same reading id and content."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.contract import encode
from gateway.blestate import BLE_STATE_KEY, decode_state
from gateway.outbox_db import OutboxDb
from gateway.settings import load_settings
from simulators.home import load_memory, write_request
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient
from tests.test_home_support import (
    CUFF,
    METER,
    METER_PIN,
    device,
    home_config,
    home_hub_file,
    home_spec,
    patient_records,
    record_for,
    write_spec,
)
from tests.test_hub_support import DELIVERY_TIMEOUT_S, ROOT, batches, subscriber

pytestmark = [pytest.mark.services, pytest.mark.slow]

KILLS = 4
METER_RECORDS = 500
SLOW_UPLOAD = {"max_batch": 1, "max_inflight": 1}
"""One reading per message and one message in flight: the upload trails the meter's transfer, so a kill
finds readings both in the outbox and still on the meter."""


def _home_process(config: Path, devices: Path, control: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rpmctl.main",
                "sim",
                "home",
                "--config",
                str(config),
                "--devices",
                str(devices),
                "--control",
                str(control),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=out,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def _take(client: TestClient, count: int, received: list) -> None:
    for message in client.receive(count, timeout=DELIVERY_TIMEOUT_S):
        received += batches([message])[0].readings


def _meter_cursor(devices_db: Path) -> int | None:
    with sqlite3.connect(devices_db) as conn:
        row = conn.execute(
            "SELECT value FROM device_state WHERE device_id = ? AND key = ?", (METER, BLE_STATE_KEY)
        ).fetchone()
    state = decode_state(row[0]) if row else None
    return state.last_sequence if state else None


def test_kill_9_mid_transfer_and_mid_upload_loses_nothing(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub], tmp_path: Path
) -> None:
    hub = provision_hub()
    config = home_hub_file(hub)
    settings = load_settings(config)
    settings.state_dir.mkdir(parents=True)
    settings.config_path.write_bytes(encode(home_config(hub.hub_id, 1, CUFF, METER, **SLOW_UPLOAD)))
    spec = home_spec(
        device(CUFF, clock_offset_s=-120),
        device(
            METER,
            passkey=METER_PIN,
            record_interval_s=0.005,
            series={"count": METER_RECORDS, "every_minutes": 60},
        ),
    )
    devices = write_spec(tmp_path / "devices.toml", spec)
    control = tmp_path / "control"
    rng = random.Random(int(os.environ.get("HOME_CRASH_SEED", "20260305")))
    client = subscriber(mqtt_url, hub.hub_id)
    received: list = []
    log = tmp_path / "home.log"
    moments: list[tuple[int, int | None]] = []
    try:
        for round_ in range(KILLS):
            # a measurement on the cuff before each start: it is pushed right after the start
            write_request(control, f"cuff-{round_}", CUFF, systolic=120 + round_, diastolic=80, pulse=64)
            process = _home_process(config, devices, control, log)
            try:
                target = len(received) + rng.randint(5, 40)
                while len(received) < target or not any(
                    r.systolic_mmhg == 120 + round_ for r in received if r.kind == "blood_pressure"
                ):
                    _take(client, 1, received)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            db = OutboxDb(settings.outbox_path, limit_bytes=settings.outbox_max_bytes)
            try:
                moments.append((db.stats().depth, _meter_cursor(settings.devices_path)))
            finally:
                db.close()
        process = _home_process(config, devices, control, log)
        try:
            memory = load_memory(settings.state_dir / "simulated-devices.json")
            assert memory is not None
            wanted = sum(len(patient_records(memory, a)) for a in (CUFF, METER))
            deadline = time.monotonic() + 120
            while len({r.reading_id for r in received}) < wanted and time.monotonic() < deadline:
                _take(client, 1, received)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(15) == 0, log.read_text()[-3000:]
    finally:
        client.close()
    memory = load_memory(settings.state_dir / "simulated-devices.json")
    assert memory is not None
    by_id: dict = {}
    for reading in received:
        assert by_id.setdefault(reading.reading_id, reading) == reading, "a repeat differs from its original"
    records = {id(record_for(memory, r)) for r in by_id.values()}
    expected = sum(len(patient_records(memory, a)) for a in (CUFF, METER))
    assert expected == METER_RECORDS + KILLS
    assert len(by_id) == len(records) == expected, "a record is missing or arrived under two ids"
    counts = Counter(r.reading_id for r in received)
    repeats = sum(counts.values()) - len(counts)
    mid_transfer = sum(1 for _, cursor in moments if cursor is not None and cursor < METER_RECORDS)
    mid_upload = sum(1 for depth, _ in moments if depth > 0)
    print(
        f"{len(counts)} readings, {repeats} repeats after {KILLS} kills; at each kill (unsent rows in the "
        f"outbox, meter cursor): {moments}"
    )
    assert mid_transfer == KILLS, "a kill missed the meter's transfer"
    assert mid_upload >= 1, "no kill landed while the outbox had unsent rows"
