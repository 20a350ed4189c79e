"""Blood-pressure rules (alert-rules.md, BP rows). Only cuff readings feed them (selection "bp")."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from alerts.readings import Readings
from alerts.rules.base import Columns, Fired, ReadingRule, RuleParams, as_float, mean_of, take
from alerts.window import Series, column_sum, run_length, upto, window_end_before, window_start


def _bp(r: Readings, s: Series) -> tuple[np.ndarray, np.ndarray]:
    return s.column(r, "systolic"), s.column(r, "diastolic")


def _shown(r: Readings, s: Series, at: np.ndarray) -> dict[str, np.ndarray]:
    pos = s.pos[at]
    return {"systolic_mmhg": r.raw["systolic"][pos], "diastolic_mmhg": r.raw["diastolic"][pos]}


def _trailing(r: Readings, s: Series, width: np.ndarray, names: tuple[str, ...]) -> list[np.ndarray]:
    """Readings in (t - width, t] and the sums of `names` over them; shared when every patient has the same
    width (the 7-day mean rules, high and above target, use the same windows)."""
    lo = window_start(s, width, closed=False)

    def compute() -> list[np.ndarray]:
        return [upto(s) - lo] + [column_sum(s, r, name, lo) for name in names]

    return compute() if width.ndim else s.memo(("trailing", int(width), names), compute)


class AtOrAbove(RuleParams):
    """Fires when systolic >= systolic_mmhg or diastolic >= diastolic_mmhg."""

    systolic_mmhg: float = Field(gt=60, lt=300)
    diastolic_mmhg: float = Field(gt=30, lt=200)


class CrisisParams(AtOrAbove):
    systolic_mmhg: float = Field(180, gt=60, lt=300)
    diastolic_mmhg: float = Field(120, gt=30, lt=200)


class SingleHighParams(AtOrAbove):
    systolic_mmhg: float = Field(160, gt=60, lt=300)
    diastolic_mmhg: float = Field(100, gt=30, lt=200)


def _at_or_above(r: Readings, s: Series, p: Columns) -> Fired:
    sbp, dbp = _bp(r, s)
    excess = np.maximum(sbp - p.q("systolic_mmhg"), dbp - p.q("diastolic_mmhg"))
    fires = excess >= 0
    at = np.flatnonzero(fires)
    return Fired(fires, as_float(sbp[at]), as_float(excess[at]), _shown(r, s, at), at)


BP_CRISIS = ReadingRule(
    name="bp_crisis",
    summary="blood pressure at hypertensive-crisis level (ask for a repeat in ~5 min)",
    source="AHA hypertensive-crisis guidance: SBP >= 180 or DBP >= 120",
    priority="critical",
    category="clinical",
    params=CrisisParams,
    auto_resolves=False,
    select="bp",
    evaluate=_at_or_above,
    group="bp_single_high",
)
BP_SINGLE_HIGH = ReadingRule(
    name="bp_single_high",
    summary="a single blood pressure reading at or above the high threshold",
    source="BEAT-HF (> 160); telemonitoring platforms (red > 150/100): SBP >= 160 or DBP >= 100",
    priority="high",
    category="clinical",
    params=SingleHighParams,
    auto_resolves=False,
    select="bp",
    evaluate=_at_or_above,
    group="bp_single_high",
)


class HypotensionParams(RuleParams):
    systolic_below_mmhg: float = Field(90, gt=40, lt=140)


def _hypotension(r: Readings, s: Series, p: Columns) -> Fired:
    sbp, _ = _bp(r, s)
    deficit = p.q("systolic_below_mmhg") - sbp
    fires = deficit > 0
    at = np.flatnonzero(fires)
    return Fired(fires, as_float(sbp[at]), as_float(deficit[at]), _shown(r, s, at), at)


BP_HYPOTENSION = ReadingRule(
    name="bp_hypotension",
    summary="systolic blood pressure below the hypotension threshold",
    source="orthostatic hypotension definition; BEAT-HF urgent alerts: SBP < 90",
    priority="critical",
    category="clinical",
    params=HypotensionParams,
    auto_resolves=False,
    select="bp",
    evaluate=_hypotension,
)


class ConsecutiveParams(RuleParams):
    systolic_mmhg: float = Field(140, gt=60, lt=300)
    diastolic_mmhg: float = Field(90, gt=30, lt=200)
    readings: int = Field(3, ge=2, le=10)


def _consecutive(r: Readings, s: Series, p: Columns) -> Fired:
    sbp, dbp = _bp(r, s)
    elevated = (sbp >= p.q("systolic_mmhg")) | (dbp >= p.q("diastolic_mmhg"))
    run = run_length(elevated, s)
    fires = run >= p.int("readings")
    at = np.flatnonzero(fires)
    in_a_row = run[at].astype(np.float64)
    return Fired(fires, as_float(sbp[at]), in_a_row, _shown(r, s, at) | {"in_a_row": in_a_row}, at)


BP_CONSECUTIVE = ReadingRule(
    name="bp_consecutive_elevated",
    summary="several blood pressure readings in a row at or above 140/90",
    source="Lee et al., JAMA Netw Open 2022: alert after >= 3 elevated readings",
    priority="high",
    category="clinical",
    params=ConsecutiveParams,
    select="bp",
    evaluate=_consecutive,
)


class MeanParams(RuleParams):
    """The mean over the last `window_days` (readings in (t - window, t]) needs `min_readings` readings."""

    systolic_mmhg: float = Field(gt=60, lt=300)
    diastolic_mmhg: float = Field(gt=30, lt=200)
    window_days: float = Field(7, gt=0, le=7)
    min_readings: int = Field(6, ge=1, le=100)


class MeanHighParams(MeanParams):
    systolic_mmhg: float = Field(135, gt=60, lt=300)
    diastolic_mmhg: float = Field(85, gt=30, lt=200)


class MeanTargetParams(MeanParams):
    systolic_mmhg: float = Field(130, gt=60, lt=300)
    diastolic_mmhg: float = Field(80, gt=30, lt=200)


def _mean_at_or_above(r: Readings, s: Series, p: Columns) -> Fired:
    n, sum_s, sum_d = _trailing(r, s, p.days_ms("window_days"), ("systolic", "diastolic"))
    # mean >= threshold  <=>  sum >= threshold * n  (exact in fixed point)
    limit_s, limit_d = p.q("systolic_mmhg"), p.q("diastolic_mmhg")
    fires = (n >= p.int("min_readings")) & ((sum_s >= limit_s * n) | (sum_d >= limit_d * n))
    at = np.flatnonzero(fires)
    n, sum_s, sum_d = n[at], sum_s[at], sum_d[at]
    excess_s = sum_s - take(limit_s, at) * n
    excess_d = sum_d - take(limit_d, at) * n
    mean_s, mean_d = mean_of(sum_s, n), mean_of(sum_d, n)
    severity = np.maximum(excess_s, excess_d) / np.maximum(n, 1)
    details = {"mean_systolic_mmhg": mean_s, "mean_diastolic_mmhg": mean_d, "readings": n.astype(np.float64)}
    return Fired(fires, mean_s, severity.astype(np.float64), details, at)


BP_MEAN_HIGH = ReadingRule(
    name="bp_mean_7d_high",
    summary="7-day mean of home blood pressure at or above 135/85 (at least 6 readings)",
    source="2025 AHA/ACC guideline, office-to-home table (home 135/85 = office 140/90)",
    priority="high",
    category="clinical",
    params=MeanHighParams,
    select="bp",
    evaluate=_mean_at_or_above,
    group="bp_mean",
)
BP_MEAN_TARGET = ReadingRule(
    name="bp_mean_7d_above_target",
    summary="7-day mean of home blood pressure at or above the 130/80 goal (at least 6 readings)",
    source="2025 AHA/ACC goal < 130/80",
    priority="low",
    category="clinical",
    params=MeanTargetParams,
    select="bp",
    evaluate=_mean_at_or_above,
    group="bp_mean",
)


class RiseParams(RuleParams):
    """Mean systolic of (t - window, t] minus that of (t - 2 window, t - window], each with min_readings."""

    rise_mmhg: float = Field(15, gt=0, lt=100)
    window_days: float = Field(7, gt=0, le=7)
    min_readings: int = Field(6, ge=1, le=100)


def _mean_rise(r: Readings, s: Series, p: Columns) -> Fired:
    width = p.days_ms("window_days")
    n, now_sum = _trailing(r, s, width, ("systolic",))
    prev_lo = window_start(s, 2 * width, closed=False)
    prev_hi = window_end_before(s, width)
    n_prev = prev_hi - prev_lo
    prev_sum = column_sum(s, r, "systolic", prev_lo, prev_hi)
    # mean_now - mean_prev >= rise  <=>  now_sum * n_prev - prev_sum * n >= rise * n * n_prev
    lhs = now_sum * n_prev - prev_sum * n
    need = p.int("min_readings")
    fires = (n >= need) & (n_prev >= need) & (lhs >= p.q("rise_mmhg") * n * n_prev)
    at = np.flatnonzero(fires)
    n, n_prev, now_sum, prev_sum = n[at], n_prev[at], now_sum[at], prev_sum[at]
    rise = mean_of(now_sum, n) - mean_of(prev_sum, n_prev)
    details = {
        "mean_systolic_mmhg": mean_of(now_sum, n),
        "previous_mean_systolic_mmhg": mean_of(prev_sum, n_prev),
        "readings": n.astype(np.float64),
        "previous_readings": n_prev.astype(np.float64),
    }
    return Fired(fires, rise, np.nan_to_num(rise), details, at)


BP_MEAN_RISE = ReadingRule(
    name="bp_mean_rise",
    summary="7-day mean systolic rose by 15 mmHg or more against the 7 days before",
    source="vendor trend rules",
    priority="low",
    category="clinical",
    params=RiseParams,
    select="bp",
    evaluate=_mean_rise,
)


class PulseParams(RuleParams):
    below_bpm: float = Field(50, gt=20, lt=100)
    above_bpm: float = Field(120, gt=60, lt=250)

    @model_validator(mode="after")
    def _ordered(self) -> PulseParams:
        if self.below_bpm >= self.above_bpm:
            raise ValueError(
                f"below_bpm ({self.below_bpm:g}) must be lower than above_bpm ({self.above_bpm:g})"
            )
        return self


def _pulse(r: Readings, s: Series, p: Columns) -> Fired:
    pulse = s.column(r, "pulse")
    outside = np.maximum(p.q("below_bpm") - pulse, pulse - p.q("above_bpm"))
    fires = outside > 0
    at = np.flatnonzero(fires)
    shown = {"pulse_bpm": r.raw["pulse"][s.pos[at]]}
    return Fired(fires, as_float(pulse[at]), as_float(outside[at]), shown, at)


PULSE_RANGE = ReadingRule(
    name="pulse_out_of_range",
    summary="pulse (from the cuff) below 50 or above 120 bpm",
    source="platform convention; BEAT-HF used < 40 / > 110 without symptoms",
    priority="high",
    category="clinical",
    params=PulseParams,
    auto_resolves=False,
    select="pulse",
    evaluate=_pulse,
)

RULES = (
    BP_CRISIS,
    BP_SINGLE_HIGH,
    BP_HYPOTENSION,
    BP_CONSECUTIVE,
    BP_MEAN_HIGH,
    BP_MEAN_TARGET,
    BP_MEAN_RISE,
    PULSE_RANGE,
)
