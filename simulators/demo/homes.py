"""A demo patient's home: hub id, devices (stable serials and BLE addresses), the hub's config and the
devices file of `rpm sim home`, built from the patient's simulation."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Final

from broker.contract import AssignedDevice, HubConfig
from broker.contract.readings import ReadingKind
from simulators.demo.roster import DemoPatient
from simulators.physiology import DeviceIdentity, Simulation, home_spec, to_toml

PROFILES: Final = {
    ReadingKind.BLOOD_PRESSURE: ("omron-bp7250", "and-ua-651ble"),
    ReadingKind.GLUCOSE: ("accu-chek-guide", "contour-next-one"),
    ReadingKind.WEIGHT: ("and-uc-352ble", "sig-weight-scale"),
}
"""Models handed out, alternating by patient, so the demo exercises more than one firmware profile each."""
SERIAL_CODES: Final = {ReadingKind.BLOOD_PRESSURE: "BP", ReadingKind.GLUCOSE: "GL", ReadingKind.WEIGHT: "WS"}
LABELS: Final = {
    ReadingKind.BLOOD_PRESSURE: "cuff",
    ReadingKind.GLUCOSE: "meter",
    ReadingKind.WEIGHT: "scale",
}
DEVICES_FILE: Final = "devices.toml"
CONTROL_DIR: Final = "control"
CONFIG_VERSION: Final = 1
"""The demo publishes one config per hub; re-publishing it unchanged is ignored by the hub (same version)."""


def hub_id(prefix: str, patient: DemoPatient) -> str:
    return f"{prefix}-{patient.number:02d}"


def devices_for(patient: DemoPatient, kinds: tuple[ReadingKind, ...]) -> list[DeviceIdentity]:
    """Stable identities: the serial names the patient and the kind; addresses are random-static (top bits
    11) so they never look like a public vendor address."""
    out = []
    for index, kind in enumerate(ReadingKind):
        if kind not in kinds:
            continue
        profiles = PROFILES[kind]
        out.append(
            DeviceIdentity(
                kind=kind,
                profile=profiles[patient.number % len(profiles)],
                address=f"C0:DE:00:{patient.number:02X}:00:{index + 1:02X}",
                serial=f"RFM-{SERIAL_CODES[kind]}-{10000 + patient.number}",
                name=None,
            )
        )
    return out


def hub_config(hub: str, devices: list[DeviceIdentity], issued_at: datetime) -> HubConfig:
    return HubConfig(
        hub_id=hub,
        version=CONFIG_VERSION,
        issued_at=issued_at,
        devices=tuple(
            AssignedDevice(device_id=d.serial, profile=d.profile, address=d.address, name=LABELS[d.kind])
            for d in devices
        ),
    )


def write_devices_file(directory: Path, sim: Simulation, devices: list[DeviceIdentity]) -> tuple[Path, bool]:
    """Write the home's devices file unless it exists (a home keeps the history it was first given: its
    devices' memory was built from it). Returns (path, written)."""
    path = directory / DEVICES_FILE
    if path.exists():
        return path, False
    header = (
        f"Demo home of {sim.patient.key}: scenario {sim.scenario.value}, {sim.days} days of history up to "
        f"{sim.now:%Y-%m-%d %H:%M} UTC.\nWritten by the demo provisioning; run with `rpm sim home`."
    )
    text = to_toml(home_spec(sim, devices), header=header)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path, True


def ensure_passkeys(config_file: Path, devices_file: Path) -> bool:
    """Enter the PIN each device shows into the hub's config, as the installer does when pairing a meter
    that asks for one (`[passkeys]` in hub.toml). Returns True when the table was added now."""
    import tomllib

    from simulators.home.spec import load_spec

    if "passkeys" in tomllib.loads(config_file.read_text()):
        return False
    pins = {d.address.upper(): d.passkey for d in load_spec(devices_file).devices if d.passkey is not None}
    if not pins:
        return False
    lines = ["", "# The PIN each device shows when it pairs (BLE address = PIN).", "[passkeys]"]
    lines += [f'"{address}" = {pin}' for address, pin in sorted(pins.items())]
    with config_file.open("a") as config:
        config.write("\n".join(lines) + "\n")
    return True
