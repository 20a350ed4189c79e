"""The peripheral-side GATT table: services, characteristics, descriptors, ATT errors.

This is what the simulated device *is*; the bleak-facing objects (``BleakGATTServiceCollection``) are built
from it on every connection, like a real backend builds them from service discovery. Nothing here knows any
health profile: device models fill the table with SIG UUIDs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from bleak.exc import PROTOCOL_ERROR_CODES
from bleak.uuids import normalize_uuid_16, normalize_uuid_str

Property: TypeAlias = Literal["read", "write", "write-without-response", "notify", "indicate"]
"""The characteristic properties the simulator implements (bleak's spelling, so they pass through as-is)."""

UuidLike: TypeAlias = str | int
"""A UUID as bleak accepts it ("2a35", "00002a35-...") or a 16-bit SIG number (0x2A35)."""

ReadHandler: TypeAlias = Callable[[], bytes | Awaitable[bytes]]
WriteHandler: TypeAlias = Callable[[bytes], Awaitable[None] | None]

CCCD_UUID = normalize_uuid_16(0x2902)
"""Client Characteristic Configuration: added automatically to every notify/indicate characteristic."""

MAX_ATTRIBUTE_LENGTH = 512
"""Core spec Vol 3 Part F 3.2.9: no attribute value is longer than 512 bytes (long writes included)."""

_KNOWN_PROPERTIES: frozenset[str] = frozenset(
    {"read", "write", "write-without-response", "notify", "indicate"}
)


def normalize_uuid(uuid: UuidLike) -> str:
    """Return bleak's canonical 128-bit lower-case form, so lookups never depend on how a UUID was spelt."""
    if isinstance(uuid, int):
        return normalize_uuid_16(uuid)
    return normalize_uuid_str(uuid)


class AttError(Exception):
    """Raised by device-side handlers to answer a request with an ATT Error Response.

    The backend turns it into bleak's ``BleakGATTProtocolError`` (a ``BleakError`` whose message names the
    code, e.g. "Application-specific Error 0x80"), which is what bleak's own backends raise.
    """

    def __init__(self, code: int) -> None:
        if not 0x01 <= code <= 0xFF:
            raise ValueError(f"ATT error codes are 0x01..0xFF, got {code:#x}")
        self.code = code
        super().__init__(f"ATT error {code:#04x} ({PROTOCOL_ERROR_CODES.get(code, 'Unknown code')})")


# ATT error codes the simulator itself produces (Core spec Vol 3 Part F 3.4.1.1).
ATT_READ_NOT_PERMITTED = 0x02
ATT_WRITE_NOT_PERMITTED = 0x03
ATT_INSUFFICIENT_AUTHENTICATION = 0x05
ATT_REQUEST_NOT_SUPPORTED = 0x06
ATT_INVALID_ATTRIBUTE_VALUE_LENGTH = 0x0D
ATT_UNLIKELY_ERROR = 0x0E


@dataclass(eq=False)
class SimDescriptor:
    """A descriptor other than the CCCD (e.g. 0x2901 user description); its value is plain bytes."""

    uuid: str
    value: bytes = b""
    handle: int = 0

    def __post_init__(self) -> None:
        self.uuid = normalize_uuid(self.uuid)


@dataclass(eq=False)
class SimCharacteristic:
    """One characteristic: properties, a stored value and optional per-characteristic handlers.

    ``on_read`` / ``on_write`` let a table be built from plain callables; device classes may instead
    override ``SimulatedPeripheral.on_read`` / ``on_write``. Handlers may be sync or async and may raise
    ``AttError``. ``requires_bonding=None`` inherits the peripheral's setting.
    """

    uuid: str
    properties: Sequence[Property]
    value: bytes = b""
    on_read: ReadHandler | None = None
    on_write: WriteHandler | None = None
    requires_bonding: bool | None = None
    descriptors: list[SimDescriptor] = field(default_factory=list)
    handle: int = 0

    def __post_init__(self) -> None:
        self.uuid = normalize_uuid(self.uuid)
        unknown = set(self.properties) - _KNOWN_PROPERTIES
        if unknown:
            raise ValueError(f"unsupported properties {sorted(unknown)}; use {sorted(_KNOWN_PROPERTIES)}")
        self.properties = list(dict.fromkeys(self.properties))
        self.value = bytes(self.value)

    @property
    def can_notify(self) -> bool:
        """True when the central can subscribe (notify or indicate)."""
        return "notify" in self.properties or "indicate" in self.properties

    @property
    def cccd_handle(self) -> int | None:
        """Handle of the automatic CCCD, placed right after the value handle."""
        return self.handle + 2 if self.can_notify else None


@dataclass(eq=False)
class SimService:
    """A primary service and its characteristics."""

    uuid: str
    characteristics: list[SimCharacteristic] = field(default_factory=list)
    handle: int = 0

    def __post_init__(self) -> None:
        self.uuid = normalize_uuid(self.uuid)


def assign_handles(services: Iterable[SimService]) -> None:
    """Number attributes the way a GATT server lays them out, so handles are stable across connections.

    Service declaration, then per characteristic: declaration (the handle bleak reports), value, CCCD if
    notifiable, then other descriptors.
    """
    handle = 1
    for service in services:
        service.handle = handle
        handle += 1
        for char in service.characteristics:
            char.handle = handle
            handle += 2  # declaration + value
            if char.can_notify:
                handle += 1
            for descriptor in char.descriptors:
                descriptor.handle = handle
                handle += 1
