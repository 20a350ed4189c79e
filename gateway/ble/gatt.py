"""GATT access for one connection: the only module that calls bleak's read/write/notify methods.

Every bleak error is translated here, by type and connection state (never by message text): a request that
fails while the link is gone is `LinkLostError`; an ATT error answer is `GattError` with its code; a missing
characteristic is `MissingCharacteristicError` (a profile that does not fit the device).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakCharacteristicNotFoundError, BleakError, BleakGATTProtocolError

from gateway.ble.codec.characteristic import full_uuid
from gateway.ble.errors import BleError, GattError, LinkLostError, MissingCharacteristicError

BATTERY_LEVEL: Final = full_uuid(0x2A19)

ValueCallback = Callable[[bytes], None]


class GattLink:
    """The characteristics of one connected device, addressed by 128-bit UUID."""

    def __init__(self, client: BleakClient, address: str, profile_id: str) -> None:
        self.client = client
        self.address = address
        self.profile_id = profile_id

    @property
    def connected(self) -> bool:
        return self.client.is_connected

    def has(self, uuid: str) -> bool:
        """True if service discovery found the characteristic."""
        return self._find(uuid) is not None

    def _find(self, uuid: str) -> BleakGATTCharacteristic | None:
        services = self.client.services
        return services.get_characteristic(uuid) if services is not None else None

    def _require(self, uuid: str) -> BleakGATTCharacteristic:
        characteristic = self._find(uuid)
        if characteristic is None:
            if not self.connected:
                raise LinkLostError(self.address, f"lookup of {uuid}")
            raise MissingCharacteristicError(self.address, uuid, self.profile_id)
        return characteristic

    def _translate(self, exc: Exception, operation: str, uuid: str) -> BleError:
        if isinstance(exc, BleakCharacteristicNotFoundError):
            return MissingCharacteristicError(self.address, uuid, self.profile_id)
        if not self.connected:
            return LinkLostError(self.address, f"{operation} {uuid}")
        if isinstance(exc, BleakGATTProtocolError):
            return GattError(self.address, operation, uuid, int(exc.code), str(exc))
        return GattError(self.address, operation, uuid, None, str(exc))

    async def read(self, uuid: str) -> bytes:
        characteristic = self._require(uuid)
        try:
            return bytes(await self.client.read_gatt_char(characteristic))
        except (BleakError, TimeoutError) as exc:
            raise self._translate(exc, "read", uuid) from exc

    async def write(self, uuid: str, data: bytes) -> None:
        """Write with response: the device acknowledges, so errors (ATT 0x80, 0x81) surface here."""
        characteristic = self._require(uuid)
        try:
            await self.client.write_gatt_char(characteristic, data, response=True)
        except (BleakError, TimeoutError) as exc:
            raise self._translate(exc, "write", uuid) from exc

    async def subscribe(self, uuid: str, callback: ValueCallback) -> None:
        """Enable notifications or indications (bleak picks what the characteristic offers)."""
        characteristic = self._require(uuid)

        def deliver(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
            callback(bytes(data))

        try:
            await self.client.start_notify(characteristic, deliver)
        except (BleakError, TimeoutError) as exc:
            raise self._translate(exc, "subscribe", uuid) from exc
