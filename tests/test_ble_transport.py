"""Shared scanner, connection retries and error classification, against the simulated air."""

from __future__ import annotations

import pytest
from bleak import BleakScanner
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError

from firmware_profiles import load_profiles
from gateway.ble.connector import FailureKind, RetryPolicy, classify, connect
from gateway.ble.errors import ConnectError, DeviceNotFoundError, ScanError
from gateway.ble.scanner import SharedScanner
from simulators.ble import SimulatedAir
from simulators.ble.harness import run_sim
from simulators.devices import DeviceClock, ProfiledDevice, simulated_device

ADDRESS = "C0:00:00:00:00:01"
POLICY = RetryPolicy(
    max_attempts=3,
    connect_timeout=2,
    safety_timeout=5,
    transient_backoff=0,
    busy_backoff=0,
    not_found_backoff=0,
)


def _scale(air: SimulatedAir) -> ProfiledDevice:
    profile = load_profiles().get("sig-weight-scale")
    return air.add(simulated_device(profile, ADDRESS, DeviceClock(air.clock)))


def test_one_shared_scanner_fans_out_and_a_second_scan_is_refused() -> None:
    async def scenario(air: SimulatedAir) -> None:
        _scale(air)
        seen: list[str] = []
        async with SharedScanner(backend=air.scanner_backend, clock=air.clock.wallclock) as scanner:
            scanner.add_listener(lambda s: seen.append(s.address))
            await scanner.start()  # idempotent: no second discovery
            sighting = await scanner.wait_for(lambda s: s.address == ADDRESS, 2)
            assert sighting.advertisement.local_name == "SIM-SN0001"
            with pytest.raises(BleakDBusError, match="InProgress"):
                await BleakScanner(backend=air.scanner_backend).start()
            other = SharedScanner(backend=air.scanner_backend)
            with pytest.raises(ScanError, match="InProgress"):
                await other.start()
            # connecting with the BLEDevice works while the shared scan runs (an address string would scan)
            client = await connect(sighting.device, backend=air.client_backend, policy=POLICY)
            assert client.is_connected
            await client.disconnect()
        assert ADDRESS in seen
        assert scanner.latest(ADDRESS.lower()) is not None

    run_sim(scenario)


def test_transient_failures_are_retried() -> None:
    async def scenario(air: SimulatedAir) -> int:
        device = _scale(air)
        device.faults.fail_connects = 2
        async with SharedScanner(backend=air.scanner_backend) as scanner:
            sighting = await scanner.wait_for(lambda s: s.address == ADDRESS, 2)
        client = await connect(sighting.device, backend=air.client_backend, policy=POLICY)
        await client.disconnect()
        return device.connect_attempts

    assert run_sim(scenario) == 3


def test_giving_up_names_the_device_and_the_attempts() -> None:
    async def scenario(air: SimulatedAir) -> None:
        device = _scale(air)
        device.faults.fail_connects = 5
        async with SharedScanner(backend=air.scanner_backend) as scanner:
            sighting = await scanner.wait_for(lambda s: s.address == ADDRESS, 2)
        with pytest.raises(ConnectError, match=r"after 3 attempt\(s\): transient") as caught:
            await connect(sighting.device, backend=air.client_backend, policy=POLICY)
        assert caught.value.address == ADDRESS
        assert caught.value.attempts == 3

    run_sim(scenario)


def test_a_device_that_left_is_not_found() -> None:
    async def scenario(air: SimulatedAir) -> None:
        device = _scale(air)
        device.faults.fail_connects = 5
        device.faults.connect_error = lambda address: BleakDeviceNotFoundError(address, "gone")
        async with SharedScanner(backend=air.scanner_backend) as scanner:
            sighting = await scanner.wait_for(lambda s: s.address == ADDRESS, 2)
        with pytest.raises(DeviceNotFoundError):
            await connect(sighting.device, backend=air.client_backend, policy=POLICY)

    run_sim(scenario)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError(), FailureKind.TIMEOUT),
        (BleakDeviceNotFoundError("AA", "gone"), FailureKind.NOT_FOUND),
        (BleakDBusError("org.bluez.Error.InProgress", []), FailureKind.BUSY),
        (BleakDBusError("org.bluez.Error.AuthenticationFailed", []), FailureKind.AUTHENTICATION),
        (
            BleakDBusError("org.bluez.Error.Failed", ["Software caused connection abort"]),
            FailureKind.TRANSIENT,
        ),
        (BleakError("anything"), FailureKind.TRANSIENT),
    ],
    ids=["timeout", "not-found", "busy", "auth", "abort", "other"],
)
def test_failures_are_classified_by_type_and_bluez_name(error: BaseException, kind: FailureKind) -> None:
    assert classify(error) is kind
    assert RetryPolicy().backoff(kind) >= 0
