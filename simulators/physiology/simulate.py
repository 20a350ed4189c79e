"""`simulate(patient, scenario, now=...)`: N days of history ending at `now` and the measurements of the
next minutes, the same for the same inputs (every draw comes from a stream seeded by seed, patient, use)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from broker.contract.readings import ReadingKind
from simulators.physiology import scenarios, vitals
from simulators.physiology.model import DeviceFaults, Measurement, Scenario, SimulatedPatient, Simulation
from simulators.physiology.routine import PAIR_GAP, routine, stream

HISTORY_DAYS: Final = 30
"""One RPM device period (99454/99445 count data days per 30 days)."""
SCHEDULE_MINUTES: Final = 10.0
CLOCK_OFFSET_MAX_S: Final = 90.0
"""Everyday device clocks: set by hand or by a phone app weeks ago, off by up to a minute or two."""
DRIFT_MAX_PPM: Final = 20.0
"""32.768 kHz watch crystals, the RTC of most health devices, are specified at +/- 20 ppm."""
SCHEDULE_AT: Final = {ReadingKind.BLOOD_PRESSURE: 0.2, ReadingKind.GLUCOSE: 0.4, ReadingKind.WEIGHT: 0.5}
"""When in the schedule window each device is used (share of the window), so they do not all collide."""

SCHEDULED_VALUES: Final[dict[Scenario, dict[str, float]]] = {
    Scenario.HYPERTENSIVE_CRISIS: {"systolic_mmhg": 184.0, "diastolic_mmhg": 118.0, "pulse_bpm": 90.0},
    Scenario.HYPOTENSION: {"systolic_mmhg": 88.0, "diastolic_mmhg": 56.0, "pulse_bpm": 94.0},
    Scenario.HYPOGLYCAEMIA: {"glucose_mg_dl": 92.0},
    Scenario.HYPERGLYCAEMIA: {"glucose_mg_dl": 305.0},
}
"""What the next minutes bring: the crisis confirmed by the repeat AHA asks for, the hypoglycaemia treated
(ADA "rule of 15": recheck 15 minutes after 15 g of carbohydrate), the others persisting."""
SILENT: Final = (Scenario.NON_ADHERENCE,)


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone (UTC instants only)")
    return now.astimezone(UTC)


def simulate(
    patient: SimulatedPatient,
    scenario: Scenario,
    *,
    now: datetime,
    days: int = HISTORY_DAYS,
    seed: int = 0,
    schedule_minutes: float = SCHEDULE_MINUTES,
) -> Simulation:
    """History of `days` days ending at `now` (readings in (now - days, now]) per device kind, faults and
    scheduled measurements in (now, now + schedule_minutes]."""
    now = _utc(now)
    if days < 9:
        raise ValueError("simulate at least 9 days: the weight rules look 7 days back from the last day")
    zone = ZoneInfo(patient.timezone)
    start = now - timedelta(days=days)
    first, last = start.astimezone(zone).date(), now.astimezone(zone).date()
    sessions = {
        kind: [
            s
            for s in routine(patient, kind, first, last, seed)
            if start < s.measurements[0].at and s.at <= now
        ]
        for kind in patient.kinds
    }
    if patient.adherence.stopped_days:
        for kind_sessions in sessions.values():
            scenarios.silence(kind_sessions, now - timedelta(days=patient.adherence.stopped_days))
    overlay = scenarios.apply(scenario, patient, sessions, now)
    history = {kind: scenarios.measurements(s) for kind, s in overlay.sessions.items()}
    faults = {kind: _clock(patient, kind, seed, overlay.faults.get(kind)) for kind in patient.kinds}
    scheduled = _scheduled(patient, scenario, history, overlay.dead, now, schedule_minutes, seed)
    return Simulation(patient, scenario, now, days, history, scheduled, faults, overlay.outage)


def _clock(
    patient: SimulatedPatient, kind: ReadingKind, seed: int, faults: DeviceFaults | None
) -> DeviceFaults:
    """The scenario's faults with an everyday clock offset and drift filled in where it set none."""
    rng = stream(seed, patient, f"clock/{kind.value}")
    offset, drift = (
        rng.uniform(-CLOCK_OFFSET_MAX_S, CLOCK_OFFSET_MAX_S),
        rng.uniform(-DRIFT_MAX_PPM, DRIFT_MAX_PPM),
    )
    faults = faults or DeviceFaults()
    return replace(
        faults,
        clock_offset_s=round(offset, 1) if faults.clock_offset_s is None else faults.clock_offset_s,
        drift_ppm=round(drift, 1) if faults.drift_ppm is None else faults.drift_ppm,
    )


def _scheduled(
    patient: SimulatedPatient,
    scenario: Scenario,
    history: dict[ReadingKind, tuple[Measurement, ...]],
    dead: set[ReadingKind],
    now: datetime,
    window_minutes: float,
    seed: int,
) -> dict[ReadingKind, tuple[Measurement, ...]]:
    """One use of each working device in the next minutes: a BP pair, a glucose check, a weigh-in."""
    if scenario in SILENT or window_minutes <= 0:
        return {kind: () for kind in patient.kinds}
    rng = stream(seed, patient, "scheduled")
    local = now.astimezone(ZoneInfo(patient.timezone))
    hour = local.hour + local.minute / 60
    out: dict[ReadingKind, tuple[Measurement, ...]] = {}
    for kind in patient.kinds:
        at = now + timedelta(minutes=window_minutes * SCHEDULE_AT[kind])
        if kind in dead:
            out[kind] = ()
            continue
        override = SCHEDULED_VALUES.get(scenario, {})
        if kind is ReadingKind.BLOOD_PRESSURE:
            level = (rng.gauss(0, vitals.DAY_TO_DAY_SD_MMHG[0]), rng.gauss(0, vitals.DAY_TO_DAY_SD_MMHG[1]))
            pair = []
            for i in range(2):
                noise = (
                    rng.gauss(0, vitals.READING_NOISE_SD_MMHG[0]),
                    rng.gauss(0, vitals.READING_NOISE_SD_MMHG[1]),
                    rng.gauss(0, vitals.PULSE_NOISE_SD_BPM),
                )
                sbp, dbp, pulse = vitals.blood_pressure(
                    patient.baseline, hour, level, noise, first_of_pair=i == 0
                )
                values = {"systolic_mmhg": sbp, "diastolic_mmhg": dbp, "pulse_bpm": pulse}
                values |= {k: v for k, v in override.items() if k in values}
                pair.append(Measurement(at + i * PAIR_GAP, kind, **values))
            out[kind] = tuple(pair)
        elif kind is ReadingKind.GLUCOSE:
            value = override.get("glucose_mg_dl") or vitals.glucose(
                patient.baseline.fasting_glucose_mg_dl, (), 0.0, rng.gauss(1.0, vitals.METER_NOISE_CV)
            )
            out[kind] = (Measurement(at, kind, glucose_mg_dl=value, meal="casual"),)
        else:
            previous = history[kind][-1].weight_kg if history[kind] else patient.baseline.weight_kg
            bump = 0.2 if scenario is Scenario.HEART_FAILURE_DECOMPENSATION else rng.gauss(0, 0.1)
            out[kind] = (Measurement(at, kind, weight_kg=round((previous or 0.0) + bump, 1)),)
    return out
