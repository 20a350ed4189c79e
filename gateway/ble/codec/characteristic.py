"""One GATT characteristic the codec understands: its UUID, name and the decode/encode pair.

Each profile module lists its own `CHARACTERISTICS`; the registry derives the UUID table from those lists, so
a decoder and its table entry cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from gateway.ble.codec.wire import Buffer

T = TypeVar("T")

BLUETOOTH_BASE_UUID_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"
"""SIG 16-bit UUIDs are shorthand for `0000xxxx-0000-1000-8000-00805f9b34fb` (Core spec, Vol 3, Part B,
2.5.1)."""


def full_uuid(uuid16: int) -> str:
    """The 128-bit form bleak reports for a 16-bit SIG UUID."""
    return f"{uuid16:08x}{BLUETOOTH_BASE_UUID_SUFFIX}"


def short_label(uuid16: int) -> str:
    """`0x2A35`: the label used in error messages and JSON."""
    return f"0x{uuid16:04X}"


@dataclass(frozen=True, slots=True)
class Characteristic(Generic[T]):
    """A characteristic's identity and its pure codec functions."""

    uuid16: int
    name: str
    decode: Callable[[Buffer], T]
    encode: Callable[[T], bytes]

    @property
    def uuid(self) -> str:
        """128-bit UUID string, as bleak names characteristics."""
        return full_uuid(self.uuid16)

    @property
    def label(self) -> str:
        """Short `0x2A35` form."""
        return short_label(self.uuid16)
