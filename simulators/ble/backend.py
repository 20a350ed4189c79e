"""bleak backends that talk to a ``SimulatedAir`` instead of a radio.

They implement bleak's backend interfaces (``BaseBleakScanner``, ``BaseBleakClient``) so the hub's code uses
the real ``BleakScanner`` / ``BleakClient`` unchanged. Errors are the ones bleak's BlueZ backend raises
(the hub runs on Linux): ``BleakDeviceNotFoundError``, ``BleakGATTProtocolError`` (a ``BleakError`` naming
the ATT code), ``BleakDBusError`` with BlueZ's error names, ``TimeoutError`` for connect timeouts. Device-side
``AttError`` is translated here, once, at the boundary.

Use the classes bound to an air (``air.scanner_backend``, ``air.client_backend``, or ``make_backends``);
the bare classes refuse to start because they would not know which air to use.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from bleak import BleakScanner
from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)

from simulators.ble.gatt import CCCD_UUID, AttError, SimCharacteristic, SimDescriptor, normalize_uuid
from simulators.ble.link import Link

if TYPE_CHECKING:
    from simulators.ble.peripheral import SimulatedPeripheral
    from simulators.ble.world import SimulatedAir

DEFAULT_MTU = 23
"""ATT_MTU before negotiation (Core spec), reported when not connected."""

LOCAL_DISCONNECT = "connection terminated by local host"


@dataclass(frozen=True)
class SimulatedDeviceDetails:
    """``BLEDevice.details`` for simulated devices (the platform handle slot)."""

    air_name: str
    address: str


def _bound_air(cls: type[Any]) -> SimulatedAir:
    air: SimulatedAir | None = cls._air
    if air is None:
        raise BleakError(
            f"{cls.__name__} is not bound to a SimulatedAir: pass backend=air.scanner_backend / "
            "air.client_backend (or classes from make_backends(air))"
        )
    return air


class SimulatedScannerBackend(BaseBleakScanner):
    """Scanner over the air's single scan slot: a second concurrent scan fails with BlueZ's InProgress."""

    _air: ClassVar[SimulatedAir | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        self.air = _bound_air(type(self))
        super().__init__(detection_callback, service_uuids)
        # normalised here because bleak only lower-cases, and "1810" must match the 128-bit form
        self._uuid_filter = frozenset(normalize_uuid(u) for u in service_uuids or ())
        self.scanning_mode = scanning_mode
        self._scanning = False

    async def start(self) -> None:
        self.air.begin_scan(self)
        self.seen_devices = {}
        self._scanning = True

    async def stop(self) -> None:
        if not self._scanning:
            return
        self._scanning = False
        await self.air.end_scan(self)

    def receive_advertisement(self, peripheral: SimulatedPeripheral) -> None:
        """Called by the air for each advertisement while this scanner holds the scan slot."""
        adv = peripheral.advertisement_data()
        if self._uuid_filter and not self._uuid_filter.intersection(adv.service_uuids):
            return
        device = self.create_or_update_device(
            peripheral.address,
            peripheral.address,
            peripheral.name,
            SimulatedDeviceDetails(self.air.name, peripheral.address),
            adv,
        )
        self.call_detection_callbacks(device, adv)


def build_service_collection(link: Link, only: set[str] | None) -> BleakGATTServiceCollection:
    """What service discovery yields: bleak objects for the peripheral's table (CCCDs included)."""
    collection = BleakGATTServiceCollection()
    max_write_without_response: Callable[[], int] = functools.partial(_max_write_without_response, link)
    for service in link.peripheral.services:
        if only and service.uuid not in only:
            continue
        bleak_service = BleakGATTService(service, service.handle, service.uuid)
        collection.add_service(bleak_service)
        for char in service.characteristics:
            properties = cast(list[CharacteristicPropertyName], list(char.properties))
            bleak_char = BleakGATTCharacteristic(
                char, char.handle, char.uuid, properties, max_write_without_response, bleak_service
            )
            collection.add_characteristic(bleak_char)
            if char.cccd_handle is not None:
                collection.add_descriptor(BleakGATTDescriptor(None, char.cccd_handle, CCCD_UUID, bleak_char))
            for descriptor in char.descriptors:
                collection.add_descriptor(
                    BleakGATTDescriptor(descriptor, descriptor.handle, descriptor.uuid, bleak_char)
                )
    return collection


def _max_write_without_response(link: Link) -> int:
    return link.mtu - 3


class SimulatedClientBackend(BaseBleakClient):
    """A connection to one simulated peripheral, with BlueZ's semantics where platforms differ.

    Like BlueZ: constructing from an address string makes ``connect()`` scan for the device first (which
    needs the scan slot, so it fails with InProgress while another scan runs: pass a ``BLEDevice``); the
    disconnected callback fires on every disconnection, local ones included.
    """

    _air: ClassVar[SimulatedAir | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.air = _bound_air(type(self))
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout, **kwargs
        )
        self._needs_discovery = not isinstance(address_or_ble_device, BLEDevice)
        self._service_filter = {normalize_uuid(u) for u in services} if services else None
        self._link: Link | None = None

    # link callbacks

    def on_link_opened(self, link: Link) -> None:
        self._link = link

    def on_link_closed(self, link: Link, reason: str) -> None:
        if self._link is not link:
            return
        self._link = None
        self.services = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    # state

    @property
    def name(self) -> str:
        peripheral = self.air.get(self.address)
        if peripheral is not None and peripheral.name:
            return peripheral.name
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._link.mtu if self._link is not None else DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._link is not None and self._link.is_open

    def _require_link(self) -> Link:
        link = self._link
        if link is None or not link.is_open:
            raise BleakError("Not connected")
        return link

    # connectivity

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if self.is_connected:
            raise BleakError("Client is already connected")
        timeout: float = kwargs.get("timeout", self._timeout)
        if self._needs_discovery:
            device = await BleakScanner.find_device_by_address(
                self.address, timeout=timeout, backend=self.air.scanner_backend
            )
            if device is None:
                raise BleakDeviceNotFoundError(
                    self.address, f"Device with address {self.address} was not found."
                )
            self._needs_discovery = False
        async with asyncio.timeout(timeout):
            await self.air.wait_until(lambda: self.air.get(self.address) is not None)
            peripheral = self.air.get(self.address)
            assert peripheral is not None
            link = await peripheral.accept_connection(self)
            try:
                if pair:
                    await self._pair(link)
                await self._discover_services(link)
            except BaseException:
                link.close(LOCAL_DISCONNECT)
                raise

    async def _discover_services(self, link: Link) -> None:
        delay = link.peripheral.faults.response_delay
        if delay > 0:
            await self.air.clock.sleep(delay)
        if not link.is_open or link.closing:
            raise BleakError("failed to discover services, device disconnected")
        self.services = build_service_collection(link, self._service_filter)

    async def disconnect(self) -> None:
        link = self._link
        if link is not None:
            await link.close(LOCAL_DISCONNECT)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (and bond). A device with a PIN gets it from the air's agent, as BlueZ asks its agent."""
        await self._pair(self._require_link())

    async def _pair(self, link: Link) -> None:
        peripheral = link.peripheral
        if peripheral.bonded:
            return
        passkey: int | None = None
        if peripheral.passkey is not None and self.air.agent is not None:
            passkey = await self.air.call_hook(self.air.agent(self.address))
        if not await peripheral.pair_request(passkey):
            raise BleakDBusError("org.bluez.Error.AuthenticationFailed", ["Authentication Failed"])

    async def unpair(self) -> None:
        """Remove the bond; like BlueZ's RemoveDevice this also disconnects."""
        peripheral = self.air.get(self.address)
        if peripheral is None:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        peripheral.forget_bond()
        self._needs_discovery = True
        await self.disconnect()

    # I/O

    def _sim_characteristic(self, link: Link, characteristic: BleakGATTCharacteristic) -> SimCharacteristic:
        char = link.peripheral.characteristic_by_handle(characteristic.handle)
        if char is None or char.uuid != characteristic.uuid:
            raise BleakCharacteristicNotFoundError(characteristic.handle)
        return char

    def _sim_descriptor(
        self, link: Link, descriptor: BleakGATTDescriptor
    ) -> tuple[SimCharacteristic, SimDescriptor | None]:
        """The owning characteristic and the descriptor (None for the CCCD)."""
        char = link.peripheral.characteristic_by_handle(descriptor.characteristic_handle)
        if char is not None:
            if descriptor.handle == char.cccd_handle:
                return char, None
            for sim_descriptor in char.descriptors:
                if sim_descriptor.handle == descriptor.handle:
                    return char, sim_descriptor
        raise BleakError(f"Descriptor with handle {descriptor.handle} was not found!")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        link = self._require_link()
        char = self._sim_characteristic(link, characteristic)
        try:
            return bytearray(await link.read(char))
        except AttError as exc:
            raise BleakGATTProtocolError(exc.code) from exc

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        link = self._require_link()
        char = self._sim_characteristic(link, characteristic)
        try:
            await link.write(char, bytes(data), response=response)
        except AttError as exc:
            raise BleakGATTProtocolError(exc.code) from exc

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        link = self._require_link()
        char, sim_descriptor = self._sim_descriptor(link, descriptor)
        return bytearray(await link.read_descriptor(char, sim_descriptor))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        link = self._require_link()
        _char, sim_descriptor = self._sim_descriptor(link, descriptor)
        if sim_descriptor is None:
            raise ValueError("Cannot write to CCCD (0x2902) directly; use start_notify() or stop_notify()")
        await link.write_descriptor(sim_descriptor, bytes(data))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        link = self._require_link()
        char = self._sim_characteristic(link, characteristic)
        if not char.can_notify:
            # BlueZ refuses StartNotify before any ATT traffic, so this is not a GATT protocol error
            raise BleakDBusError("org.bluez.Error.NotSupported", ["Operation is not supported"])
        try:
            await link.subscribe(char, callback)
        except AttError as exc:
            raise BleakGATTProtocolError(exc.code) from exc

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        link = self._require_link()
        await link.unsubscribe(self._sim_characteristic(link, characteristic))
