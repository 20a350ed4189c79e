"""Readings taken in a simulated home while the broker is down are collected by the hub, kept in its outbox,
and all delivered once the broker is back, none twice."""

from __future__ import annotations

import asyncio
import queue
import time
from collections import Counter
from collections.abc import Callable

import pytest

from gateway.settings import load_settings
from rpmctl.services.endpoints import Endpoints
from rpmctl.services.stack import LocalStack
from simulators.home import Home
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient
from tests.test_home_support import (
    CUFF,
    METER,
    METER_PIN,
    SCALE,
    device,
    home_config,
    home_hub_file,
    home_spec,
    patient_records,
    record_for,
)
from tests.test_hub_support import DELIVERY_TIMEOUT_S, batches, publish_config, reconnect, subscriber

pytestmark = pytest.mark.services

QUIET_S = 1.5
"""After the last expected reading, how long to keep listening for copies."""


def _drain(client: TestClient, count: int) -> list:
    """At least `count` readings, then whatever else arrives until `QUIET_S` passes in silence."""
    found: list = []
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        wait = QUIET_S if len(found) >= count else deadline - time.monotonic()
        assert wait > 0, f"only {len(found)} of {count} readings arrived"
        try:
            message = client.messages.get(timeout=wait)
        except queue.Empty:
            if len(found) >= count:
                return found
            continue
        found += batches([message])[0].readings


def test_readings_taken_during_a_broker_outage_all_arrive_once(
    services: Endpoints, local_stack: LocalStack, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    settings = load_settings(home_hub_file(hub))
    spec = home_spec(
        device(CUFF, readings=[{"minutes_ago": 20, "systolic": 131, "diastolic": 85, "pulse": 70}]),
        device(METER, passkey=METER_PIN, series={"count": 5, "every_minutes": 240}),
        device(SCALE),
    )
    client = subscriber(mqtt_url, hub.hub_id, persistent=True)

    async def scenario() -> tuple[list, Home]:
        nonlocal client
        home = Home(settings, spec)
        async with home:
            assert home.memory is not None
            config = home_config(hub.hub_id, 1, CUFF, METER, SCALE)
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, config)
            received = await asyncio.to_thread(_drain, client, 6)
            client.close()  # the persistent session queues what arrives while the subscriber is away
            await asyncio.to_thread(local_stack.mosquitto.down)
            try:
                for n in range(3):
                    home.take(CUFF, systolic=140 + n, diastolic=90, pulse=72)
                    home.take(METER, mg_dl=90 + n)
                    await _until_stored(home, 2 * (n + 1))
                home.take(SCALE, weight_kg=79.4)
                await _until_stored(home, 7)
                assert not home.hub.connected.is_set()
            finally:
                await asyncio.to_thread(local_stack.mosquitto.up)
            client = await asyncio.to_thread(reconnect, client, mqtt_url)
            received += await asyncio.to_thread(_drain, client, 7)
        return received, home

    try:
        received, home = asyncio.run(scenario())
    finally:
        client.close()
    memory = home.memory
    assert memory is not None
    counts = Counter(r.reading_id for r in received)
    assert max(counts.values()) == 1, "a reading arrived twice"
    expected = sum(len(patient_records(memory, a)) for a in (CUFF, METER, SCALE))
    assert len(counts) == expected == 13
    assert len({id(record_for(memory, r)) for r in received}) == expected  # each record, once


async def _until_stored(home: Home, depth: int) -> None:
    """Wait until the hub's outbox holds `depth` unsent readings (the devices were read while offline)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while (await home.hub.outbox.stats()).depth < depth:
        assert time.monotonic() < deadline, "the hub did not collect the readings"
        await asyncio.sleep(0.02)
