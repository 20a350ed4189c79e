"""Glucose rules (alert-rules.md, glucose rows): ADA hypoglycaemia levels, very high values, repeats, and the
7-day mean of fasting readings."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from alerts.readings import Readings
from alerts.rules.base import DIABETES, Columns, Fired, ReadingRule, RuleParams, as_float, mean_of, take
from alerts.window import Series, column_sum, upto, window_start, window_sum


def _glucose(r: Readings, s: Series) -> np.ndarray:
    return s.column(r, "glucose")


def _shown(r: Readings, s: Series, at: np.ndarray) -> dict[str, np.ndarray]:
    return {"glucose_mg_dl": r.raw["glucose"][s.pos[at]]}


class Level2Params(RuleParams):
    below_mg_dl: float = Field(54, gt=10, lt=100)


class Level1Params(RuleParams):
    below_mg_dl: float = Field(70, gt=10, lt=120)


def _below(r: Readings, s: Series, p: Columns) -> Fired:
    g = _glucose(r, s)
    deficit = p.q("below_mg_dl") - g
    fires = deficit > 0
    at = np.flatnonzero(fires)
    return Fired(fires, as_float(g[at]), as_float(deficit[at]), _shown(r, s, at), at)


GLUCOSE_LEVEL2 = ReadingRule(
    name="glucose_hypo_level2",
    summary="level 2 hypoglycaemia: glucose below 54 mg/dL",
    source="ADA Standards of Care, level 2 hypoglycemia (< 54 mg/dL)",
    priority="critical",
    category="clinical",
    params=Level2Params,
    auto_resolves=False,
    select="glucose",
    evaluate=_below,
    group="glucose_low",
)
GLUCOSE_LEVEL1 = ReadingRule(
    name="glucose_hypo_level1",
    summary="level 1 hypoglycaemia: glucose 54-69 mg/dL",
    source="ADA Standards of Care, level 1 hypoglycemia (54-69 mg/dL)",
    priority="high",
    category="clinical",
    params=Level1Params,
    auto_resolves=False,
    select="glucose",
    evaluate=_below,
    group="glucose_low",
)


class VeryHighParams(RuleParams):
    above_mg_dl: float = Field(400, gt=150, lt=1000)


class HighParams(RuleParams):
    above_mg_dl: float = Field(300, gt=150, lt=1000)


def _above(r: Readings, s: Series, p: Columns) -> Fired:
    g = _glucose(r, s)
    excess = g - p.q("above_mg_dl")
    fires = excess > 0
    at = np.flatnonzero(fires)
    return Fired(fires, as_float(g[at]), as_float(excess[at]), _shown(r, s, at), at)


GLUCOSE_VERY_HIGH = ReadingRule(
    name="glucose_very_high",
    summary="glucose above 400 mg/dL",
    source="ADA sick-day guidance; product choice",
    priority="critical",
    category="clinical",
    params=VeryHighParams,
    auto_resolves=False,
    select="glucose",
    evaluate=_above,
    group="glucose_high",
)
GLUCOSE_HIGH = ReadingRule(
    name="glucose_high",
    summary="glucose above 300 mg/dL",
    source="ADA sick-day guidance; product choice",
    priority="high",
    category="clinical",
    params=HighParams,
    applies_to=DIABETES,
    auto_resolves=False,
    select="glucose",
    evaluate=_above,
    group="glucose_high",
)


class RepeatParams(RuleParams):
    """`readings` readings above `above_mg_dl` within `within_hours` (the latest being one of them)."""

    above_mg_dl: float = Field(250, gt=150, lt=1000)
    readings: int = Field(2, ge=2, le=10)
    within_hours: float = Field(24, gt=0, le=72)


def _repeat(r: Readings, s: Series, p: Columns) -> Fired:
    g = _glucose(r, s)
    high = g > p.q("above_mg_dl")
    lo = window_start(s, p.hours_ms("within_hours"), closed=True)
    count = window_sum(high, lo)
    fires = high & (count >= p.int("readings"))
    at = np.flatnonzero(fires)
    shown = _shown(r, s, at) | {"high_readings": count[at].astype(np.float64)}
    return Fired(fires, as_float(g[at]), as_float(g[at]), shown, at)


GLUCOSE_REPEAT_HIGH = ReadingRule(
    name="glucose_repeat_high",
    summary="two glucose readings above 250 mg/dL within 24 h (check ketones)",
    source="ADA sick-day guidance (ketones when two readings > 250 mg/dL)",
    priority="high",
    category="clinical",
    params=RepeatParams,
    applies_to=DIABETES,
    select="glucose",
    evaluate=_repeat,
)


class FastingMeanParams(RuleParams):
    """The mean of fasting/preprandial readings in (t - window, t]. ADA sets no minimum count; four in a week
    (most mornings) is the fewest that makes the mean more than one or two unusual mornings."""

    above_mg_dl: float = Field(130, gt=70, lt=400)
    window_days: float = Field(7, gt=0, le=14)
    min_readings: int = Field(4, ge=1, le=100)


def _fasting_mean(r: Readings, s: Series, p: Columns) -> Fired:
    lo = window_start(s, p.days_ms("window_days"), closed=False)
    n = upto(s) - lo
    total = column_sum(s, r, "glucose", lo)
    limit = p.q("above_mg_dl")
    fires = (n >= p.int("min_readings")) & (total > limit * n)
    at = np.flatnonzero(fires)
    n, total = n[at], total[at]
    excess = total - take(limit, at) * n
    mean = mean_of(total, n)
    details = {"mean_glucose_mg_dl": mean, "readings": n.astype(np.float64)}
    return Fired(fires, mean, (excess / np.maximum(n, 1)).astype(np.float64), details, at)


GLUCOSE_FASTING_MEAN = ReadingRule(
    name="glucose_fasting_mean_high",
    summary="7-day mean of fasting (preprandial) glucose above 130 mg/dL",
    source="ADA preprandial target 80-130 mg/dL",
    priority="low",
    category="clinical",
    params=FastingMeanParams,
    applies_to=DIABETES,
    select="glucose_fasting",
    evaluate=_fasting_mean,
)

RULES = (
    GLUCOSE_LEVEL2,
    GLUCOSE_LEVEL1,
    GLUCOSE_VERY_HIGH,
    GLUCOSE_HIGH,
    GLUCOSE_REPEAT_HIGH,
    GLUCOSE_FASTING_MEAN,
)
