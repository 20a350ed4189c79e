"""`kill -9` of the hub process in the middle of uploading a backlog, again and again: after the last
restart every reading has arrived at least once, and any repeat is the very same reading (same id, same
content), which ingest stores once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.contract import BloodPressureReading, encode
from gateway.outbox import Outbox
from gateway.settings import HubSettings, load_settings
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient
from tests.test_hub_support import (
    DELIVERY_TIMEOUT_S,
    batches,
    bp_reading,
    config_message,
    hub_file,
    hub_process,
    subscriber,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

KILLS = 4
BACKLOG = 1500
ADDED_WHILE_DEAD = 50
SLOW_UPLOAD = {"max_batch": 5, "max_inflight": 2}
"""Small batches and a narrow window make the upload of the backlog last a few hundred messages, so each
kill lands in the middle of it."""


async def _add(settings: HubSettings, readings: list[BloodPressureReading]) -> None:
    async with Outbox(
        settings.outbox_path, hub_id=settings.hub_id, limit_bytes=settings.outbox_max_bytes
    ) as box:
        for reading in readings:
            await box.add(reading)


def _take(client: TestClient, count: int, received: list[BloodPressureReading]) -> None:
    for message in client.receive(count, timeout=DELIVERY_TIMEOUT_S):
        received += batches([message])[0].readings  # type: ignore[arg-type]


def test_kill_9_during_upload_loses_nothing(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub], tmp_path: Path
) -> None:
    hub = provision_hub()
    config = hub_file(hub)
    settings = load_settings(config)
    settings.state_dir.mkdir(parents=True)
    settings.config_path.write_bytes(encode(config_message(hub.hub_id, 1, **SLOW_UPLOAD)))
    rng = random.Random(int(os.environ.get("HUB_CRASH_SEED", "20260302")))
    sent = [bp_reading("SN-BP-9", n) for n in range(1, BACKLOG + 1)]
    asyncio.run(_add(settings, sent))
    client = subscriber(mqtt_url, hub.hub_id)
    received: list[BloodPressureReading] = []
    log = tmp_path / "hub.log"
    try:
        for round_ in range(KILLS):
            process = hub_process(config, log)
            try:
                _take(client, rng.randint(5, 60), received)  # the upload is under way ...
            finally:
                process.send_signal(signal.SIGKILL)  # ... and the power goes
                process.wait(10)
            more = [
                bp_reading("SN-BP-9", BACKLOG + round_ * ADDED_WHILE_DEAD + n)
                for n in range(ADDED_WHILE_DEAD)
            ]
            asyncio.run(_add(settings, more))
            sent += more
        process = hub_process(config, log)
        try:
            expected = {r.reading_id for r in sent}
            deadline = time.monotonic() + 120
            while not expected <= {r.reading_id for r in received} and time.monotonic() < deadline:
                _take(client, 1, received)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(15) == 0, log.read_text()[-2000:]
    finally:
        client.close()
    by_id = {r.reading_id: r for r in sent}
    counts = Counter(r.reading_id for r in received)
    assert set(counts) == set(by_id), "a reading is missing, or one nobody sent arrived"
    assert all(r == by_id[r.reading_id] for r in received), "a repeat differs from the reading it repeats"
    repeats = sum(counts.values()) - len(counts)
    print(f"{len(counts)} readings, {repeats} repeats after {KILLS} kills")
