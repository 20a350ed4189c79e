"""Simulated device models: clocks, RACP protocol rules, and the bytes they send."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakGATTProtocolError

from firmware_profiles import load_profiles
from gateway.ble.codec import decode_glucose_measurement, decode_racp, report_all_records
from gateway.ble.codec.racp import RacpOpcode, RacpResponse, RacpResponseCode, count_all_records
from simulators.ble import SimClock, SimulatedAir
from simulators.ble.harness import run_sim
from simulators.devices import DeviceClock, SimGlucometer, simulated_device

ADDRESS = "C0:00:00:00:00:09"
PROFILES = load_profiles()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


def test_device_clock_offset_drift_set_and_reset() -> None:
    sim = SimClock()
    clock = DeviceClock(sim, offset_s=60, drift_ppm=100)
    later = sim.wallclock() + timedelta(days=10)
    shown = clock.device_utc_at(later) - later
    assert shown.total_seconds() == pytest.approx(60 + 86.4, abs=0.01)
    clock.set_local(sim.wallclock().replace(tzinfo=None))
    assert abs(clock.offset_s) < 0.1
    clock.reset()
    assert clock.now_local().year == 2000


def test_glucometer_speaks_racp_like_a_gls_meter() -> None:
    async def scenario(air: SimulatedAir) -> None:
        meter = simulated_device(PROFILES.get("sig-glucose"), ADDRESS, DeviceClock(air.clock))
        assert isinstance(meter, SimGlucometer)
        air.add(meter)
        meter.measure(100)
        meter.measure(110)
        device = await BleakScanner.find_device_by_address(ADDRESS, timeout=2, backend=air.scanner_backend)
        assert device is not None
        async with BleakClient(device, backend=air.client_backend, pair=True) as client:
            with pytest.raises(BleakGATTProtocolError) as caught:
                await client.write_gatt_char(meter.racp_uuid, report_all_records(), response=True)
            assert int(caught.value.code) == 0x81  # CCCD not enabled first
            records: list[bytes] = []
            answers: list[bytes] = []
            await client.start_notify(meter.measurement_uuid, lambda _c, d: records.append(bytes(d)))
            await client.start_notify(meter.racp_uuid, lambda _c, d: answers.append(bytes(d)))
            await client.write_gatt_char(meter.racp_uuid, count_all_records(), response=True)
            await _until(lambda: len(answers) == 1)
            assert decode_racp(answers[0]).count == 2  # type: ignore[union-attr]
            await client.write_gatt_char(meter.racp_uuid, report_all_records(), response=True)
            await _until(lambda: len(answers) == 2)
        assert [decode_glucose_measurement(r).sequence for r in records] == [1, 2]
        done = RacpResponse(RacpOpcode.REPORT_STORED_RECORDS, RacpResponseCode.SUCCESS)
        assert decode_racp(answers[1]) == done

    run_sim(scenario)
