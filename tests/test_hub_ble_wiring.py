"""The pieces that wire the BLE layer into the hub: device state on SQLite, passkeys from hub.toml, and an
outbox that refuses a reading (the device's cursor must not move)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.ble.state import DeviceState
from gateway.blestate import BLE_STATE_KEY, SqliteBleStateStore
from gateway.errors import OutboxFull, SettingsError
from gateway.settings import load_settings
from gateway.state import DeviceStateStore
from simulators.ble import SimulatedAir
from simulators.ble.harness import run_sim
from simulators.devices import DeviceClock, SimGlucometer, simulated_device
from simulators.devices.rig import HubRig

METER = "C0:00:00:00:00:2A"


def test_device_state_round_trips_through_sqlite(tmp_path: Path) -> None:
    async def scenario() -> tuple[Any, Any, Any]:
        raw = DeviceStateStore(tmp_path / "devices.sqlite3")
        store = SqliteBleStateStore(raw)
        await store.set(METER.lower(), DeviceState(last_sequence=17, clock_offset_s=-4.5))
        first = await store.get(METER)
        await raw.set(METER, BLE_STATE_KEY, '{"v": 99}')  # written by some future hub version
        unknown = await store.get(METER)
        missing = await store.get("C0:00:00:00:00:FF")
        await raw.close()
        return first, unknown, missing

    first, unknown, missing = asyncio.run(scenario())
    assert first == DeviceState(17, -4.5)
    assert unknown is None  # read from the first record again: costs a transfer, loses nothing
    assert missing is None


def _hub_toml(tmp_path: Path, passkeys: str) -> Path:
    for name in ("ca.crt", "hub.crt", "hub.key"):
        (tmp_path / name).write_text("-")
    path = tmp_path / "hub.toml"
    path.write_text(
        'hub_id = "hub-1"\nbroker_url = "mqtts://127.0.0.1:8883"\nusername = "hub-1"\npassword = "x"\n'
        'ca_file = "ca.crt"\ncert_file = "hub.crt"\nkey_file = "hub.key"\nstate_dir = "state"\n'
        f"\n[passkeys]\n{passkeys}\n"
    )
    return path


def test_passkeys_come_from_the_hub_file(tmp_path: Path) -> None:
    from gateway.hub import Hub

    settings = load_settings(_hub_toml(tmp_path, '"c0:00:00:00:00:2a" = 123456'))
    assert settings.passkeys == {METER: 123456}
    assert asyncio.run(Hub(settings).passkeys(METER.lower())) == 123456


@pytest.mark.parametrize(
    ("line", "problem"),
    [('"C0:00:00:00:2A" = 123456', "not a Bluetooth address"), (f'"{METER}" = 1234567', "at most 6 digits")],
    ids=["short-address", "seven-digits"],
)
def test_bad_passkeys_are_refused_with_the_field(tmp_path: Path, line: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem) as caught:
        load_settings(_hub_toml(tmp_path, line))
    assert any(p.startswith("passkeys") for p in caught.value.problems)


def test_a_full_outbox_leaves_the_meter_cursor_and_the_next_session_fetches_again(tmp_path: Path) -> None:
    async def scenario(air: SimulatedAir) -> tuple[list[int], int, Any, list[int]]:
        rig = HubRig.create(air, ZoneInfo("UTC"))
        raw = DeviceStateStore(tmp_path / "devices.sqlite3")
        store = SqliteBleStateStore(raw)
        clock = DeviceClock(air.clock)
        meter: SimGlucometer = simulated_device(rig.profiles.get("sig-glucose"), METER, clock)  # type: ignore[assignment]
        air.add(meter)
        for value in (100, 110, 120):
            meter.measure(value)
        stored: list[int] = []
        full = True

        async def outbox(reading: Any) -> None:
            if full and reading.sequence == 2:
                raise OutboxFull(1000, 1000)
            stored.append(reading.sequence)

        coordinator = rig.coordinator(1, cooldown_s=0.05)
        coordinator._store = store  # the hub's SQLite store instead of the rig's dict
        coordinator._on_reading = outbox
        coordinator.assign([_assigned()])
        async with rig.scanner() as scanner:
            coordinator.attach(scanner)
            while coordinator.sink_failures == 0:
                await asyncio.sleep(0.01)
            first = list(stored)
            cursor = await store.get(METER)
            full = False
            while len(stored) < 3:
                await asyncio.sleep(0.01)
            await coordinator.close()
        await raw.close()
        return first, coordinator.sink_failures, cursor, stored

    first, failures, cursor, stored = run_sim(scenario)
    assert first == [1]
    assert failures == 1
    assert cursor is not None
    assert cursor.last_sequence == 1  # record 2 was refused: the next transfer starts there
    assert stored == [1, 2, 3]


def _assigned() -> Any:
    from broker.contract import AssignedDevice

    return AssignedDevice(device_id="SN-GL-9", profile="sig-glucose", address=METER)
