"""Data-quality rules: values that cannot be a measurement, weights that jump. Never clinical alerts."""

from __future__ import annotations

import numpy as np

from alerts.readings import Readings
from alerts.rules.base import Columns, Fired, NoParams, ReadingRule
from alerts.rules.weight import weight_jumps
from alerts.window import Series


def _impossible(r: Readings, s: Series, p: Columns) -> Fired:
    kind = r.kind[s.pos]
    primary = np.select(
        [kind == 0, kind == 1], [r.raw["systolic"][s.pos], r.raw["glucose"][s.pos]], r.raw["weight"][s.pos]
    )
    details = {name: r.raw[name][s.pos] for name in ("systolic", "diastolic", "glucose", "weight")}
    return Fired(np.ones(len(s), dtype=bool), primary, np.zeros(len(s)), details)


IMPOSSIBLE_VALUE = ReadingRule(
    name="impossible_value",
    summary="a physiologically impossible value was recorded (kept and flagged, never alerted clinically)",
    source="alert-rules.md: SBP > 300 or < 40, DBP >= SBP, glucose > 1000 or <= 0, weight <= 0 or > 400 kg",
    priority="low",
    category="data_quality",
    params=NoParams,
    auto_resolves=False,
    select="impossible",
    evaluate=_impossible,
)


def _jump(r: Readings, s: Series, p: Columns) -> Fired:
    jumps = weight_jumps(r, s)
    at = np.flatnonzero(jumps)
    w = r.raw["weight"][s.pos[at]]
    return Fired(jumps.copy(), w, np.zeros(at.size), {"weight_kg": w}, at)


WEIGHT_JUMP = ReadingRule(
    name="weight_implausible_jump",
    summary="weight changed by more than 5 kg within a day: another person on the scale or a unit error",
    source="alert-rules.md, weight notes (flag as data quality, no clinical alert)",
    priority="low",
    category="data_quality",
    params=NoParams,
    select="weight_all",
    evaluate=_jump,
)

RULES = (IMPOSSIBLE_VALUE, WEIGHT_JUMP)
