"""The values a simulated patient is made of, and what a simulation hands back.

Measurements use the wire contract's canonical units and names (DESIGN.md, "Wire contract"): mmHg, bpm,
mg/dL, kg, so a simulated reading compares directly with what ingest stores and the alert rules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from broker.contract.readings import ReadingKind


class Scenario(StrEnum):
    """What happens to a patient near the end of the simulated history (alert-rules.md names the rules)."""

    STABLE = "stable"
    UNCONTROLLED_HYPERTENSION = "uncontrolled_hypertension"
    HYPERTENSIVE_CRISIS = "hypertensive_crisis"
    HYPOTENSION = "hypotension"
    HEART_FAILURE_DECOMPENSATION = "heart_failure_decompensation"
    HYPOGLYCAEMIA = "hypoglycaemia"
    HYPERGLYCAEMIA = "hyperglycaemia"
    NON_ADHERENCE = "non_adherence"
    DEAD_BATTERY = "dead_battery"
    CLOCK_RESET = "clock_reset"
    GARBAGE_BYTES = "garbage_bytes"
    HUB_OFFLINE_THEN_BACKLOG = "hub_offline_then_backlog"


@dataclass(frozen=True)
class Measurement:
    """One reading as the patient takes it: true time (UTC) and values in canonical units."""

    at: datetime
    kind: ReadingKind
    systolic_mmhg: float | None = None
    diastolic_mmhg: float | None = None
    pulse_bpm: float | None = None
    glucose_mg_dl: float | None = None
    meal: str | None = None
    """Glucose meal context as the meter records it (`fasting`, `postprandial`, `casual`, ...)."""
    weight_kg: float | None = None

    def values(self) -> dict[str, float | str]:
        """The values that are set, by canonical name."""
        names = ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "glucose_mg_dl", "meal", "weight_kg")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@dataclass(frozen=True)
class Baseline:
    """A patient's usual values. Defaults: hypertension treated to the 2025 AHA/ACC goal (< 130/80 on
    average over the day), type 2 diabetes near target, an overweight adult."""

    systolic_mmhg: float = 124.0
    diastolic_mmhg: float = 76.0
    pulse_bpm: float = 72.0
    fasting_glucose_mg_dl: float = 118.0
    meal_rise_mg_dl: float = 65.0
    """Peak glucose rise after a meal above fasting; people with type 2 diabetes commonly peak 50-100 mg/dL
    above their fasting value (ADA postprandial target: peak < 180 mg/dL)."""
    weight_kg: float = 86.0
    weight_drift_kg_per_day: float = -0.01
    """A slow trend (here -0.3 kg a month, a patient losing weight as advised)."""


@dataclass(frozen=True)
class Adherence:
    """How reliably the patient measures. Defaults reach 16 data days (CPT 99454) with room to spare, and
    measure less on weekends and in the evening, the usual pattern of home monitoring programs."""

    miss_probability: float = 0.06
    """Chance that a weekday session is skipped."""
    weekend_miss_probability: float = 0.2
    evening_miss_probability: float = 0.25
    """Extra chance that the evening blood-pressure session is skipped (the morning one is a routine)."""
    postprandial_probability: float = 0.5
    """Share of days with a glucose check two hours after dinner, besides the fasting one."""
    stopped_days: float = 0.0
    """No measurement at all in the last N days (a patient who stopped)."""


CHRONIC_DEVICE_KINDS: dict[str, tuple[ReadingKind, ...]] = {
    "I10": (ReadingKind.BLOOD_PRESSURE,),
    "I11": (ReadingKind.BLOOD_PRESSURE,),
    "I12": (ReadingKind.BLOOD_PRESSURE,),
    "I13": (ReadingKind.BLOOD_PRESSURE,),
    "I50": (ReadingKind.BLOOD_PRESSURE, ReadingKind.WEIGHT),
    "N18": (ReadingKind.BLOOD_PRESSURE,),
    "E08": (ReadingKind.GLUCOSE,),
    "E09": (ReadingKind.GLUCOSE,),
    "E10": (ReadingKind.GLUCOSE,),
    "E11": (ReadingKind.GLUCOSE,),
    "E13": (ReadingKind.GLUCOSE,),
}
"""Which devices a condition's ICD-10-CM category calls for: a cuff for hypertension and chronic kidney
disease (BP control slows CKD), a scale and a cuff for heart failure (the weight-gain rules), a meter for
diabetes. COPD and others add none (pulse oximetry is not simulated)."""


def kinds_for_conditions(conditions: tuple[str, ...]) -> tuple[ReadingKind, ...]:
    """The device kinds a patient with these ICD-10 codes gets, in a fixed order; a cuff when none apply."""
    wanted = {kind for code in conditions for kind in CHRONIC_DEVICE_KINDS.get(code[:3], ())}
    ordered = tuple(kind for kind in ReadingKind if kind in wanted)
    return ordered or (ReadingKind.BLOOD_PRESSURE,)


@dataclass(frozen=True)
class SimulatedPatient:
    """A patient to simulate. `key` (a stable name such as the MRN) is mixed into every random stream, so
    two patients with the same seed still differ."""

    key: str
    conditions: tuple[str, ...]
    timezone: str = "America/Chicago"
    baseline: Baseline = field(default_factory=Baseline)
    adherence: Adherence = field(default_factory=Adherence)

    @property
    def kinds(self) -> tuple[ReadingKind, ...]:
        return kinds_for_conditions(self.conditions)


@dataclass(frozen=True)
class DeviceFaults:
    """Faults of one device, as options of the home simulator's devices file (simulators/home/spec.py)."""

    battery_pct: int | None = None
    """Reported battery level; None keeps the simulator's default."""
    clock_offset_s: float | None = None
    """Device clock minus true time when the home starts; None: a small everyday offset is drawn."""
    drift_ppm: float | None = None
    garbage_records: int = 0
    """The next N measurement records go out as garbage bytes (a decode error with the raw bytes)."""


@dataclass(frozen=True)
class HubOutage:
    """The home's hub is offline from `start` to `end`; readings taken meanwhile wait on the devices and
    arrive together when it comes back (a backlog flush)."""

    start: datetime
    end: datetime

    def delivered_at(self, measurement: Measurement) -> datetime:
        """When the cloud can first see `measurement`: at the end of the outage if taken during it."""
        return self.end if self.start <= measurement.at < self.end else measurement.at

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Simulation:
    """History (N days ending at `now`), measurements scheduled after `now`, device faults and hub outage."""

    patient: SimulatedPatient
    scenario: Scenario
    now: datetime
    days: int
    history: Mapping[ReadingKind, tuple[Measurement, ...]]
    scheduled: Mapping[ReadingKind, tuple[Measurement, ...]]
    faults: Mapping[ReadingKind, DeviceFaults]
    hub_outage: HubOutage | None = None

    def all_history(self) -> list[Measurement]:
        """Every past measurement of every device, oldest first."""
        return sorted((m for ms in self.history.values() for m in ms), key=lambda m: (m.at, m.kind))
