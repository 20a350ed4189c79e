"""The hub's session code (gateway.ble) against simulated devices built from the same profiles."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker.contract.events import HubEventType
from broker.contract.readings import GlucoseReading, Meal, TimeSource
from firmware_profiles import Profile
from gateway.ble.codec.racp import report_all_records, report_records_from
from gateway.ble.errors import PairingError
from gateway.ble.pairing import PasskeyBook
from gateway.ble.session import SessionOutcome
from gateway.ble.state import DeviceState
from simulators.ble import SimulatedAir
from simulators.ble.harness import run_sim
from simulators.devices import (
    DeviceClock,
    ProfiledDevice,
    SimBloodPressureCuff,
    SimGlucometer,
    SimScale,
    simulated_device,
)
from simulators.devices.rig import HubRig

ZONE = ZoneInfo("America/New_York")
PIN = 123456


def add(rig: HubRig, profile: Profile | str, address: str, *, offset_s: float = 0.0, **kwargs: Any) -> Any:
    if isinstance(profile, str):
        profile = rig.profiles.get(profile)
    clock = DeviceClock(rig.air.clock, zone=ZONE, offset_s=offset_s, drift_ppm=kwargs.pop("drift_ppm", 0.0))
    device = simulated_device(profile, address, clock, **kwargs)
    rig.air.add(device)
    return device


def take_two(device: ProfiledDevice, hours_ago: float = 3.0) -> list[Any]:
    """Two measurements (one some hours old) plus, for meters, a control-solution test."""
    earlier = device.clock.sim.wallclock() - timedelta(hours=hours_ago)
    if isinstance(device, SimBloodPressureCuff):
        return [device.measure(128, 82, 71, at=earlier), device.measure(141, 92, 66)]
    if isinstance(device, SimGlucometer):
        first = device.measure(112, at=earlier)
        device.measure(98, control_solution=True)
        return [first, device.measure(140)]
    assert isinstance(device, SimScale)
    return [device.step_on(80.5, at=earlier), device.step_on(80.1)]


def rig_run(scenario: Any, agent: Any = None) -> Any:
    async def main(air: SimulatedAir) -> Any:
        return await scenario(HubRig.create(air, ZONE))

    return run_sim(main, agent=agent if agent is not None else PasskeyBook(dict.fromkeys(ADDRESSES, PIN)))


ADDRESSES = [f"C0:00:00:00:00:{i:02X}" for i in range(1, 16)]


@pytest.mark.parametrize(
    "profile_id",
    [
        "sig-blood-pressure",
        "sig-glucose",
        "sig-weight-scale",
        "and-ua-651ble",
        "and-uc-352ble",
        "omron-bp7250",
        "accu-chek-guide",
        "contour-next-one",
    ],
)
def test_each_profile_against_its_simulated_device(profile_id: str) -> None:
    async def scenario(rig: HubRig) -> None:
        profile = rig.profiles.get(profile_id)
        device = add(rig, profile, ADDRESSES[0], serial="SN-42")
        taken = take_two(device)
        if profile.records.strategy.value == "latest_only":
            taken = taken[-1:]
        result = await rig.collect(ADDRESSES[0], profile)
        assert result.decode_errors == 0
        assert len(rig.readings) == len(taken)
        for reading, record in zip(rig.readings, taken, strict=True):
            assert reading.kind == profile.kinds[0].value
            assert reading.device.device_id == "SN-42"
            assert reading.device.profile == profile_id
            assert reading.device.address == ADDRESSES[0]
            assert reading.device_time is not None
            assert abs((reading.measured_at - record.taken_at).total_seconds()) <= 1.0
        if isinstance(device, SimGlucometer):
            assert result.discarded == 1  # the control-solution test
            assert [e.type for e in result.events] == [HubEventType.RECORD_DISCARDED]
        assert result.status is not None
        assert result.status.battery_pct == 80
        assert result.status.rssi_dbm == -60
        expected = (
            SessionOutcome.DEVICE_DISCONNECTED
            if profile.link.device_disconnects_after_sending
            else SessionOutcome.COMPLETE
        )
        assert result.outcome is expected
        assert not device.is_connected

    rig_run(scenario)


def test_glucometer_reconnect_asks_only_for_new_records() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "accu-chek-guide", ADDRESSES[0])
        for value in (101, 102, 103):
            meter.measure(value)
        await rig.collect(ADDRESSES[0], meter.profile)
        assert await rig.store.get(ADDRESSES[0]) == DeviceState(3, pytest.approx(0.0, abs=1.0))
        meter.measure(104)
        meter.measure(105)
        second = await rig.collect(ADDRESSES[0], meter.profile)
        assert [r.sequence for r in second.readings] == [4, 5]
        assert [r.glucose_mg_dl for r in rig.readings] == [101, 102, 103, 104, 105]
        racp = [data for uuid, data in meter.received_writes if uuid == meter.racp_uuid]
        assert racp == [report_all_records(), report_records_from(4)]
        third = await rig.collect(ADDRESSES[0], meter.profile)
        assert third.readings == []
        assert third.outcome is SessionOutcome.COMPLETE

    rig_run(scenario)


def test_cuff_reconnect_sends_only_unsent_readings() -> None:
    async def scenario(rig: HubRig) -> None:
        cuff: SimBloodPressureCuff = add(rig, "and-ua-651ble", ADDRESSES[0])
        take_two(cuff)
        await rig.collect(ADDRESSES[0], cuff.profile)
        cuff.measure(118, 76, 60)
        second = await rig.collect(ADDRESSES[0], cuff.profile)
        assert [r.systolic_mmhg for r in second.readings] == [118]
        assert len({r.reading_id for r in rig.readings}) == 3
        assert cuff.clock.sets == 2  # Date Time written in every session

    rig_run(scenario)


def test_link_drop_mid_racp_transfer_loses_and_doubles_nothing() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "accu-chek-guide", ADDRESSES[0])
        from gateway.ble.codec.glucose_context import Meal as CodecMeal

        for i in range(10):
            meter.measure(100 + i, meal=None if i % 2 else CodecMeal.FASTING)
        # records 1-4 take 2+1+2+1 notifications; the 7th is record 5's measurement: its context never comes
        meter.faults.drop_link_after_notifications = 7
        first = await rig.collect(ADDRESSES[0], meter.profile)
        assert first.outcome is SessionOutcome.LINK_LOST
        delivered = [r.sequence for r in first.readings]
        assert delivered == [1, 2, 3, 4]
        assert (await rig.store.get(ADDRESSES[0])).last_sequence == 4  # type: ignore[union-attr]
        meter.faults.drop_link_after_notifications = None
        second = await rig.collect(ADDRESSES[0], meter.profile)
        assert second.outcome is SessionOutcome.COMPLETE
        sequences = [r.sequence for r in rig.readings]
        assert sequences == list(range(1, 11))
        assert len({r.reading_id for r in rig.readings}) == 10
        meals = {r.sequence: r.meal for r in rig.readings if isinstance(r, GlucoseReading)}
        assert meals[5] is Meal.FASTING
        assert meals[6] is None

    rig_run(scenario)


def test_meter_seven_minutes_fast_is_corrected_within_a_second() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "accu-chek-guide", ADDRESSES[0], offset_s=7 * 60, drift_ppm=20)
        now = meter.clock.sim.wallclock()
        truths = [meter.measure(90 + i, at=now - timedelta(hours=5 - i)).taken_at for i in range(5)]
        await rig.collect(ADDRESSES[0], meter.profile)
        for reading, truth in zip(rig.readings, truths, strict=True):
            assert reading.time_source is TimeSource.DEVICE_CORRECTED
            assert reading.clock_offset_s == pytest.approx(420, abs=1)
            assert abs((reading.measured_at - truth).total_seconds()) < 1.0
            # the raw device time is 7 minutes ahead, in the hub's zone
            device_utc = reading.device_time.replace(tzinfo=ZONE).astimezone(UTC)  # type: ignore[union-attr]
            assert abs((device_utc - truth).total_seconds() - 420) < 1.5

    rig_run(scenario)


def test_cuff_clock_is_read_then_set_so_the_next_session_needs_no_correction() -> None:
    async def scenario(rig: HubRig) -> None:
        cuff: SimBloodPressureCuff = add(rig, "omron-bp7250", ADDRESSES[0], offset_s=-300)
        truth = cuff.measure(130, 85, 70).taken_at
        first = await rig.collect(ADDRESSES[0], cuff.profile)
        assert abs((first.readings[0].measured_at - truth).total_seconds()) < 1.0
        assert first.readings[0].clock_offset_s == pytest.approx(-300, abs=1)
        assert abs(cuff.clock.offset_s) < 1.0  # the hub set the clock (the cuff's ATT 0x80 answer ignored)
        assert not [e for e in first.events if e.type is HubEventType.CLOCK_SET_FAILED]
        truth = cuff.measure(125, 80, 65).taken_at
        second = await rig.collect(ADDRESSES[0], cuff.profile)
        assert abs((second.readings[0].measured_at - truth).total_seconds()) < 1.0
        assert second.readings[0].clock_offset_s == pytest.approx(0, abs=1)

    rig_run(scenario)


def test_scale_offset_comes_from_the_live_measurement() -> None:
    async def scenario(rig: HubRig) -> None:
        scale: SimScale = add(rig, "and-uc-352ble", ADDRESSES[0], offset_s=420)
        scale.step_on(81.0)
        first = await rig.collect(ADDRESSES[0], scale.profile)
        assert first.readings[0].time_source is TimeSource.DEVICE_RAW
        assert first.status is not None
        assert first.status.clock_offset_s == pytest.approx(420, abs=1)
        truth = scale.step_on(80.8).taken_at
        second = await rig.collect(ADDRESSES[0], scale.profile)
        assert second.readings[0].time_source is TimeSource.DEVICE_CORRECTED
        assert abs((second.readings[0].measured_at - truth).total_seconds()) < 1.0

    rig_run(scenario)


def test_clock_reset_is_reported_and_the_estimate_restarts() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "contour-next-one", ADDRESSES[0], offset_s=30)
        meter.measure(100)
        await rig.collect(ADDRESSES[0], meter.profile)
        meter.clock.reset()  # battery change: back to 2000-01-01
        truth = meter.measure(120).taken_at
        second = await rig.collect(ADDRESSES[0], meter.profile)
        assert [e.type for e in second.events] == [HubEventType.CLOCK_RESET]
        assert abs((second.readings[0].measured_at - truth).total_seconds()) < 1.0

    rig_run(scenario)


def test_meter_that_sends_before_subscription_loses_nothing_thanks_to_racp() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "sig-glucose", ADDRESSES[0])
        meter.measure(100)
        meter.measure(110)
        meter.faults.send_before_subscribe = True
        result = await rig.collect(ADDRESSES[0], meter.profile)
        assert len(meter.lost) == 1  # the eager notification went out before the CCCD was written
        assert [r.sequence for r in result.readings] == [1, 2]

    rig_run(scenario)


def test_cuff_that_sends_before_subscription_resends_and_nothing_is_lost() -> None:
    async def scenario(rig: HubRig) -> None:
        cuff: SimBloodPressureCuff = add(rig, "and-ua-651ble", ADDRESSES[0])
        take_two(cuff)
        cuff.faults.send_before_subscribe = True
        result = await rig.collect(ADDRESSES[0], cuff.profile)
        assert len(cuff.lost) == 2
        assert [r.systolic_mmhg for r in result.readings] == [128, 141]
        assert all(record.sent for record in cuff.records)

    rig_run(scenario)


def test_passkey_pairing_with_the_right_pin() -> None:
    book = PasskeyBook({ADDRESSES[0]: PIN})

    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "accu-chek-guide", ADDRESSES[0], passkey=PIN)
        meter.measure(100)
        result = await rig.collect(ADDRESSES[0], meter.profile)
        assert meter.bonded
        assert len(result.readings) == 1
        assert book.requests == [ADDRESSES[0]]

    rig_run(scenario, agent=book)


@pytest.mark.parametrize("pins", [{ADDRESSES[0]: 654321}, {}], ids=["wrong-pin", "no-pin"])
def test_passkey_pairing_with_a_wrong_or_missing_pin_fails_visibly(pins: dict[str, int]) -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "accu-chek-guide", ADDRESSES[0], passkey=PIN)
        meter.measure(100)
        async with rig.scanner() as scanner:
            sighting = await rig.sight(scanner, ADDRESSES[0])
        with pytest.raises(PairingError, match="enter the PIN the device shows"):
            await rig.session(sighting, meter.profile).run()
        assert not meter.bonded
        assert rig.readings == []
        assert [e.type for e in rig.events] == [HubEventType.PAIRING_FAILED]
        assert meter.received_writes == []

    rig_run(scenario, agent=PasskeyBook(pins))


def test_contour_pairs_only_after_a_measurement() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "contour-next-one", ADDRESSES[0])
        async with rig.scanner() as scanner:
            sighting = await rig.sight(scanner, ADDRESSES[0])
        with pytest.raises(PairingError, match="take a measurement first"):
            await rig.session(sighting, meter.profile).run()
        meter.measure(100)
        result = await rig.collect(ADDRESSES[0], meter.profile)
        assert meter.bonded
        assert len(result.readings) == 1

    rig_run(scenario)


def test_garbage_bytes_become_decode_events_and_the_record_is_fetched_again() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "sig-glucose", ADDRESSES[0])
        for value in (100, 110, 120):
            meter.measure(value)
        meter.garbage_records = 1
        first = await rig.collect(ADDRESSES[0], meter.profile)
        assert first.outcome is SessionOutcome.COMPLETE
        assert first.decode_errors == 1
        event = first.events[0]
        assert event.type is HubEventType.DECODE_ERROR
        assert event.raw_hex
        assert bytes.fromhex(event.raw_hex)
        assert event.to_hub_event("hub-1").raw_hex == event.raw_hex
        assert [r.sequence for r in first.readings] == [2, 3]
        # the undecodable record cannot be identified, so the sequence was not advanced past it
        assert (await rig.store.get(ADDRESSES[0])).last_sequence is None  # type: ignore[union-attr]
        await rig.collect(ADDRESSES[0], meter.profile)
        assert {r.sequence for r in rig.readings} == {1, 2, 3}
        assert len({r.reading_id for r in rig.readings}) == 3  # re-read records keep their ids

    rig_run(scenario)


def test_garbage_from_a_cuff_is_an_event_not_a_crash() -> None:
    async def scenario(rig: HubRig) -> None:
        cuff: SimBloodPressureCuff = add(rig, "sig-blood-pressure", ADDRESSES[0])
        take_two(cuff)
        cuff.garbage_records = 1
        cuff.faults.garble = lambda data, _rng: data[:4]  # cut inside the diastolic value
        result = await rig.collect(ADDRESSES[0], cuff.profile)
        assert result.decode_errors == 1
        assert [e.type for e in result.events] == [HubEventType.DECODE_ERROR]
        assert len(result.readings) == 1

    rig_run(scenario)


def test_sequence_advances_only_after_the_sink_returned() -> None:
    async def scenario(rig: HubRig) -> None:
        meter: SimGlucometer = add(rig, "accu-chek-guide", ADDRESSES[0])
        for value in (100, 110, 120):
            meter.measure(value)
        stored: list[int] = []

        async def failing_sink(reading: Any) -> None:
            if reading.sequence == 2:
                raise OSError("disk full")
            stored.append(reading.sequence)

        async with rig.scanner() as scanner:
            sighting = await rig.sight(scanner, ADDRESSES[0])
        session = rig.session(sighting, meter.profile)
        session._on_reading = failing_sink
        with pytest.raises(OSError, match="disk full"):
            await session.run()
        assert stored == [1]
        assert (await rig.store.get(ADDRESSES[0])).last_sequence == 1  # type: ignore[union-attr]
        assert not meter.is_connected
        second = await rig.collect(ADDRESSES[0], meter.profile)
        assert [r.sequence for r in second.readings] == [2, 3]

    rig_run(scenario)


def test_delete_after_transfer_removes_only_delivered_records() -> None:
    async def scenario(rig: HubRig) -> None:
        base = rig.profiles.get("sig-glucose")
        profile = base.model_copy(
            update={"records": base.records.model_copy(update={"delete_after_transfer": True})}
        )
        meter: SimGlucometer = add(rig, profile, ADDRESSES[0])
        meter.measure(100)
        meter.measure(110)
        await rig.collect(ADDRESSES[0], profile)
        assert meter.records == []
        assert len(rig.readings) == 2

    rig_run(scenario)


def test_silent_meter_gets_an_abort_and_the_session_fails_cleanly() -> None:
    async def scenario(rig: HubRig) -> None:
        base = rig.profiles.get("sig-glucose")
        profile = base.model_copy(
            update={"records": base.records.model_copy(update={"transfer_timeout_s": 0.2})}
        )
        meter: SimGlucometer = add(rig, profile, ADDRESSES[0], record_interval_s=30.0)
        meter.measure(100)
        result = await rig.collect(ADDRESSES[0], profile)
        assert result.outcome is SessionOutcome.FAILED
        assert "aborted" in str(result.error)
        assert meter.received_writes[-1] == (meter.racp_uuid, bytes([3, 0]))
        assert not meter.is_connected

    rig_run(scenario)


def test_concurrent_sessions_respect_the_slot_limit() -> None:
    async def scenario(rig: HubRig) -> None:
        scales = []
        for address in ADDRESSES[:6]:
            scale: SimScale = add(rig, "sig-weight-scale", address)
            scale.faults.response_delay = 0.02
            scale.step_on(70.0)
            scales.append(scale)
        peak_links = 0

        async def watch() -> None:
            nonlocal peak_links
            while True:
                peak_links = max(peak_links, sum(s.is_connected for s in scales))
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch())
        coordinator = rig.coordinator(2, serve_recognised=True)
        async with rig.scanner() as scanner:
            coordinator.attach(scanner)
            while len(rig.readings) < 6:
                await asyncio.sleep(0.01)
            await coordinator.wait_idle()
        watcher.cancel()
        assert coordinator.slots.peak == 2
        assert peak_links == 2
        assert len({r.device.address for r in rig.readings}) == 6
        assert set(coordinator.statuses) == set(ADDRESSES[:6])

    rig_run(scenario)
