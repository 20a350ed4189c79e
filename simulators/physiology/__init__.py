"""Simulated patients: conditions, physiologic series (circadian BP, meal-related glucose, weight drift),
adherence and clinical or technical scenarios, deterministic per seed (`simulate`)."""

from simulators.physiology.home_spec import DeviceIdentity, home_spec, to_toml
from simulators.physiology.model import (
    Adherence,
    Baseline,
    DeviceFaults,
    HubOutage,
    Measurement,
    Scenario,
    SimulatedPatient,
    Simulation,
    kinds_for_conditions,
)
from simulators.physiology.simulate import simulate

__all__ = [
    "Adherence",
    "Baseline",
    "DeviceFaults",
    "DeviceIdentity",
    "HubOutage",
    "Measurement",
    "Scenario",
    "SimulatedPatient",
    "Simulation",
    "home_spec",
    "kinds_for_conditions",
    "simulate",
    "to_toml",
]
