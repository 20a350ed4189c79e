"""A simulated home (cuff, meter, scale with stored history) through the real hub to a subscriber on our
broker: every reading arrives once, in canonical units, with the device clocks corrected; readings taken while
the home runs arrive within a second; a config published at run time adds a device that is then read."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable

import pytest

from broker.contract import ReadingBatch, TimeSource
from gateway.settings import load_settings
from rpmctl.services.endpoints import Endpoints
from simulators.home import Home, HomeOptions
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient
from tests.test_home_support import (
    CUFF,
    METER,
    METER_PIN,
    SCALE,
    SECOND_CUFF,
    SERIALS,
    device,
    home_config,
    home_hub_file,
    home_spec,
    patient_records,
    record_for,
)
from tests.test_hub_support import batches, publish_config, subscriber

pytestmark = pytest.mark.services

LATENCY_SAMPLES = 6
ARRIVAL_TIMEOUT_S = 30.0


async def _readings(client: TestClient, count: int, timeout: float = ARRIVAL_TIMEOUT_S) -> list:
    """`count` readings from the subscriber (batches unpacked), each stamped with its arrival time."""
    found: list = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(found)} of {count} readings arrived"
        (message,) = await asyncio.to_thread(client.receive, 1, remaining)
        arrived = time.time()
        batch: ReadingBatch = batches([message])[0]
        found += [(reading, arrived) for reading in batch.readings]
    return found


def test_a_home_reaches_the_broker_with_corrected_times(
    services: Endpoints, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    settings = load_settings(home_hub_file(hub))
    spec = home_spec(
        device(
            CUFF,
            clock_offset_s=-300,
            drift_ppm=20,
            readings=[
                {"minutes_ago": 180, "systolic": 128, "diastolic": 82, "pulse": 71},
                {"minutes_ago": 30, "systolic": 141, "diastolic": 92, "pulse": 66},
            ],
        ),
        device(
            METER,
            clock_offset_s=420,
            passkey=METER_PIN,
            series={"count": 30, "every_minutes": 480, "seed": 7},
            readings=[{"minutes_ago": 5, "mg_dl": 100, "control_solution": True}],
        ),
        # no clock access: its offset comes from fresh readings only, so its one stored reading is fresh
        device(SCALE, clock_offset_s=90, readings=[{"minutes_ago": 0, "weight_kg": 81.2}]),
        device(SECOND_CUFF, readings=[{"minutes_ago": 10, "systolic": 150, "diastolic": 95, "pulse": 80}]),
    )
    client = subscriber(mqtt_url, hub.hub_id)
    latencies: list[float] = []

    async def scenario() -> tuple[list, Home]:
        home = Home(settings, spec, HomeOptions())
        async with home:
            assert home.memory is not None
            await asyncio.to_thread(
                publish_config,
                services.mqtt_admin_url,
                hub.hub_id,
                home_config(hub.hub_id, 1, CUFF, METER, SCALE),
            )
            stored = sum(len(patient_records(home.memory, a)) for a in (CUFF, METER, SCALE))
            got = await _readings(client, stored)
            # the cuff's clock was read (offset known) and then set: readings taken now need no correction
            for n in range(LATENCY_SAMPLES):
                await asyncio.sleep(1.5)  # pacing: past the hub's rest after the cuff's previous session
                taken = time.time()
                home.take(CUFF, systolic=120 + n, diastolic=80, pulse=60)
                ((reading, arrived),) = await _readings(client, 1)
                assert reading.systolic_mmhg == 120 + n
                latencies.append(arrived - taken)
                got.append((reading, arrived))
            home.take(METER, mg_dl=145, meal="postprandial")
            home.take(SCALE, weight_kg=80.9)
            got += await _readings(client, 2)
            # a device assigned at run time is read from then on
            await asyncio.to_thread(
                publish_config,
                services.mqtt_admin_url,
                hub.hub_id,
                home_config(hub.hub_id, 2, CUFF, METER, SCALE, SECOND_CUFF),
            )
            got += await _readings(client, 1)
            await asyncio.sleep(0)
        return got, home

    try:
        got, home = asyncio.run(scenario())
    finally:
        client.close()
    memory = home.memory
    assert memory is not None
    readings = [reading for reading, _ in got]
    counts = Counter(r.reading_id for r in readings)
    assert max(counts.values()) == 1, "a reading arrived twice"
    expected = {a: len(patient_records(memory, a)) for a in (CUFF, METER, SCALE, SECOND_CUFF)}
    assert Counter(r.device.address for r in readings) == expected
    for reading in readings:
        record = record_for(memory, reading)
        assert reading.device.device_id == SERIALS[reading.device.address]
        error = (reading.measured_at - record.taken_at).total_seconds()
        if reading.device.address == SCALE and reading.time_source is TimeSource.DEVICE_RAW:
            assert error == pytest.approx(90, abs=1.5)  # first contact: nothing to correct with yet
        else:
            assert reading.time_source is TimeSource.DEVICE_CORRECTED, reading
            assert abs(error) < 1.5, (reading.device.address, error)
        if reading.kind == "blood_pressure":
            assert reading.systolic_mmhg == record.values["systolic"]
            assert reading.diastolic_mmhg == record.values["diastolic"]
            assert reading.pulse_bpm == record.values["pulse"]
            assert reading.device_unit.value == "mmHg"
        elif reading.kind == "glucose":
            assert reading.glucose_mg_dl == pytest.approx(record.values["mg_dl"])
        else:
            assert reading.weight_kg == pytest.approx(record.values["weight_kg"], abs=0.005)
    meals = [r.meal for r in readings if r.kind == "glucose" and r.meal is not None]
    assert [m.value for m in meals] == ["postprandial"]
    scale = [r for r in readings if r.device.address == SCALE]
    assert scale[-1].time_source is TimeSource.DEVICE_CORRECTED
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"cuff reading -> broker over {len(latencies)} readings: p50 {cuts[49] * 1000:.0f} ms, "
        f"p99 {cuts[98] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    assert max(latencies) < 5.0
