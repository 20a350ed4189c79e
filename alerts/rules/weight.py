"""Heart-failure weight-gain rules (alert-rules.md, weight rows) and the daily-jump data-quality check.

Like with like: a gain over D days compares today's weight with the lowest weight taken D days earlier
within +/- WEIGHT_SLACK (about the same time of day), so a morning weight is never set against last night's
after-dinner weight. A reading that jumped more than 5 kg within a day is data quality, not fluid: it fires no
weight-gain rule and is no baseline for one.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, create_model

from alerts.readings import MS_PER_DAY, MS_PER_HOUR, Readings, quantize_scalar
from alerts.rules.base import HEART_FAILURE, Columns, Fired, ReadingRule, RuleParams, as_float
from alerts.window import Series, window_end_before, window_extreme, window_start
from broker.plausibility import WEIGHT_DAILY_JUMP_IMPLAUSIBLE_KG

WEIGHT_SLACK_MS = 6 * MS_PER_HOUR
"""Morning weights drift by an hour or two day to day; 6 h keeps yesterday morning's weight as the baseline
for this morning's without reaching last night's."""
JUMP_WINDOW_MS = MS_PER_DAY
"""alert-rules.md: a jump of more than 5 kg *in a day*."""
_FAR = np.iinfo(np.int64).max // 4
"""Window min/max sentinel: no reading, far beyond any weight in fixed point."""


def weight_jumps(r: Readings, s: Series) -> np.ndarray:
    """True where the weight differs by more than 5 kg from any weight of the previous 24 h (computed once
    per series: the jump rule and the selection of the weight-gain rules both need it)."""

    def compute() -> np.ndarray:
        w = s.column(r, "weight")
        lo = window_start(s, JUMP_WINDOW_MS, closed=True)
        hi = np.arange(len(s))
        highest = window_extreme(w, lo, hi, np.maximum, -_FAR)
        lowest = window_extreme(w, lo, hi, np.minimum, _FAR)
        limit = quantize_scalar(WEIGHT_DAILY_JUMP_IMPLAUSIBLE_KG)
        return (hi > lo) & ((highest - w > limit) | (w - lowest > limit))

    return s.memo("weight_jumps", compute)


class GainParams(RuleParams):
    gain_kg: float = Field(gt=0, lt=20)


def _gain_rule(
    name: str, days: int, default_kg: float, strict: bool, summary: str, source: str
) -> ReadingRule:
    params = create_model(
        f"Gain{days}dParams", __base__=GainParams, gain_kg=(float, Field(default_kg, gt=0, lt=20))
    )
    width = days * MS_PER_DAY

    def evaluate(r: Readings, s: Series, p: Columns) -> Fired:
        w = s.column(r, "weight")
        lo = window_start(s, width + WEIGHT_SLACK_MS, closed=True)
        hi = window_end_before(s, width - WEIGHT_SLACK_MS)
        baseline = window_extreme(w, lo, hi, np.minimum, _FAR)
        gain = w - baseline
        threshold = p.q("gain_kg")
        over = gain > threshold if strict else gain >= threshold
        fires = (hi > lo) & over
        at = np.flatnonzero(fires)  # every one has a baseline (hi > lo)
        shown_gain = as_float(gain[at])
        details = {"weight_kg": r.raw["weight"][s.pos[at]], "baseline_kg": as_float(baseline[at])}
        return Fired(fires, shown_gain, np.nan_to_num(shown_gain), details, at)

    return ReadingRule(
        name=name,
        summary=summary,
        source=source,
        priority="high",
        category="clinical",
        params=params,
        applies_to=HEART_FAILURE,
        select="weight",
        evaluate=evaluate,
    )


WEIGHT_GAIN_1D = _gain_rule(
    "weight_gain_1d",
    1,
    1.4,
    False,
    "weight gain of 1.4 kg (3 lb) or more against the previous day",
    "Allina; MedStar patient instructions (0.9 kg / 2 lb as the conservative option)",
)
WEIGHT_GAIN_3D = _gain_rule(
    "weight_gain_3d", 3, 2.0, True, "weight gain of more than 2 kg over 3 days", "ESC / Heart Failure Matters"
)
WEIGHT_GAIN_7D = _gain_rule(
    "weight_gain_7d",
    7,
    2.3,
    False,
    "weight gain of 2.3 kg (5 lb) or more over 7 days",
    "Allina; heart-failure clinics",
)

RULES = (WEIGHT_GAIN_1D, WEIGHT_GAIN_3D, WEIGHT_GAIN_7D)
