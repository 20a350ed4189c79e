"""What the hub remembers about each device between sessions, behind a store the hub implements on SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeviceState:
    """Per-device memory.

    `last_sequence` is the highest record sequence the sink has stored; the next RACP transfer asks for
    `last_sequence + 1` onwards. `clock_offset_s` is the smoothed device-minus-hub offset.
    """

    last_sequence: int | None = None
    clock_offset_s: float | None = None


class DeviceStateStore(Protocol):
    """Durable per-device state keyed by BLE address (known before Device Information is read)."""

    async def get(self, address: str) -> DeviceState | None: ...

    async def set(self, address: str, state: DeviceState) -> None: ...


class InMemoryDeviceStateStore:
    """A `DeviceStateStore` in a dict: for tests and simulations (the hub's lives in SQLite)."""

    def __init__(self) -> None:
        self.states: dict[str, DeviceState] = {}

    async def get(self, address: str) -> DeviceState | None:
        return self.states.get(address.upper())

    async def set(self, address: str, state: DeviceState) -> None:
        self.states[address.upper()] = state
