"""The patient's daily routine: when each device is used, with the values the physiology gives at that
moment and whether the patient skipped it.

Every value is drawn even for a skipped session, in a fixed order per day, so adherence never shifts the
values of other days, and a scenario can "un-skip" a session it needs without changing anything else.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from broker.contract.readings import ReadingKind
from simulators.physiology import vitals
from simulators.physiology.model import Measurement, SimulatedPatient

BP_MORNING: Final = (time(7, 0), 30.0)
BP_EVENING: Final = (time(20, 30), 45.0)
"""(usual local time, +/- minutes) of the BP sessions. AAFP 2021 home protocol: morning (before medication
and breakfast) and evening, each session two readings a minute apart."""
PAIR_GAP: Final = timedelta(seconds=60)
FASTING_CHECK: Final = (time(6, 50), 20.0)
"""Fasting glucose on waking, before breakfast."""
MEALS: Final = (time(7, 30), time(12, 30), time(18, 30))
DINNER_JITTER_MINUTES: Final = 30.0
WEIGH_IN: Final = (time(6, 40), 20.0)
"""Heart-failure instructions: weigh every morning after voiding, before eating (like with like)."""
WEEKEND: Final = (5, 6)


@dataclass(frozen=True)
class Session:
    """One use of one device: a BP pair, a glucose check or a weigh-in."""

    kind: ReadingKind
    label: str
    day: date
    measurements: tuple[Measurement, ...]
    skipped: bool

    @property
    def at(self) -> datetime:
        return self.measurements[-1].at


def stream(seed: int, patient: SimulatedPatient, name: str) -> random.Random:
    """A random stream of its own per (seed, patient, purpose); string seeds hash with SHA-512 in CPython,
    so the stream is the same on every run and platform."""
    return random.Random(f"{seed}/{patient.key}/{name}")


def _local(day: date, at: time, jitter_min: float, zone: ZoneInfo) -> datetime:
    """Whole seconds: devices stamp records to the second, so the devices file keeps the exact times."""
    return datetime.combine(day, at, tzinfo=zone) + timedelta(seconds=round(jitter_min * 60))


def _skip(rng: random.Random, day: date, patient: SimulatedPatient, extra: float = 0.0) -> bool:
    a = patient.adherence
    base = a.weekend_miss_probability if day.weekday() in WEEKEND else a.miss_probability
    return rng.random() < 1.0 - (1.0 - base) * (1.0 - extra)


def _hour(moment: datetime) -> float:
    return moment.hour + moment.minute / 60.0


def bp_day(rng: random.Random, patient: SimulatedPatient, day: date) -> list[Session]:
    """Morning and evening pairs of `day`."""
    zone = ZoneInfo(patient.timezone)
    level = (rng.gauss(0, vitals.DAY_TO_DAY_SD_MMHG[0]), rng.gauss(0, vitals.DAY_TO_DAY_SD_MMHG[1]))
    sessions = []
    for label, (usual, spread), extra in (
        ("morning", BP_MORNING, 0.0),
        ("evening", BP_EVENING, patient.adherence.evening_miss_probability),
    ):
        start = _local(day, usual, rng.uniform(-spread, spread), zone)
        skipped = _skip(rng, day, patient, extra)
        pair = []
        for i in range(2):
            at = start + i * PAIR_GAP
            noise = (
                rng.gauss(0, vitals.READING_NOISE_SD_MMHG[0]),
                rng.gauss(0, vitals.READING_NOISE_SD_MMHG[1]),
                rng.gauss(0, vitals.PULSE_NOISE_SD_BPM),
            )
            sbp, dbp, pulse = vitals.blood_pressure(
                patient.baseline, _hour(at), level, noise, first_of_pair=i == 0
            )
            pair.append(Measurement(at.astimezone(UTC), ReadingKind.BLOOD_PRESSURE, sbp, dbp, pulse))
        sessions.append(Session(ReadingKind.BLOOD_PRESSURE, label, day, tuple(pair), skipped))
    return sessions


def glucose_day(rng: random.Random, patient: SimulatedPatient, day: date) -> list[Session]:
    """A fasting check every morning, and on some days one two hours after dinner."""
    zone = ZoneInfo(patient.timezone)
    b = patient.baseline
    fasting = b.fasting_glucose_mg_dl + rng.gauss(0, vitals.DAY_TO_DAY_FASTING_SD_MG_DL)
    rise = max(10.0, b.meal_rise_mg_dl * rng.gauss(1.0, 0.25))
    check = _local(day, FASTING_CHECK[0], rng.uniform(-FASTING_CHECK[1], FASTING_CHECK[1]), zone)
    skipped = _skip(rng, day, patient)
    noise = rng.gauss(1.0, vitals.METER_NOISE_CV)
    value = vitals.glucose(fasting, (), rise, noise)
    sessions = [_glucose_session(day, "fasting", check, value, skipped)]
    wants_pp = rng.random() < patient.adherence.postprandial_probability
    dinner = _local(day, MEALS[2], rng.uniform(-DINNER_JITTER_MINUTES, DINNER_JITTER_MINUTES), zone)
    pp_skipped = _skip(rng, day, patient) or not wants_pp
    pp_at = dinner + timedelta(minutes=vitals.POSTPRANDIAL_CHECK_MINUTES)
    earlier = tuple((pp_at - _local(day, meal, 0.0, zone)).total_seconds() / 60 for meal in MEALS[:2])
    since = (*earlier, vitals.POSTPRANDIAL_CHECK_MINUTES)
    pp_value = vitals.glucose(fasting, since, rise, rng.gauss(1.0, vitals.METER_NOISE_CV))
    sessions.append(_glucose_session(day, "postprandial", pp_at, pp_value, pp_skipped))
    return sessions


def _glucose_session(day: date, meal: str, at: datetime, value: float, skipped: bool) -> Session:
    m = Measurement(at.astimezone(UTC), ReadingKind.GLUCOSE, glucose_mg_dl=value, meal=meal)
    return Session(ReadingKind.GLUCOSE, meal, day, (m,), skipped)


def weight_day(rng: random.Random, patient: SimulatedPatient, day: date, day_index: int) -> list[Session]:
    zone = ZoneInfo(patient.timezone)
    value = vitals.weight(patient.baseline, day_index, rng.gauss(0, vitals.DAILY_WEIGHT_SD_KG))
    at = _local(day, WEIGH_IN[0], rng.uniform(-WEIGH_IN[1], WEIGH_IN[1]), zone)
    skipped = _skip(rng, day, patient)
    m = Measurement(at.astimezone(UTC), ReadingKind.WEIGHT, weight_kg=value)
    return [Session(ReadingKind.WEIGHT, "weigh-in", day, (m,), skipped)]


def routine(
    patient: SimulatedPatient, kind: ReadingKind, first: date, last: date, seed: int
) -> list[Session]:
    """Every session of `kind` on local days `first`..`last`, oldest first, skipped ones included."""
    rng = stream(seed, patient, kind.value)
    out: list[Session] = []
    for index in range((last - first).days + 1):
        day = first + timedelta(days=index)
        if kind is ReadingKind.BLOOD_PRESSURE:
            out += bp_day(rng, patient, day)
        elif kind is ReadingKind.GLUCOSE:
            out += glucose_day(rng, patient, day)
        else:
            out += weight_day(rng, patient, day, index)
    return out
