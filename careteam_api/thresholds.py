"""The limits drawn on a patient's charts: alert-rules.md defaults, overridden by the care plan.

Care plans store overrides in the alert engine's shape, {"<rule>": {"<parameter>": value, "enabled": bool}},
so the chart shows the limits the engine applies. Only single-reading limits are drawn: trend rules (7-day
means, deltas) have no line on a chart of values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Bound = Literal["upper", "lower"]
Priority = Literal["critical", "high", "low"]


@dataclass(frozen=True)
class Limit:
    rule: str
    parameter: str
    metric: str
    bound: Bound
    value: float
    priority: Priority
    source: Literal["default", "care_plan"] = "default"


# (rule, parameter, metric, bound, default, priority); defaults and sources in domain/alert-rules.md.
DEFAULT_LIMITS: tuple[tuple[str, str, str, Bound, float, Priority], ...] = (
    ("bp_crisis", "systolic_mmhg", "systolic_mmhg", "upper", 180, "critical"),  # AHA hypertensive crisis
    ("bp_crisis", "diastolic_mmhg", "diastolic_mmhg", "upper", 120, "critical"),
    ("bp_single_high", "systolic_mmhg", "systolic_mmhg", "upper", 160, "high"),  # BEAT-HF
    ("bp_single_high", "diastolic_mmhg", "diastolic_mmhg", "upper", 100, "high"),
    ("bp_hypotension", "systolic_below_mmhg", "systolic_mmhg", "lower", 90, "critical"),
    ("pulse_out_of_range", "below_bpm", "pulse_bpm", "lower", 50, "high"),
    ("pulse_out_of_range", "above_bpm", "pulse_bpm", "upper", 120, "high"),
    ("glucose_hypo_level2", "below_mg_dl", "glucose_mg_dl", "lower", 54, "critical"),  # ADA level 2
    ("glucose_hypo_level1", "below_mg_dl", "glucose_mg_dl", "lower", 70, "high"),  # ADA level 1
    ("glucose_very_high", "above_mg_dl", "glucose_mg_dl", "upper", 400, "critical"),
    ("glucose_high", "above_mg_dl", "glucose_mg_dl", "upper", 300, "high"),
)


def limits_for(care_plan_thresholds: dict[str, Any] | None) -> list[Limit]:
    """The limits in force: a care-plan value replaces the default, `enabled: false` removes the rule."""
    overrides = care_plan_thresholds or {}
    out: list[Limit] = []
    for rule, parameter, metric, bound, default, priority in DEFAULT_LIMITS:
        override = overrides.get(rule)
        override = override if isinstance(override, dict) else {}
        if override.get("enabled") is False:
            continue
        value = override.get(parameter)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(Limit(rule, parameter, metric, bound, float(value), priority, "care_plan"))
        else:
            out.append(Limit(rule, parameter, metric, bound, float(default), priority))
    return out
