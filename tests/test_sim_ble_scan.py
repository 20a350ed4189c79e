"""Scanning a simulated air through bleak's public API only (BleakScanner with backend=)."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakError

from simulators.ble import (
    SimCharacteristic,
    SimService,
    SimulatedAir,
    SimulatedPeripheral,
    SimulatedScannerBackend,
    make_backends,
    normalize_uuid,
)
from simulators.ble.harness import run_sim

SERVICE = "0000fff0-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE = normalize_uuid(0x180F)
DEVICE = "C0:FF:EE:00:00:01"
OTHER = "C0:FF:EE:00:00:02"
SCAN_SECONDS = 0.3


def make_device(address: str = DEVICE, name: str = "SIM-DEVICE") -> SimulatedPeripheral:
    return SimulatedPeripheral(
        address,
        name,
        services=[SimService(SERVICE, [SimCharacteristic("fff1", ["read"], b"\x01")])],
        advertised_service_uuids=[SERVICE],
        manufacturer_data={0x0059: b"\x10\x20"},
        rssi=-48,
    )


def make_other() -> SimulatedPeripheral:
    return SimulatedPeripheral(OTHER, "OTHER", advertised_service_uuids=[0x180F], rssi=-80)


def test_discover_reports_every_advertising_peripheral_with_its_advertisement() -> None:
    async def scenario(air: SimulatedAir) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
        air.add(make_device())
        air.add(make_other())
        return await BleakScanner.discover(SCAN_SECONDS, return_adv=True, backend=air.scanner_backend)

    found = run_sim(scenario)

    assert set(found) == {DEVICE, OTHER}
    device, adv = found[DEVICE]
    assert device.address == DEVICE
    assert device.name == "SIM-DEVICE"
    assert adv.local_name == "SIM-DEVICE"
    assert adv.service_uuids == [SERVICE]
    assert adv.manufacturer_data == {0x0059: b"\x10\x20"}
    assert adv.rssi == -48


@pytest.mark.parametrize(
    ("filter_uuid", "expected"),
    [
        pytest.param("180f", {OTHER}, id="16-bit-short-form"),
        pytest.param(BATTERY_SERVICE, {OTHER}, id="128-bit-form"),
        pytest.param(SERVICE.upper(), {DEVICE}, id="upper-case-custom"),
    ],
)
def test_service_uuid_filter_matches_however_the_uuid_is_spelt(filter_uuid: str, expected: set[str]) -> None:
    async def scenario(air: SimulatedAir) -> list[BLEDevice]:
        air.add(make_device())
        air.add(make_other())
        return await BleakScanner.discover(
            SCAN_SECONDS, service_uuids=[filter_uuid], backend=air.scanner_backend
        )

    assert {d.address for d in run_sim(scenario)} == expected


def test_find_device_by_name_address_and_filter() -> None:
    async def scenario(air: SimulatedAir) -> tuple[BLEDevice | None, ...]:
        air.add(make_device())
        air.add(make_other())
        backend = air.scanner_backend
        by_name = await BleakScanner.find_device_by_name("OTHER", timeout=2, backend=backend)
        by_address = await BleakScanner.find_device_by_address(DEVICE.lower(), timeout=2, backend=backend)
        by_filter = await BleakScanner.find_device_by_filter(
            lambda d, ad: 0x0059 in ad.manufacturer_data, timeout=2, backend=backend
        )
        return by_name, by_address, by_filter

    by_name, by_address, by_filter = run_sim(scenario)

    assert [d.address if d else None for d in (by_name, by_address, by_filter)] == [OTHER, DEVICE, DEVICE]


def test_a_device_that_stops_advertising_is_not_found_and_one_that_comes_into_range_is() -> None:
    async def scenario(air: SimulatedAir) -> tuple[BLEDevice | None, list[str]]:
        device = air.add(make_device())
        device.stop_advertising()
        missing = await BleakScanner.find_device_by_address(
            DEVICE, timeout=SCAN_SECONDS, backend=air.scanner_backend
        )
        seen: list[str] = []
        async with BleakScanner(lambda d, ad: seen.append(d.address), backend=air.scanner_backend):
            await asyncio.sleep(0.05)
            device.start_advertising()
            air.add(make_other())
            await asyncio.sleep(0.05)
        return missing, seen

    missing, seen = run_sim(scenario)

    assert missing is None
    assert set(seen) == {DEVICE, OTHER}


def test_detection_callback_sees_advertisement_changes_immediately() -> None:
    async def scenario(air: SimulatedAir) -> list[bytes]:
        device = air.add(make_device())
        device.advertising_interval = 60.0  # only changes can explain a second advertisement
        payloads: list[bytes] = []

        async def on_advert(d: BLEDevice, ad: AdvertisementData) -> None:
            payloads.append(ad.manufacturer_data[0x0059])

        async with BleakScanner(on_advert, backend=air.scanner_backend):
            await asyncio.sleep(0.05)
            device.update_advertisement(manufacturer_data={0x0059: b"\x99"})
            await asyncio.sleep(0.05)
        return payloads

    assert run_sim(scenario) == [b"\x10\x20", b"\x99"]


def test_a_second_concurrent_scan_fails_like_bluez_and_works_after_the_first_stops() -> None:
    async def scenario(air: SimulatedAir) -> list[BLEDevice]:
        air.add(make_device())
        async with BleakScanner(backend=air.scanner_backend):
            with pytest.raises(BleakDBusError, match=r"org\.bluez\.Error\.InProgress") as raised:
                await BleakScanner.discover(0.1, backend=air.scanner_backend)
            assert raised.value.dbus_error == "org.bluez.Error.InProgress"
        return await BleakScanner.discover(SCAN_SECONDS, backend=air.scanner_backend)

    assert [d.address for d in run_sim(scenario)] == [DEVICE]


def test_connecting_by_address_scans_first_so_it_collides_with_a_running_scan() -> None:
    async def scenario(air: SimulatedAir) -> bool:
        air.add(make_device())
        async with BleakScanner(backend=air.scanner_backend):
            with pytest.raises(BleakDBusError, match="InProgress"):
                await BleakClient(DEVICE, backend=air.client_backend, timeout=1).connect()
        async with BleakClient(DEVICE, backend=air.client_backend, timeout=2) as client:
            return client.is_connected

    assert run_sim(scenario) is True


def test_two_airs_are_independent() -> None:
    async def scenario(air: SimulatedAir) -> tuple[list[str], list[str]]:
        air.add(make_device())
        async with SimulatedAir(name="hci1") as other_home:
            other_home.add(make_other())
            scanner_class, _ = make_backends(other_home)
            here = await BleakScanner.discover(SCAN_SECONDS, backend=air.scanner_backend)
            there = await BleakScanner.discover(SCAN_SECONDS, backend=scanner_class)
        return [d.address for d in here], [d.address for d in there]

    assert run_sim(scenario) == ([DEVICE], [OTHER])


def test_unbound_backend_class_refuses_with_a_message_that_says_how_to_bind_it() -> None:
    with pytest.raises(BleakError, match=r"air\.scanner_backend"):
        BleakScanner(backend=SimulatedScannerBackend)
