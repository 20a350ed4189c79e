"""The UUID -> codec table, derived from the profile modules' own `CHARACTERISTICS` lists.

Adding a characteristic means adding it to its module's list; the table, the CLI and the fuzz tests pick it
up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from gateway.ble.codec import (
    battery,
    blood_pressure,
    body_composition,
    date_time,
    device_info,
    glucose,
    glucose_context,
    racp,
    weight,
)
from gateway.ble.codec.characteristic import BLUETOOTH_BASE_UUID_SUFFIX, Characteristic
from gateway.ble.codec.errors import UnknownCharacteristicError
from gateway.ble.codec.wire import Buffer

_PROFILE_MODULES: Final = (
    blood_pressure,
    glucose,
    glucose_context,
    racp,
    weight,
    body_composition,
    date_time,
    battery,
    device_info,
)


def _index(characteristics: Iterable[Characteristic[Any]]) -> Mapping[int, Characteristic[Any]]:
    table: dict[int, Characteristic[Any]] = {}
    for characteristic in characteristics:
        if characteristic.uuid16 in table:
            raise RuntimeError(f"two codecs claim {characteristic.label}")
        table[characteristic.uuid16] = characteristic
    return MappingProxyType(table)


CHARACTERISTICS: Final[tuple[Characteristic[Any], ...]] = tuple(
    characteristic for module in _PROFILE_MODULES for characteristic in module.CHARACTERISTICS
)
BY_UUID16: Final = _index(CHARACTERISTICS)

_SHORT: Final = re.compile(r"(?:0x)?([0-9a-f]{4})")
_FULL: Final = re.compile(r"0000([0-9a-f]{4})" + re.escape(BLUETOOTH_BASE_UUID_SUFFIX))


def parse_uuid(uuid: str | int) -> int:
    """16-bit UUID from `2A35`, `0x2A35`, `00002a35-0000-1000-8000-00805f9b34fb` or an int."""
    if isinstance(uuid, int):
        if not 0 <= uuid <= 0xFFFF:
            raise UnknownCharacteristicError(f"{uuid:#x} is not a 16-bit SIG UUID")
        return uuid
    text = uuid.strip().lower()
    match = _SHORT.fullmatch(text) or _FULL.fullmatch(text)
    if match is None:
        raise UnknownCharacteristicError(
            f"{uuid!r} is not a characteristic UUID; "
            "give 2A35, 0x2A35 or 00002a35-0000-1000-8000-00805f9b34fb"
        )
    return int(match.group(1), 16)


def lookup(uuid: str | int) -> Characteristic[Any]:
    """The codec for a characteristic, or `UnknownCharacteristicError` listing what is supported."""
    uuid16 = parse_uuid(uuid)
    try:
        return BY_UUID16[uuid16]
    except KeyError:
        known = ", ".join(c.label for c in CHARACTERISTICS)
        raise UnknownCharacteristicError(f"no decoder for 0x{uuid16:04X}; known: {known}") from None


def decode(uuid: str | int, data: Buffer) -> Any:
    """Decode a characteristic value by UUID (e.g. bleak's `characteristic.uuid`)."""
    return lookup(uuid).decode(data)


def encode(uuid: str | int, value: Any) -> bytes:
    """Encode a decoded value for the characteristic `uuid`."""
    return bytes(lookup(uuid).encode(value))
