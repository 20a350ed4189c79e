"""The BLE layer's `DeviceStateStore` on the hub's SQLite key-value store.

A device's `DeviceState` (last delivered record sequence, clock offset) is written as one JSON value under one
key, so the two fields can never be read half-updated. The value carries a format version: a hub upgraded
later must be able to tell an old layout from a corrupt one.
"""

from __future__ import annotations

import json
import logging
from typing import Final

from gateway.ble.state import DeviceState
from gateway.state import DeviceStateStore

log = logging.getLogger(__name__)

BLE_STATE_KEY: Final = "ble_state"
"""Key of the serialised `DeviceState` in the store; rows are keyed by BLE address (the session knows the
address before it has read the serial number)."""

FORMAT_VERSION: Final = 1


def encode_state(state: DeviceState) -> str:
    return json.dumps(
        {"v": FORMAT_VERSION, "last_sequence": state.last_sequence, "clock_offset_s": state.clock_offset_s},
        separators=(",", ":"),
    )


def decode_state(text: str) -> DeviceState | None:
    """The stored state, or None if it cannot be read: the device is then read from its first record again,
    which costs a transfer but loses nothing (re-read records keep their ids and the outbox drops them)."""
    try:
        raw = json.loads(text)
        if raw.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown format version {raw.get('v')!r}")
        sequence = raw.get("last_sequence")
        offset = raw.get("clock_offset_s")
        if sequence is not None and not isinstance(sequence, int):
            raise ValueError("last_sequence is not an integer")
        if offset is not None and not isinstance(offset, int | float):
            raise ValueError("clock_offset_s is not a number")
    except (ValueError, AttributeError) as exc:
        log.error("ignoring unreadable device state %r: %s", text[:200], exc)
        return None
    return DeviceState(last_sequence=sequence, clock_offset_s=None if offset is None else float(offset))


class SqliteBleStateStore:
    """`gateway.ble.state.DeviceStateStore` backed by the hub's `DeviceStateStore` (one SQLite thread)."""

    def __init__(self, store: DeviceStateStore) -> None:
        self._store = store

    async def get(self, address: str) -> DeviceState | None:
        text = await self._store.get(address.upper(), BLE_STATE_KEY)
        return None if text is None else decode_state(text)

    async def set(self, address: str, state: DeviceState) -> None:
        await self._store.set(address.upper(), BLE_STATE_KEY, encode_state(state))
