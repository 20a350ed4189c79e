"""Device behaviour and injected faults, observed through bleak's public API only."""

from __future__ import annotations

import asyncio
import time

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDBusError, BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode

from simulators.ble import (
    AttError,
    Faults,
    SimCharacteristic,
    SimClock,
    SimService,
    SimulatedAir,
    SimulatedPeripheral,
    normalize_uuid,
)
from simulators.ble.harness import run_sim

SERVICE = normalize_uuid("fff0")
MEASUREMENT = normalize_uuid("fff1")  # indicate
CONTROL = normalize_uuid("fff2")  # write + indicate
STATUS = normalize_uuid("fff3")  # read, needs bonding
ADDRESS = "C0:FF:EE:00:00:01"
PIN = 123456


def make_device(
    cls: type[SimulatedPeripheral] = SimulatedPeripheral, **kwargs: object
) -> SimulatedPeripheral:
    return cls(
        ADDRESS,
        "SIM-DEVICE",
        advertised_service_uuids=[SERVICE],
        services=[
            SimService(
                SERVICE,
                [
                    SimCharacteristic(MEASUREMENT, ["indicate"], requires_bonding=False),
                    SimCharacteristic(CONTROL, ["write", "indicate"], requires_bonding=False),
                    SimCharacteristic(STATUS, ["read"], b"\x07"),
                ],
            )
        ],
        **kwargs,  # type: ignore[arg-type]
    )


async def find(air: SimulatedAir) -> BLEDevice:
    device = await BleakScanner.find_device_by_address(ADDRESS, timeout=2, backend=air.scanner_backend)
    assert device is not None
    return device


def test_device_initiated_disconnect_fires_the_callback_and_clears_the_connection() -> None:
    async def scenario(air: SimulatedAir) -> None:
        device = air.add(make_device())
        disconnected: list[bool] = []
        client = BleakClient(
            await find(air), lambda c: disconnected.append(c.is_connected), backend=air.client_backend
        )
        await client.connect()
        assert not device.is_advertising
        await device.disconnect()
        assert disconnected == [False]
        assert not client.is_connected
        assert device.is_advertising  # back to advertising, so the hub can find it again
        with pytest.raises(BleakError, match="Service Discovery has not been performed"):
            _ = client.services
        await client.disconnect()  # harmless when already disconnected
        assert disconnected == [False]

    run_sim(scenario)


def test_values_sent_right_before_a_device_disconnect_are_delivered_first() -> None:
    async def scenario(air: SimulatedAir) -> list[str]:
        device = air.add(make_device())
        events: list[str] = []
        client = BleakClient(
            await find(air), lambda c: events.append("disconnected"), backend=air.client_backend
        )
        await client.connect()
        await client.start_notify(MEASUREMENT, lambda c, d: events.append(d.hex()))
        device.faults.response_delay = 0  # indications confirm at once
        await device.notify(MEASUREMENT, b"\x01")
        await device.disconnect()
        return events

    assert run_sim(scenario) == ["01", "disconnected"]


def test_first_k_connection_attempts_fail_then_the_connection_succeeds() -> None:
    async def scenario(air: SimulatedAir) -> list[str]:
        device = air.add(make_device(faults=Faults(fail_connects=2)))
        client = BleakClient(await find(air), backend=air.client_backend, timeout=2)
        outcomes: list[str] = []
        for _ in range(3):
            try:
                await client.connect()
                outcomes.append("connected")
            except BleakDBusError as exc:
                outcomes.append(exc.dbus_error)
        assert device.connect_attempts == 3
        assert device.connections == 1
        await client.disconnect()
        return outcomes

    assert run_sim(scenario) == ["org.bluez.Error.Failed", "org.bluez.Error.Failed", "connected"]


def test_connect_to_a_device_that_does_not_advertise_times_out() -> None:
    async def scenario(air: SimulatedAir) -> None:
        device = air.add(make_device())
        found = await find(air)
        device.stop_advertising()
        with pytest.raises(TimeoutError):
            await BleakClient(found, backend=air.client_backend, timeout=0.2).connect()

    run_sim(scenario)


def test_connect_by_address_to_an_absent_device_raises_device_not_found() -> None:
    async def scenario(air: SimulatedAir) -> None:
        from bleak.exc import BleakDeviceNotFoundError

        with pytest.raises(BleakDeviceNotFoundError, match="was not found") as raised:
            await BleakClient(ADDRESS, backend=air.client_backend, timeout=0.2).connect()
        assert raised.value.identifier == ADDRESS

    run_sim(scenario)


@pytest.mark.parametrize(
    ("agent_pin", "paired"),
    [
        pytest.param(PIN, True, id="right-pin"),
        pytest.param(654321, False, id="wrong-pin"),
        pytest.param(None, False, id="user-cancelled"),
    ],
)
def test_pairing_succeeds_only_with_the_devices_pin(agent_pin: int | None, paired: bool) -> None:
    asked: list[str] = []

    async def agent(address: str) -> int | None:
        asked.append(address)
        return agent_pin

    async def scenario(air: SimulatedAir) -> bool:
        device = air.add(make_device(requires_bonding=True, passkey=PIN))
        async with BleakClient(await find(air), backend=air.client_backend) as client:
            with pytest.raises(BleakGATTProtocolError) as before_pairing:
                await client.read_gatt_char(STATUS)
            assert before_pairing.value.code == BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION
            if not paired:
                with pytest.raises(BleakDBusError, match=r"org\.bluez\.Error\.AuthenticationFailed"):
                    await client.pair()
                return device.bonded
            await client.pair()
            assert await client.read_gatt_char(STATUS) == bytearray(b"\x07")
        return device.bonded

    assert run_sim(scenario, agent=agent) is paired
    assert asked == [ADDRESS]


def test_pair_on_connect_and_the_bond_survives_reconnection_until_unpair() -> None:
    async def scenario(air: SimulatedAir) -> None:
        device = air.add(make_device(requires_bonding=True, passkey=PIN))
        found = await find(air)
        async with BleakClient(found, backend=air.client_backend, pair=True) as client:
            assert await client.read_gatt_char(STATUS) == bytearray(b"\x07")
        air.agent = None  # a bonded device needs no PIN again
        async with BleakClient(found, backend=air.client_backend) as client:
            await client.pair()
            assert await client.read_gatt_char(STATUS) == bytearray(b"\x07")
            await client.unpair()
            assert not client.is_connected
        assert not device.bonded
        with pytest.raises(BleakDBusError, match="AuthenticationFailed"):
            await BleakClient(found, backend=air.client_backend, pair=True).connect()

    run_sim(scenario, agent=lambda address: PIN)


def test_pairing_is_refused_when_the_device_is_not_in_pairing_mode() -> None:
    async def scenario(air: SimulatedAir) -> None:
        air.add(make_device(passkey=PIN, pairable=False))
        with pytest.raises(BleakDBusError, match="AuthenticationFailed"):
            await BleakClient(await find(air), backend=air.client_backend, pair=True).connect()

    run_sim(scenario, agent=lambda address: PIN)


@pytest.mark.parametrize("code", [0x80, 0x81], ids=["0x80-application", "0x81-application"])
def test_att_error_on_write_surfaces_as_bleak_error_naming_the_code(code: int) -> None:
    async def scenario(air: SimulatedAir) -> str:
        device = air.add(make_device())
        device.faults.inject_att_error("write", CONTROL, code)
        async with BleakClient(await find(air), backend=air.client_backend) as client:
            with pytest.raises(BleakError) as raised:
                await client.write_gatt_char(CONTROL, b"\x01\x01", response=True)
            assert isinstance(raised.value, BleakGATTProtocolError)
            assert raised.value.code == code
            await client.write_gatt_char(CONTROL, b"\x01\x01", response=True)  # only the next one failed
        assert device.received_writes == [(CONTROL, b"\x01\x01")]
        return str(raised.value)

    assert f"Application-specific Error {code:#x}".lower() in run_sim(scenario).lower()


def test_a_write_handler_can_answer_with_an_att_error_after_applying_the_write() -> None:
    class TimeQuirkDevice(SimulatedPeripheral):
        """Applies a time write and still answers 0x80, as some devices do."""

        def on_write(self, uuid: str, data: bytes) -> None:
            self.characteristic(uuid).value = data
            raise AttError(0x80)

    async def scenario(air: SimulatedAir) -> bytes:
        device = air.add(make_device(TimeQuirkDevice))
        async with BleakClient(await find(air), backend=air.client_backend) as client:
            with pytest.raises(BleakGATTProtocolError, match="0x80"):
                await client.write_gatt_char(CONTROL, b"\x2a", response=True)
        return device.characteristic(CONTROL).value

    assert run_sim(scenario) == b"\x2a"


def test_an_indication_sent_before_subscription_is_lost_and_one_after_is_received() -> None:
    async def scenario(air: SimulatedAir) -> tuple[list[bytes], list[tuple[str, bytes]]]:
        device = air.add(make_device(faults=Faults(send_before_subscribe=True)))
        device.enqueue(MEASUREMENT, b"\x01")  # the reading the user just took
        received: list[bytes] = []
        async with BleakClient(await find(air), backend=air.client_backend) as client:
            await client.start_notify(MEASUREMENT, lambda c, d: received.append(bytes(d)))
            assert await device.notify(MEASUREMENT, b"\x02")
        return received, device.lost

    received, lost = run_sim(scenario)

    assert received == [b"\x02"]
    assert lost == [(MEASUREMENT, b"\x01")]


def test_a_well_behaved_device_waits_for_the_subscription_then_hangs_up() -> None:
    async def scenario(air: SimulatedAir) -> tuple[list[bytes], list[str]]:
        device = air.add(make_device(disconnect_after_flush=True))
        device.enqueue(MEASUREMENT, b"\x01", b"\x02", b"\x03")
        received: list[bytes] = []
        events: list[str] = []
        disconnected = asyncio.Event()

        def on_disconnect(client: BleakClient) -> None:
            events.append("disconnected")
            disconnected.set()

        client = BleakClient(await find(air), on_disconnect, backend=air.client_backend)
        await client.connect()
        await client.start_notify(MEASUREMENT, lambda c, d: received.append(bytes(d)))
        await disconnected.wait()
        assert device.lost == []
        assert device.outbox_size == 0
        return received, events

    assert run_sim(scenario) == ([b"\x01", b"\x02", b"\x03"], ["disconnected"])


def test_an_eager_device_that_hangs_up_at_once_makes_connect_fail_in_service_discovery() -> None:
    async def scenario(air: SimulatedAir) -> None:
        device = air.add(make_device(disconnect_after_flush=True, faults=Faults(send_before_subscribe=True)))
        device.enqueue(MEASUREMENT, b"\x01")
        with pytest.raises(BleakError, match="failed to discover services, device disconnected"):
            await BleakClient(await find(air), backend=air.client_backend).connect()
        assert device.lost == [(MEASUREMENT, b"\x01")]

    run_sim(scenario)


def test_the_link_drops_after_n_notifications() -> None:
    async def scenario(air: SimulatedAir) -> tuple[list[bytes], list[bool], SimulatedPeripheral]:
        device = air.add(make_device(faults=Faults(drop_link_after_notifications=3)))
        received: list[bytes] = []
        client = BleakClient(await find(air), backend=air.client_backend)
        await client.connect()
        await client.start_notify(MEASUREMENT, lambda c, d: received.append(bytes(d)))
        results = [await device.notify(MEASUREMENT, bytes([i])) for i in range(5)]
        assert not client.is_connected
        return received, results, device

    received, results, device = run_sim(scenario)

    assert received == [b"\x00", b"\x01", b"\x02"]
    assert results == [True, True, True, False, False]
    assert device.lost == [(MEASUREMENT, b"\x03"), (MEASUREMENT, b"\x04")]


def test_garbage_replaces_the_next_payloads_only() -> None:
    async def scenario(air: SimulatedAir) -> tuple[list[bytes], bytearray]:
        device = air.add(make_device(faults=Faults(garbage_next=1)))
        received: list[bytes] = []
        async with BleakClient(await find(air), backend=air.client_backend) as client:
            await client.start_notify(MEASUREMENT, lambda c, d: received.append(bytes(d)))
            await device.notify(MEASUREMENT, b"\x01\x02\x03\x04")
            await device.notify(MEASUREMENT, b"\x05\x06\x07\x08")
            device.faults.garbage_next = 1
            status = await client.read_gatt_char(STATUS)
        return received, status

    received, status = run_sim(scenario)

    assert received[0] != b"\x01\x02\x03\x04"
    assert received[1] == b"\x05\x06\x07\x08"
    assert status != bytearray(b"\x07")


def test_slow_responses_take_simulated_time_and_trip_the_hubs_timeouts() -> None:
    clock = SimClock(speed=20)  # 1 simulated second = 50 ms

    async def scenario(air: SimulatedAir) -> float:
        device = air.add(make_device())
        async with BleakClient(await find(air), backend=air.client_backend) as client:
            device.faults.response_delay = 2.0
            started = time.monotonic()
            assert await client.read_gatt_char(STATUS) == bytearray(b"\x07")
            elapsed = time.monotonic() - started
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.02):
                    await client.read_gatt_char(STATUS)
        return elapsed

    assert run_sim(scenario, clock=clock) >= 0.1


def test_device_model_hooks_run_in_order() -> None:
    events: list[str] = []

    class EchoDevice(SimulatedPeripheral):
        """Answers each control-point write with an indication sent after the write response."""

        async def on_connect(self) -> None:
            events.append("connect")

        async def on_subscribe(self, uuid: str) -> None:
            events.append(f"subscribe {uuid[4:8]}")

        async def on_write(self, uuid: str, data: bytes) -> None:
            events.append(f"write {data.hex()}")
            self.spawn(self.notify(CONTROL, b"\x06" + data))

        async def on_disconnect(self, reason: str) -> None:
            events.append(f"disconnect: {reason}")

    async def scenario(air: SimulatedAir) -> list[bytes]:
        air.add(make_device(EchoDevice))
        responses: list[bytes] = []
        got_response = asyncio.Event()

        def on_response(_: object, data: bytearray) -> None:
            responses.append(bytes(data))
            got_response.set()

        async with BleakClient(await find(air), backend=air.client_backend) as client:
            await client.start_notify(CONTROL, on_response)
            await client.write_gatt_char(CONTROL, b"\x01\x01", response=True)
            await got_response.wait()
        await asyncio.sleep(0)  # on_disconnect runs as the device's own task
        return responses

    assert run_sim(scenario) == [b"\x06\x01\x01"]
    assert events == [
        "connect",
        "subscribe fff2",
        "write 0101",
        "disconnect: connection terminated by local host",
    ]


def test_exceptions_inside_the_simulation_are_raised_when_the_air_closes() -> None:
    class BrokenDevice(SimulatedPeripheral):
        def on_connect(self) -> None:
            raise RuntimeError("firmware bug")

    async def scenario(air: SimulatedAir) -> None:
        air.add(make_device(BrokenDevice))
        async with BleakClient(await find(air), backend=air.client_backend) as client:
            assert client.is_connected

    with pytest.raises(ExceptionGroup) as raised:
        run_sim(scenario)
    assert raised.group_contains(RuntimeError, match="firmware bug")
