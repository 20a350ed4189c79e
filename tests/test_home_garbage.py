"""A simulated home whose cuff and meter send their next two records as garbage (`garbage_records = 2`): the
real hub records each as a decode error carrying the raw bytes, keeps running, and the devices' good readings
arrive. A cuff takes a confirmed indication as delivered, so its two garbled records are gone; a meter's are
read again at its next transfer, since the hub does not move its place past a record it could not decode.
The count left is part of the devices' memory: a restarted home does not garble again."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broker.topics import Channel
from firmware_profiles import load_profiles
from gateway.ble.codec.errors import DecodeError
from gateway.ble.codec.registry import decode
from gateway.settings import load_settings
from rpmctl.services.endpoints import Endpoints
from simulators.ble import SimClock
from simulators.home import Home, HomeSpec
from simulators.home.devices import build_device, device_memory, take
from simulators.home.memory import ClockMemory, DeviceMemory, HomeMemory, load_memory
from simulators.home.spec import Measurement, SpecError, load_spec
from tests.conftest import ProvisionedHub
from tests.test_home_support import (
    CUFF,
    METER,
    METER_PIN,
    SERIALS,
    ZONE,
    Arrivals,
    device,
    home_config,
    home_hub_file,
    home_spec,
    patient_records,
    record_for,
)
from tests.test_hub_support import publish_config, subscriber

GARBAGE = 2


def _spec() -> HomeSpec:
    return home_spec(
        device(
            CUFF,
            garbage_records=GARBAGE,
            readings=[
                {"minutes_ago": 240 - 60 * i, "systolic": 120 + i, "diastolic": 80, "pulse": 70}
                for i in range(4)
            ],
        ),
        device(METER, passkey=METER_PIN, garbage_records=GARBAGE, series={"count": 5, "every_minutes": 240}),
    )


@pytest.mark.services
def test_garbage_records_become_decode_errors_and_the_good_readings_arrive(
    services: Endpoints, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    settings = load_settings(home_hub_file(hub))
    spec = _spec()
    client = subscriber(mqtt_url, hub.hub_id, Channel.READINGS, Channel.EVENTS)
    got = Arrivals()

    async def scenario() -> Home:
        home = Home(settings, spec)
        async with home:
            config = home_config(hub.hub_id, 1, CUFF, METER)
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, config)
            # the first transfers: two records of each device garbled, the others read
            await asyncio.to_thread(
                got.drain, client, lambda a: len(a.decode_errors()) >= 2 * GARBAGE and len(a.readings) >= 5
            )
            assert not home.hub.failed.is_set()
            await asyncio.sleep(1.5)  # pacing: past the hub's rest after each device's session
            home.take(CUFF, systolic=133, diastolic=84, pulse=68)
            home.take(METER, mg_dl=141)
            # the meter's next transfer starts where the hub's place was left: before the garbled records
            await asyncio.to_thread(
                got.drain, client, lambda a: len(a.of(METER)) >= 6 and len(a.of(CUFF)) >= 3
            )
            assert not home.hub.failed.is_set()
        return home

    try:
        home = asyncio.run(scenario())
    finally:
        client.close()
    memory = load_memory(home.memory_path)
    assert memory is not None
    assert {a: memory.devices[a].garbage_left for a in (CUFF, METER)} == {CUFF: 0, METER: 0}

    counts = Counter(r.reading_id for r in got.readings)
    assert max(counts.values()) == 1, "a reading arrived twice"
    for address in (CUFF, METER):
        errors = got.decode_errors(SERIALS[address])
        assert len(errors) == GARBAGE, address
        for event in errors:
            assert event.raw_hex
            raw = bytes.fromhex(event.raw_hex)
            with pytest.raises(DecodeError):
                decode(home.devices[address].measurement_uuid, raw)
    assert len(got.decode_errors()) == 2 * GARBAGE  # the measurements taken later went out clean

    cuff_records = patient_records(memory, CUFF)
    assert len(cuff_records) == 5
    delivered = sorted((record_for(memory, r) for r in got.of(CUFF)), key=lambda r: r.taken_at)
    assert delivered == cuff_records[GARBAGE:]  # the two garbled ones are lost, every later one arrived

    meter = got.of(METER)
    assert sorted(r.sequence for r in meter) == [1, 2, 3, 4, 5, 6]  # the garbled ones were read again
    for reading in meter:
        assert reading.glucose_mg_dl == pytest.approx(record_for(memory, reading).values["mg_dl"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "garbage_records: Input should be greater than or equal to 0"),
        ('"two"', "garbage_records: Input should be a valid integer"),
        ("1.5", "garbage_records: Input should be a valid integer"),
        ("true", "garbage_records: Input should be a valid integer"),
    ],
)
def test_a_bad_garbage_count_names_the_field(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "home.toml"
    device_table = f'[[devices]]\nprofile = "omron-bp7250"\naddress = "{CUFF}"\nserial = "SN-1"\n'
    path.write_text(device_table + f"garbage_records = {value}\n")
    with pytest.raises(SpecError, match=f"devices.0.{message}"):
        load_spec(path)


def test_a_restarted_device_goes_on_with_the_count_left_not_the_files() -> None:
    """The home's memory, not the devices file, says how many garbled records are still to come."""
    (cuff_spec, _) = _spec().devices
    sim = SimClock()
    remembered = DeviceMemory(ClockMemory(0.0, sim.wallclock()), garbage_left=1)
    profile = load_profiles().get(cuff_spec.profile)
    cuff = build_device(cuff_spec, profile, sim, ZoneInfo(ZONE), remembered, lambda: None)
    record = bytes.fromhex(take(cuff, Measurement(systolic=128, diastolic=82), sim.wallclock()).payload)
    garbage = cuff.on_air(record)
    with pytest.raises(DecodeError):
        decode(cuff.measurement_uuid, garbage)
    assert cuff.on_air(record) == record
    saved = HomeMemory(sim.wallclock(), {CUFF: device_memory(cuff)}).to_json()
    assert HomeMemory.from_json(saved).devices[CUFF].garbage_left == 0
    older = saved.replace(',"garbage_left":0', "")  # a memory file written before the count was kept
    assert "garbage_left" not in older
    assert HomeMemory.from_json(older).devices[CUFF].garbage_left == 0
