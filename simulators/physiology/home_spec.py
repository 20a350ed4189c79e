"""A simulation as the devices file of a simulated home (`rpm sim home --devices FILE`, see
simulators/home/spec.py): stored history with absolute times, scheduled measurements, device faults.

History uses absolute `at` times rather than `minutes_ago`, so the records line up with what the database
was told (episode start, device assignments) however long after provisioning the home first starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from broker.contract.readings import ReadingKind
from simulators.home.spec import HomeSpec
from simulators.physiology.model import Measurement, Simulation

SPEC_NAMES: Final = {
    "systolic_mmhg": "systolic",
    "diastolic_mmhg": "diastolic",
    "pulse_bpm": "pulse",
    "glucose_mg_dl": "mg_dl",
    "meal": "meal",
    "weight_kg": "weight_kg",
}
"""Canonical value names (DESIGN.md) to the devices file's names."""


@dataclass(frozen=True)
class DeviceIdentity:
    """Who a simulated device is: what it measures, its profile (model), BLE address and serial."""

    kind: ReadingKind
    profile: str
    address: str
    serial: str
    name: str | None = None


def _values(m: Measurement) -> dict[str, Any]:
    return {SPEC_NAMES[name]: value for name, value in m.values().items()}


def device_entry(device: DeviceIdentity, sim: Simulation) -> dict[str, Any]:
    """One `[[devices]]` table: identity, faults, history and schedule of `device.kind`."""
    faults = sim.faults.get(device.kind)
    entry: dict[str, Any] = {"profile": device.profile, "address": device.address, "serial": device.serial}
    if device.name is not None:
        entry["name"] = device.name
    if faults is not None:
        if faults.battery_pct is not None:
            entry["battery_pct"] = faults.battery_pct
        if faults.clock_offset_s is not None:
            entry["clock_offset_s"] = faults.clock_offset_s
        if faults.drift_ppm is not None:
            entry["drift_ppm"] = faults.drift_ppm
        if faults.garbage_records:
            entry["garbage_records"] = faults.garbage_records
    entry["readings"] = [{"at": m.at.astimezone(UTC), **_values(m)} for m in sim.history.get(device.kind, ())]
    entry["schedule"] = [
        {"after_s": round((m.at - sim.now).total_seconds(), 1), **_values(m)}
        for m in sim.scheduled.get(device.kind, ())
    ]
    return entry


def home_spec(sim: Simulation, devices: Sequence[DeviceIdentity]) -> dict[str, Any]:
    """The devices file as data, checked against the home simulator's own model."""
    raw = {"timezone": sim.patient.timezone, "devices": [device_entry(d, sim) for d in devices]}
    HomeSpec.model_validate(raw)
    return raw


def to_toml(spec: Mapping[str, Any], header: str = "") -> str:
    """TOML text of a devices file (only the value types it uses: strings, numbers, times, arrays of inline
    tables). Strings are written as JSON strings, which are valid TOML basic strings."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{key} = {_value(value)}" for key, value in spec.items() if not isinstance(value, list)]
    for table in spec.get("devices", []):
        lines += ["", "[[devices]]"]
        for key, value in table.items():
            if isinstance(value, list):
                items = "".join(f"  {_value(item)},\n" for item in value)
                lines.append(f"{key} = [\n{items}]" if value else f"{key} = []")
            else:
                lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("devices-file times are instants: give a time zone")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")
