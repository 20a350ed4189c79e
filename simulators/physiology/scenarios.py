"""Scenarios: what changes near the end of a patient's history, each made to meet its alert rule with a
margin (alert-rules.md). An overlay edits the routine's sessions; faults and outages become home options.

Sessions a scenario depends on are taken even if the routine had the patient skip them ("protected"), so
adherence draws can never hide the event the scenario exists to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from broker.contract.readings import ReadingKind
from simulators.devices.clock import FACTORY_RESET_TIME
from simulators.physiology.model import DeviceFaults, HubOutage, Measurement, Scenario, SimulatedPatient
from simulators.physiology.routine import Session

Sessions = dict[ReadingKind, list[Session]]

CRISIS_PAIR: Final = ((188.0, 122.0, 92.0), (184.0, 119.0, 90.0))
"""Last pair of the crisis: >= 180/120 (AHA hypertensive crisis) on the first reading, >= 180 on the
repeat."""
CRISIS_RAMP_MMHG: Final = ((6.0, 3.0), (10.0, 5.0), (14.0, 7.0))
"""Daily BP level added on the 3 days before the crisis: the pressure climbs rather than jumps."""
HYPOTENSION_PAIR: Final = ((84.0, 52.0, 98.0), (86.0, 54.0, 96.0))
"""SBP < 90 (critical), with the compensating faster pulse of a patient over-treated or dehydrated."""
UNCONTROLLED_SHIFT_MMHG: Final = (24.0, 16.0)
"""Added over the last 10 days: baseline 124/76 becomes ~148/92, a 7-day mean above 135/85."""
UNCONTROLLED_FLOOR: Final = (146.0, 92.0)
"""The last two pairs are at least this: 3 readings in a row >= 140/90 (Lee et al. 2022)."""
HF_GAINS_KG: Final = (0.1, 0.3, 0.4, 0.6, 0.9, 1.3, 2.9)
"""Weight above the morning weight 7 days before the end, for days -6 .. 0: the last day-over-day gain is
1.6 kg (>= 1.4 kg, 3 lb), the 7-day gain 2.9 kg (>= 2.3 kg, 5 lb), the 3-day gain 2.3 kg (> 2 kg), and no
earlier day crosses any of them."""
HYPO_VALUES: Final = (63.0, 48.0)
"""Second-last reading 54-69 mg/dL (ADA level 1), last < 54 mg/dL (level 2)."""
HYPER_VALUES: Final = (276.0, 322.0)
"""Two readings > 250 within 24 h (ADA sick-day rule), the last > 300 mg/dL."""
HYPER_FASTING_RISE: Final = 45.0
NON_ADHERENCE_DAYS: Final = 4.0
"""No reading for 4 days: past the 3-day "no data" rule by a day."""
DEAD_BATTERY_PCT: Final = 5
"""Below the 20 % battery rule; the device died before the last day-and-a-half of measurements."""
DEAD_BATTERY_SILENT: Final = timedelta(hours=36)
CLOCK_RESET_AGO: Final = timedelta(hours=26)
"""The battery change that reset the clock: the device holds only records taken since."""
GARBAGE_RECORDS: Final = 2
HUB_OUTAGE: Final = timedelta(days=1)
BACKLOG_AFTER: Final = timedelta(minutes=10)
"""The outage ends this long after `now`: the demo shows the hub offline, then the backlog arriving."""


@dataclass
class Overlay:
    """What a scenario made of the routine: sessions, device faults, hub outage."""

    sessions: Sessions
    faults: dict[ReadingKind, DeviceFaults] = field(default_factory=dict)
    outage: HubOutage | None = None
    dead: set[ReadingKind] = field(default_factory=set)
    """Devices that take no further measurements (nothing scheduled for them)."""


def _taken(sessions: list[Session]) -> list[Session]:
    return [s for s in sessions if not s.skipped]


def _protect(sessions: list[Session], since: datetime) -> None:
    """Take every session from `since` on, whatever adherence said."""
    for i, s in enumerate(sessions):
        if s.at >= since and s.skipped:
            sessions[i] = replace(s, skipped=False)


def _set(session: Session, values: tuple[tuple[float, float, float], ...]) -> Session:
    ms = tuple(
        replace(m, systolic_mmhg=v[0], diastolic_mmhg=v[1], pulse_bpm=v[2])
        for m, v in zip(session.measurements, values, strict=True)
    )
    return replace(session, measurements=ms)


def _shift_bp(session: Session, ds: float, dd: float) -> Session:
    values = tuple(
        (m.systolic_mmhg + ds, max(30.0, m.diastolic_mmhg + dd), m.pulse_bpm)  # type: ignore[operator]
        for m in session.measurements
    )
    return _set(session, values)


def _last_index(sessions: list[Session]) -> int:
    return max(i for i, s in enumerate(sessions) if not s.skipped)


def _primary(patient: SimulatedPatient) -> ReadingKind:
    return patient.kinds[0]


def _need(kind: ReadingKind, patient: SimulatedPatient, scenario: Scenario) -> None:
    if kind not in patient.kinds:
        raise ValueError(
            f"scenario {scenario} needs a {kind.value} device; conditions {patient.conditions} give none"
        )


# --- blood pressure ---------------------------------------------------------------------------------------
def crisis(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    bp = o.sessions[ReadingKind.BLOOD_PRESSURE]
    _protect(bp, now - timedelta(days=3))
    last = _last_index(bp)
    for i, s in enumerate(bp):
        back = (bp[last].day - s.day).days
        if not s.skipped and 1 <= back <= len(CRISIS_RAMP_MMHG):
            bp[i] = _shift_bp(s, *CRISIS_RAMP_MMHG[len(CRISIS_RAMP_MMHG) - back])
    bp[last] = _set(bp[last], CRISIS_PAIR)


def hypotension(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    bp = o.sessions[ReadingKind.BLOOD_PRESSURE]
    _protect(bp, now - timedelta(days=2))
    last = _last_index(bp)
    for i, s in enumerate(bp):
        if not s.skipped and 1 <= (bp[last].day - s.day).days <= 3:
            bp[i] = _shift_bp(s, -8.0, -4.0)
    bp[last] = _set(bp[last], HYPOTENSION_PAIR)


def uncontrolled(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    bp = o.sessions[ReadingKind.BLOOD_PRESSURE]
    _protect(bp, now - timedelta(days=7))
    for i, s in enumerate(bp):
        if s.at >= now - timedelta(days=10):
            bp[i] = _shift_bp(s, *UNCONTROLLED_SHIFT_MMHG)
    taken = [i for i, s in enumerate(bp) if not s.skipped][-2:]
    for i in taken:
        floor = tuple(
            (
                max(m.systolic_mmhg or 0.0, UNCONTROLLED_FLOOR[0]),
                max(m.diastolic_mmhg or 0.0, UNCONTROLLED_FLOOR[1]),
                m.pulse_bpm or 72.0,
            )
            for m in bp[i].measurements
        )
        bp[i] = _set(bp[i], floor)


# --- weight -----------------------------------------------------------------------------------------------
def heart_failure(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    """Fluid retention over a week, anchored to the real weigh-in 7 days before the last one."""
    w = o.sessions[ReadingKind.WEIGHT]
    _protect(w, now - timedelta(days=8, hours=12))
    last = _last_index(w)
    anchor_day = w[last].day - timedelta(days=len(HF_GAINS_KG))
    [anchor] = [s for s in w if s.day == anchor_day]
    base = anchor.measurements[0].weight_kg
    assert base is not None
    for i, s in enumerate(w):
        back = (w[last].day - s.day).days
        if 0 <= back < len(HF_GAINS_KG):
            gain = HF_GAINS_KG[len(HF_GAINS_KG) - 1 - back]
            w[i] = replace(s, measurements=(replace(s.measurements[0], weight_kg=round(base + gain, 1)),))


# --- glucose ----------------------------------------------------------------------------------------------
def _glucose_end(o: Overlay, now: datetime, values: tuple[float, float], fasting_rise: float) -> None:
    g = o.sessions[ReadingKind.GLUCOSE]
    _protect(g, now - timedelta(days=2))
    taken = [i for i, s in enumerate(g) if not s.skipped]
    if fasting_rise:
        for i in taken:
            if g[i].at >= now - timedelta(days=4):
                m = g[i].measurements[0]
                g[i] = replace(
                    g[i], measurements=(replace(m, glucose_mg_dl=(m.glucose_mg_dl or 0) + fasting_rise),)
                )
    for i, value in zip(taken[-2:], values, strict=True):
        g[i] = replace(g[i], measurements=(replace(g[i].measurements[0], glucose_mg_dl=value),))


def hypoglycaemia(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    _glucose_end(o, now, HYPO_VALUES, 0.0)


def hyperglycaemia(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    _glucose_end(o, now, HYPER_VALUES, HYPER_FASTING_RISE)


# --- adherence, devices, hub ------------------------------------------------------------------------------
def silence(sessions: list[Session], since: datetime) -> None:
    """Skip every session from `since` on."""
    for i, s in enumerate(sessions):
        if s.measurements[0].at >= since:
            sessions[i] = replace(s, skipped=True)


def non_adherence(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    for sessions in o.sessions.values():
        silence(sessions, now - timedelta(days=NON_ADHERENCE_DAYS))


def dead_battery(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    kind = _primary(patient)
    silence(o.sessions[kind], now - DEAD_BATTERY_SILENT)
    o.faults[kind] = DeviceFaults(battery_pct=DEAD_BATTERY_PCT)
    o.dead.add(kind)


def clock_reset(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    """The device restarted at FACTORY_RESET_TIME (local) a day ago and kept nothing from before."""
    kind = _primary(patient)
    reset_at = now - CLOCK_RESET_AGO
    o.sessions[kind] = [s for s in o.sessions[kind] if s.measurements[0].at >= reset_at]
    _protect(o.sessions[kind], reset_at)
    shown = FACTORY_RESET_TIME.replace(tzinfo=ZoneInfo(patient.timezone))
    o.faults[kind] = DeviceFaults(clock_offset_s=(shown - reset_at).total_seconds(), drift_ppm=0.0)


def garbage_bytes(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    o.faults[_primary(patient)] = DeviceFaults(garbage_records=GARBAGE_RECORDS)


def hub_offline(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    o.outage = HubOutage(start=now - HUB_OUTAGE, end=now + BACKLOG_AFTER)


def stable(o: Overlay, patient: SimulatedPatient, now: datetime) -> None:
    """Nothing happens: the routine as drawn."""


Apply = Callable[[Overlay, SimulatedPatient, datetime], None]

OVERLAYS: Final[dict[Scenario, tuple[ReadingKind | None, Apply]]] = {
    Scenario.STABLE: (None, stable),
    Scenario.UNCONTROLLED_HYPERTENSION: (ReadingKind.BLOOD_PRESSURE, uncontrolled),
    Scenario.HYPERTENSIVE_CRISIS: (ReadingKind.BLOOD_PRESSURE, crisis),
    Scenario.HYPOTENSION: (ReadingKind.BLOOD_PRESSURE, hypotension),
    Scenario.HEART_FAILURE_DECOMPENSATION: (ReadingKind.WEIGHT, heart_failure),
    Scenario.HYPOGLYCAEMIA: (ReadingKind.GLUCOSE, hypoglycaemia),
    Scenario.HYPERGLYCAEMIA: (ReadingKind.GLUCOSE, hyperglycaemia),
    Scenario.NON_ADHERENCE: (None, non_adherence),
    Scenario.DEAD_BATTERY: (None, dead_battery),
    Scenario.CLOCK_RESET: (None, clock_reset),
    Scenario.GARBAGE_BYTES: (None, garbage_bytes),
    Scenario.HUB_OFFLINE_THEN_BACKLOG: (None, hub_offline),
}
"""Each scenario: the device kind it needs (None: any) and its overlay."""


def apply(scenario: Scenario, patient: SimulatedPatient, sessions: Sessions, now: datetime) -> Overlay:
    needed, overlay = OVERLAYS[scenario]
    if needed is not None:
        _need(needed, patient, scenario)
    result = Overlay({kind: list(s) for kind, s in sessions.items()})
    overlay(result, patient, now)
    return result


def measurements(sessions: list[Session]) -> tuple[Measurement, ...]:
    """The measurements of the sessions taken, oldest first."""
    return tuple(sorted((m for s in _taken(sessions) for m in s.measurements), key=lambda m: m.at))
