"""Connecting and GATT traffic through bleak's public API only (BleakClient with backend=)."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDBusError, BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulators.ble import (
    SimCharacteristic,
    SimDescriptor,
    SimService,
    SimulatedAir,
    SimulatedPeripheral,
    normalize_uuid,
)
from simulators.ble.harness import run_sim

SERVICE = normalize_uuid("fff0")
BATTERY_SERVICE = normalize_uuid(0x180F)
NOTIFY = normalize_uuid("fff1")
INDICATE = normalize_uuid("fff2")
CONTROL = normalize_uuid("fff3")
COMMAND = normalize_uuid("fff4")
BATTERY_LEVEL = normalize_uuid(0x2A19)
ADDRESS = "C0:FF:EE:00:00:01"


def make_device(
    writes: list[bytes] | None = None, cls: type[SimulatedPeripheral] = SimulatedPeripheral
) -> SimulatedPeripheral:
    def on_control(data: bytes) -> None:
        if writes is not None:
            writes.append(data)

    return cls(
        ADDRESS,
        "SIM-DEVICE",
        advertised_service_uuids=[SERVICE],
        services=[
            SimService(
                SERVICE,
                [
                    SimCharacteristic(NOTIFY, ["notify"]),
                    SimCharacteristic(
                        INDICATE, ["indicate"], descriptors=[SimDescriptor(normalize_uuid(0x2901), b"log")]
                    ),
                    SimCharacteristic(CONTROL, ["write", "indicate"], on_write=on_control),
                    SimCharacteristic(COMMAND, ["write-without-response"]),
                ],
            ),
            SimService(BATTERY_SERVICE, [SimCharacteristic(BATTERY_LEVEL, ["read", "notify"], b"\x5a")]),
        ],
    )


async def connected_client(air: SimulatedAir, **kwargs: object) -> BleakClient:
    device = await BleakScanner.find_device_by_address(ADDRESS, timeout=2, backend=air.scanner_backend)
    assert device is not None
    client = BleakClient(device, backend=air.client_backend, **kwargs)  # type: ignore[arg-type]
    await client.connect()
    return client


def test_connect_and_enumerate_services_like_service_discovery() -> None:
    async def scenario(air: SimulatedAir) -> dict[str, dict[str, list[str]]]:
        air.add(make_device())
        client = await connected_client(air)
        assert client.is_connected
        assert client.mtu_size == 185
        assert client.name == "SIM-DEVICE"
        table = {
            service.uuid: {char.uuid: list(char.properties) for char in service.characteristics}
            for service in client.services
        }
        indicate = client.services.get_characteristic(INDICATE)
        assert indicate is not None
        assert [d.uuid for d in indicate.descriptors] == [normalize_uuid(0x2902), normalize_uuid(0x2901)]
        assert indicate.max_write_without_response_size == 182
        await client.disconnect()
        assert not client.is_connected
        return table

    assert run_sim(scenario) == {
        SERVICE: {
            NOTIFY: ["notify"],
            INDICATE: ["indicate"],
            CONTROL: ["write", "indicate"],
            COMMAND: ["write-without-response"],
        },
        BATTERY_SERVICE: {BATTERY_LEVEL: ["read", "notify"]},
    }


def test_services_argument_restricts_discovery() -> None:
    async def scenario(air: SimulatedAir) -> list[str]:
        air.add(make_device())
        client = await connected_client(air, services=["180f"])
        uuids = [s.uuid for s in client.services]
        await client.disconnect()
        return uuids

    assert run_sim(scenario) == [BATTERY_SERVICE]


def test_read_characteristic_and_descriptors() -> None:
    async def scenario(air: SimulatedAir) -> tuple[bytearray, bytearray, bytearray, bytearray]:
        device = air.add(make_device())
        async with BleakClient(ADDRESS, backend=air.client_backend, timeout=2) as client:
            level = await client.read_gatt_char("2a19")
            device.set_value(BATTERY_LEVEL, b"\x10")
            level_after = await client.read_gatt_char(BATTERY_LEVEL)
            char = client.services.get_characteristic(INDICATE)
            assert char is not None
            cccd, user_description = char.descriptors
            before = await client.read_gatt_descriptor(cccd.handle)
            await client.start_notify(char, lambda c, d: None)
            after = await client.read_gatt_descriptor(cccd)
            assert await client.read_gatt_descriptor(user_description) == bytearray(b"log")
            return level, level_after, before, after

    level, level_after, cccd_before, cccd_after = run_sim(scenario)

    assert (level, level_after) == (bytearray(b"\x5a"), bytearray(b"\x10"))
    assert (cccd_before, cccd_after) == (bytearray(b"\0\0"), bytearray(b"\2\0"))  # 0x0002: indications on


def test_write_with_response_reaches_the_handler_and_commands_are_stored() -> None:
    writes: list[bytes] = []

    async def scenario(air: SimulatedAir) -> SimulatedPeripheral:
        device = air.add(make_device(writes))
        async with BleakClient(ADDRESS, backend=air.client_backend, timeout=2) as client:
            await client.write_gatt_char(CONTROL, b"\x01\x01", response=True)
            await client.write_gatt_char(COMMAND, bytearray(b"\xaa"), response=False)
        return device

    device = run_sim(scenario)

    assert writes == [b"\x01\x01"]
    assert device.characteristic(COMMAND).value == b"\xaa"
    assert device.received_writes == [(CONTROL, b"\x01\x01"), (COMMAND, b"\xaa")]


@pytest.mark.parametrize(
    ("char_uuid", "operation", "code"),
    [
        pytest.param(NOTIFY, "read", BleakGATTProtocolErrorCode.READ_NOT_PERMITTED, id="read-notify-only"),
        pytest.param(
            COMMAND, "write", BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED, id="write-command-only"
        ),
        pytest.param(
            CONTROL, "command", BleakGATTProtocolErrorCode.REQUEST_NOT_SUPPORTED, id="command-to-write"
        ),
    ],
)
def test_operations_the_characteristic_does_not_support_fail_with_the_att_code(
    char_uuid: str, operation: str, code: BleakGATTProtocolErrorCode
) -> None:
    async def scenario(air: SimulatedAir) -> BleakGATTProtocolError:
        air.add(make_device())
        async with BleakClient(ADDRESS, backend=air.client_backend, timeout=2) as client:
            request = (
                client.read_gatt_char(char_uuid)
                if operation == "read"
                else client.write_gatt_char(char_uuid, b"\x00", response=operation == "write")
            )
            with pytest.raises(BleakGATTProtocolError) as raised:
                await request
            return raised.value

    assert run_sim(scenario).code == code


def test_start_notify_on_a_characteristic_without_notify_fails_like_bluez() -> None:
    async def scenario(air: SimulatedAir) -> None:
        air.add(make_device())
        async with BleakClient(ADDRESS, backend=air.client_backend, timeout=2) as client:
            with pytest.raises(BleakDBusError, match="NotSupported"):
                await client.start_notify(COMMAND, lambda c, d: None)

    run_sim(scenario)


def test_operations_on_a_closed_connection_raise_not_connected() -> None:
    async def scenario(air: SimulatedAir) -> None:
        air.add(make_device())
        client = await connected_client(air)
        await client.disconnect()
        with pytest.raises(BleakError, match="Not connected"):
            await client.start_notify(NOTIFY, lambda c, d: None)
        with pytest.raises(BleakError, match="Service Discovery has not been performed"):
            await client.read_gatt_char(BATTERY_LEVEL)

    run_sim(scenario)


def test_notifications_arrive_in_order_with_the_characteristic_as_sender() -> None:
    async def scenario(air: SimulatedAir) -> list[tuple[str, bytes]]:
        device = air.add(make_device())
        received: list[tuple[str, bytes]] = []
        client = await connected_client(air)
        await client.start_notify(NOTIFY, lambda c, d: received.append((c.uuid, bytes(d))))
        for i in range(5):
            assert await device.notify(NOTIFY, bytes([i]))
        await client.disconnect()  # queued notifications are delivered before the disconnection
        return received

    assert run_sim(scenario) == [(NOTIFY, bytes([i])) for i in range(5)]


def test_an_indication_returns_only_after_the_central_handled_it() -> None:
    async def scenario(air: SimulatedAir) -> list[str]:
        device = air.add(make_device())
        order: list[str] = []
        client = await connected_client(air)
        await client.start_notify(INDICATE, lambda c, d: order.append(f"central got {d.hex()}"))
        assert await device.notify(INDICATE, b"\x01")
        order.append("device confirmed")
        await client.disconnect()
        return order

    assert run_sim(scenario) == ["central got 01", "device confirmed"]


def test_stop_notify_ends_delivery_and_the_device_sees_the_unsubscribe() -> None:
    unsubscribed: list[str] = []

    class Device(SimulatedPeripheral):
        def on_unsubscribe(self, uuid: str) -> None:
            unsubscribed.append(uuid)

    async def scenario(air: SimulatedAir) -> tuple[list[bytes], SimulatedPeripheral]:
        device = air.add(make_device(cls=Device))
        received: list[bytes] = []
        client = await connected_client(air)
        await client.start_notify(NOTIFY, lambda c, d: received.append(bytes(d)))
        await device.notify(NOTIFY, b"\x01")
        await client.stop_notify(NOTIFY)
        assert not await device.notify(NOTIFY, b"\x02")
        await asyncio.sleep(0)
        await client.disconnect()
        return received, device

    received, device = run_sim(scenario)

    assert received == [b"\x01"]
    assert unsubscribed == [NOTIFY]
    assert device.lost == [(NOTIFY, b"\x02")]


def test_async_notification_callbacks_are_supported() -> None:
    async def scenario(air: SimulatedAir) -> list[bytes]:
        device = air.add(make_device())
        received: list[bytes] = []
        done = asyncio.Event()

        async def handler(sender: BleakGATTCharacteristic, data: bytearray) -> None:
            received.append(bytes(data))
            if len(received) == 3:
                done.set()

        client = await connected_client(air)
        await client.start_notify(NOTIFY, handler)
        for i in range(3):
            await device.notify(NOTIFY, bytes([i]))
        await done.wait()
        await client.disconnect()
        return received

    assert run_sim(scenario) == [b"\x00", b"\x01", b"\x02"]


def test_a_storm_of_ten_thousand_notifications_arrives_complete_and_in_order() -> None:
    count = 10_000

    async def scenario(air: SimulatedAir) -> list[int]:
        device = air.add(make_device())
        received: list[int] = []
        client = await connected_client(air)
        await client.start_notify(NOTIFY, lambda c, d: received.append(int.from_bytes(d, "little")))
        for i in range(count):
            await device.notify(NOTIFY, i.to_bytes(4, "little"))
        await client.disconnect()
        return received

    assert run_sim(scenario) == list(range(count))


def test_values_longer_than_the_mtu_are_a_device_model_bug() -> None:
    async def scenario(air: SimulatedAir) -> None:
        device = air.add(make_device())
        device.mtu = 23
        client = await connected_client(air)
        await client.start_notify(NOTIFY, lambda c, d: None)
        assert client.mtu_size == 23
        with pytest.raises(ValueError, match="does not fit ATT_MTU 23"):
            await device.notify(NOTIFY, bytes(21))
        await client.disconnect()

    run_sim(scenario)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    traffic=st.lists(
        st.tuples(st.sampled_from([NOTIFY, INDICATE, CONTROL]), st.binary(min_size=0, max_size=182)),
        max_size=60,
    )
)
def test_mixed_notifications_and_indications_keep_the_device_order(traffic: list[tuple[str, bytes]]) -> None:
    async def scenario(air: SimulatedAir) -> list[tuple[str, bytes]]:
        device = air.add(make_device())
        received: list[tuple[str, bytes]] = []
        client = await connected_client(air)
        for uuid in (NOTIFY, INDICATE, CONTROL):
            await client.start_notify(uuid, lambda c, d: received.append((c.uuid, bytes(d))))
        for uuid, payload in traffic:
            assert await device.notify(uuid, payload)
        await client.disconnect()
        return received

    assert run_sim(scenario) == traffic
