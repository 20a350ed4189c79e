"""Device Information Service (0x180A): the strings that identify a device, System ID and PnP ID.

Strings are UTF-8; many devices pad them with NULs to a fixed length, so trailing NULs are stripped (NULs
inside the string are kept). The serial number is the hub's stable device id, so invalid UTF-8 is a
`DecodeError` rather than a silently replaced character.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic, short_label
from gateway.ble.codec.codes import CodeEnum
from gateway.ble.codec.errors import DecodeError, EncodeError
from gateway.ble.codec.wire import Buffer, check_uint, require, span


class DeviceInfoField(Enum):
    """The DIS string characteristics, by UUID."""

    MANUFACTURER_NAME = 0x2A29
    MODEL_NUMBER = 0x2A24
    SERIAL_NUMBER = 0x2A25
    HARDWARE_REVISION = 0x2A27
    FIRMWARE_REVISION = 0x2A26
    SOFTWARE_REVISION = 0x2A28


@dataclass(frozen=True, slots=True)
class DeviceInformationString:
    """One DIS string, e.g. `field=SERIAL_NUMBER, value="5140313"`."""

    kind: ClassVar[str] = "device_information"

    field: DeviceInfoField
    value: str


def _decode_string(data: Buffer, field: DeviceInfoField) -> DeviceInformationString:
    try:
        text = bytes(data).rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            short_label(field.value),
            f"invalid UTF-8 at offset {exc.start} in {field.name.lower()}: {exc.reason}",
            offset=exc.start,
            field=field.name.lower(),
        ) from None
    return DeviceInformationString(field, text)


def encode_device_information_string(value: DeviceInformationString) -> bytes:
    """UTF-8 bytes of the string, without padding."""
    return value.value.encode("utf-8")


def _string_characteristic(field: DeviceInfoField) -> Characteristic[DeviceInformationString]:
    """One characteristic per DIS string; the decoder knows which field it reads."""

    def decode(data: Buffer) -> DeviceInformationString:
        return _decode_string(data, field)

    decode.__name__ = decode.__qualname__ = f"decode_{field.name.lower()}"
    decode.__doc__ = (
        f"{field.name.replace('_', ' ').title()} {short_label(field.value)}: UTF-8, trailing NULs stripped."
    )
    name = field.name.replace("_", " ").title() + " String"
    return Characteristic(field.value, name, decode, encode_device_information_string)


MANUFACTURER_NAME: Final = _string_characteristic(DeviceInfoField.MANUFACTURER_NAME)
MODEL_NUMBER: Final = _string_characteristic(DeviceInfoField.MODEL_NUMBER)
SERIAL_NUMBER: Final = _string_characteristic(DeviceInfoField.SERIAL_NUMBER)
HARDWARE_REVISION: Final = _string_characteristic(DeviceInfoField.HARDWARE_REVISION)
FIRMWARE_REVISION: Final = _string_characteristic(DeviceInfoField.FIRMWARE_REVISION)
SOFTWARE_REVISION: Final = _string_characteristic(DeviceInfoField.SOFTWARE_REVISION)

decode_manufacturer_name: Final[Callable[[Buffer], DeviceInformationString]] = MANUFACTURER_NAME.decode
decode_model_number: Final[Callable[[Buffer], DeviceInformationString]] = MODEL_NUMBER.decode
decode_serial_number: Final[Callable[[Buffer], DeviceInformationString]] = SERIAL_NUMBER.decode
decode_hardware_revision: Final[Callable[[Buffer], DeviceInformationString]] = HARDWARE_REVISION.decode
decode_firmware_revision: Final[Callable[[Buffer], DeviceInformationString]] = FIRMWARE_REVISION.decode
decode_software_revision: Final[Callable[[Buffer], DeviceInformationString]] = SOFTWARE_REVISION.decode


@dataclass(frozen=True, slots=True)
class SystemId:
    """System ID 0x2A23: 40-bit manufacturer-defined identifier and 24-bit OUI."""

    kind: ClassVar[str] = "device_information"

    manufacturer_identifier: int
    organizationally_unique_identifier: int
    trailing: bytes = b""


_SYSTEM_ID: Final = Struct("<Q")
_SYSTEM_ID_SPAN = span(("manufacturer_identifier", 5), ("organizationally_unique_identifier", 3))


def decode_system_id(data: Buffer) -> SystemId:
    """System ID 0x2A23 (8 bytes, little-endian)."""
    require("0x2A23", data, 0, _SYSTEM_ID_SPAN)
    raw = _SYSTEM_ID.unpack_from(data, 0)[0]
    return SystemId(raw & 0xFF_FFFF_FFFF, raw >> 40, bytes(data[8:]))


def encode_system_id(value: SystemId) -> bytes:
    """Inverse of `decode_system_id`."""
    manufacturer = check_uint(value.manufacturer_identifier, 40, "manufacturer_identifier")
    oui = check_uint(value.organizationally_unique_identifier, 24, "organizationally_unique_identifier")
    return _SYSTEM_ID.pack(oui << 40 | manufacturer) + value.trailing


class VendorIdSource(CodeEnum):
    BLUETOOTH_SIG = 1
    USB_IMPLEMENTERS_FORUM = 2


@dataclass(frozen=True, slots=True)
class PnpId:
    """PnP ID 0x2A50: who assigned the vendor id, vendor, product and version."""

    kind: ClassVar[str] = "device_information"

    vendor_id_source: VendorIdSource
    vendor_id: int
    product_id: int
    product_version: int
    trailing: bytes = b""


_PNP_ID: Final = Struct("<BHHH")
_PNP_ID_SPAN = span(("vendor_id_source", 1), ("vendor_id", 2), ("product_id", 2), ("product_version", 2))


def decode_pnp_id(data: Buffer) -> PnpId:
    """PnP ID 0x2A50 (7 bytes)."""
    require("0x2A50", data, 0, _PNP_ID_SPAN)
    source, vendor, product, version = _PNP_ID.unpack_from(data, 0)
    return PnpId(VendorIdSource(source), vendor, product, version, bytes(data[7:]))


def encode_pnp_id(value: PnpId) -> bytes:
    """Inverse of `decode_pnp_id`."""
    if not 0 <= value.vendor_id_source <= 0xFF:
        raise EncodeError(f"vendor_id_source {value.vendor_id_source} does not fit a byte")
    return (
        _PNP_ID.pack(
            value.vendor_id_source,
            check_uint(value.vendor_id, 16, "vendor_id"),
            check_uint(value.product_id, 16, "product_id"),
            check_uint(value.product_version, 16, "product_version"),
        )
        + value.trailing
    )


SYSTEM_ID: Final = Characteristic(0x2A23, "System ID", decode_system_id, encode_system_id)
PNP_ID: Final = Characteristic(0x2A50, "PnP ID", decode_pnp_id, encode_pnp_id)
CHARACTERISTICS: Final = (
    MANUFACTURER_NAME,
    MODEL_NUMBER,
    SERIAL_NUMBER,
    HARDWARE_REVISION,
    FIRMWARE_REVISION,
    SOFTWARE_REVISION,
    SYSTEM_ID,
    PNP_ID,
)
