"""Device Information (0x180A), read once per device and cached: the serial number is the device's id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.ble.codec.characteristic import full_uuid
from gateway.ble.codec.device_info import DeviceInfoField
from gateway.ble.codec.errors import DecodeError
from gateway.ble.codec.registry import decode
from gateway.ble.errors import GattError
from gateway.ble.gatt import GattLink

_FIELDS: Final = {
    "manufacturer": DeviceInfoField.MANUFACTURER_NAME,
    "model_number": DeviceInfoField.MODEL_NUMBER,
    "serial_number": DeviceInfoField.SERIAL_NUMBER,
    "firmware": DeviceInfoField.FIRMWARE_REVISION,
    "hardware": DeviceInfoField.HARDWARE_REVISION,
    "software": DeviceInfoField.SOFTWARE_REVISION,
}

MAX_LABEL: Final = 64
"""The contract's `Label64`: longer strings are cut rather than refused, they only label the device."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    manufacturer: str | None = None
    model_number: str | None = None
    serial_number: str | None = None
    firmware: str | None = None
    hardware: str | None = None
    software: str | None = None


def _label(value: str) -> str | None:
    text = "".join(ch for ch in value if ch.isprintable()).strip()[:MAX_LABEL].strip()
    return text or None


async def read_device_info(link: GattLink) -> DeviceInfo:
    """Read the DIS strings the device has; a missing, refused or undecodable one stays None."""
    values: dict[str, str | None] = {}
    for name, field in _FIELDS.items():
        uuid = full_uuid(field.value)
        if not link.has(uuid):
            continue
        try:
            values[name] = _label(decode(uuid, await link.read(uuid)).value)
        except (GattError, DecodeError):
            values[name] = None
    return DeviceInfo(**values)


class DeviceInfoCache:
    """Device Information per BLE address: read on first contact only (it does not change)."""

    def __init__(self) -> None:
        self._by_address: dict[str, DeviceInfo] = {}

    def get(self, address: str) -> DeviceInfo | None:
        return self._by_address.get(address.upper())

    async def get_or_read(self, address: str, link: GattLink) -> DeviceInfo:
        cached = self.get(address)
        if cached is None:
            cached = await read_device_info(link)
            self._by_address[address.upper()] = cached
        return cached
