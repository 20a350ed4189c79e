"""What the simulated devices remember across restarts of the home process (`kill -9` included).

A real cuff's memory survives the hub's crash; a simulated one lives in the same process as the hub, so its
memory is written to a JSON file on every change: the records as the bytes the device sends (re-encoding
them later could change their time stamps, hence their reading ids), which were already sent, the clock, how
many records are still to go out as garbage, and which scheduled or requested measurements were already
taken. Writes replace the file atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

FORMAT_VERSION: Final = 1


@dataclass
class RecordMemory:
    taken_at: datetime
    """True (simulated UTC) time of the measurement: what a corrected `measured_at` should show."""
    payload: str
    """Hex of the measurement characteristic value."""
    values: dict[str, Any]
    sent: bool = False
    """Push devices: the indication was confirmed (the device will not send it again)."""
    sequence: int | None = None
    context: str | None = None
    """Meters: hex of the Measurement Context, if any."""


@dataclass
class ClockMemory:
    offset_s: float
    since: datetime
    sets: int = 0


@dataclass
class DeviceMemory:
    clock: ClockMemory
    records: list[RecordMemory] = field(default_factory=list)
    next_sequence: int = 1
    garbage_left: int = 0
    """How many of the next records still go out as garbage (`garbage_records` of the devices file, less
    those already sent)."""


@dataclass
class HomeMemory:
    started_at: datetime
    devices: dict[str, DeviceMemory] = field(default_factory=dict)
    taken: list[str] = field(default_factory=list)
    """Ids of scheduled and requested measurements already taken: each is taken once, across restarts too."""

    def to_json(self) -> str:
        def default(value: object) -> str:
            if isinstance(value, datetime):
                return value.isoformat()
            raise TypeError(type(value).__name__)

        return json.dumps({"v": FORMAT_VERSION, **asdict(self)}, default=default, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> HomeMemory:
        raw = json.loads(text)
        if raw.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown home memory format {raw.get('v')!r}")
        devices = {}
        for address, device in raw["devices"].items():
            clock = device["clock"]
            devices[address] = DeviceMemory(
                clock=ClockMemory(clock["offset_s"], datetime.fromisoformat(clock["since"]), clock["sets"]),
                records=[
                    RecordMemory(**{**r, "taken_at": datetime.fromisoformat(r["taken_at"])})
                    for r in device["records"]
                ],
                next_sequence=device["next_sequence"],
                garbage_left=device.get("garbage_left", 0),
            )
        return cls(datetime.fromisoformat(raw["started_at"]), devices, list(raw["taken"]))


def load_memory(path: Path) -> HomeMemory | None:
    try:
        return HomeMemory.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def save_memory(path: Path, memory: HomeMemory) -> None:
    """Replace the file atomically: a kill leaves the old memory or the new one, never half of each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(memory.to_json(), encoding="utf-8")
    os.replace(tmp, path)
