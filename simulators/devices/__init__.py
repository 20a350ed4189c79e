"""Simulated health devices (cuffs, glucometers, scales) on top of `simulators.ble`, built from profiles.

Each model speaks the SIG formats byte for byte through the codec's encoders, keeps a clock with offset,
drift and resets, and takes its table and behaviour from the same firmware profile the hub uses. Use
`simulated_device(profile, address, clock)` to get the right class for a profile's measurement kind.
"""

from __future__ import annotations

from typing import Any

from broker.contract.readings import ReadingKind
from firmware_profiles import Profile
from simulators.devices.base import ProfiledDevice
from simulators.devices.clock import FACTORY_RESET_TIME, DeviceClock
from simulators.devices.glucometer import GlucoseRecord, SimGlucometer
from simulators.devices.pushing import PushingDevice, SimBloodPressureCuff, SimScale, StoredRecord

MODEL_CLASSES: dict[ReadingKind, type[ProfiledDevice]] = {
    ReadingKind.BLOOD_PRESSURE: SimBloodPressureCuff,
    ReadingKind.GLUCOSE: SimGlucometer,
    ReadingKind.WEIGHT: SimScale,
}
"""Which simulated device speaks a profile, by what it measures."""


def simulated_device(profile: Profile, address: str, clock: DeviceClock, **kwargs: Any) -> ProfiledDevice:
    return MODEL_CLASSES[profile.kinds[0]](profile, address, clock, **kwargs)


__all__ = [
    "FACTORY_RESET_TIME",
    "MODEL_CLASSES",
    "DeviceClock",
    "GlucoseRecord",
    "ProfiledDevice",
    "PushingDevice",
    "SimBloodPressureCuff",
    "SimGlucometer",
    "SimScale",
    "StoredRecord",
    "simulated_device",
]
