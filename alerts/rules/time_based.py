"""Rules checked by the ticker rather than by readings (alert-rules.md, "Any" and "Device" rows), and the
engine's own alerts. Their parameters take overrides like any rule; alerts.checks evaluates them."""

from __future__ import annotations

from pydantic import Field, create_model

from alerts.rules.base import NoParams, RuleParams, RuleSpec


class NoDataParams(RuleParams):
    days: float = Field(3, gt=0, le=30)


NO_DATA = RuleSpec(
    name="no_data",
    summary="no reading for 3 days",
    source='"not transmitting" alerts in RPM platforms',
    priority="low",
    category="adherence",
    params=NoDataParams,
)


class RpmDaysParams(RuleParams):
    """Raise when the current 30-day device period can no longer reach `data_days` data days."""

    data_days: int = Field(ge=1, le=30)


RPM_16_DAYS = RuleSpec(
    name="rpm_16_days_unreachable",
    summary="this 30-day RPM period can no longer reach 16 data days (99454)",
    source="CPT 99454: 16-30 data days per 30-day period",
    priority="low",
    category="adherence",
    params=create_model("Rpm16Params", __base__=RpmDaysParams, data_days=(int, Field(16, ge=1, le=30))),
)
RPM_2_DAYS = RuleSpec(
    name="rpm_2_days_unreachable",
    summary="this 30-day RPM period can no longer reach 2 data days (99445)",
    source="CPT 99445 (2026): 2-15 data days per 30-day period",
    priority="low",
    category="adherence",
    params=create_model("Rpm2Params", __base__=RpmDaysParams, data_days=(int, Field(2, ge=1, le=30))),
)


class HubOfflineParams(RuleParams):
    silent_hours: float = Field(24, gt=0, le=24 * 14)


HUB_OFFLINE = RuleSpec(
    name="hub_offline",
    summary="the patient's home hub is offline or silent for more than 24 h",
    source="operational",
    priority="low",
    category="technical",
    params=HubOfflineParams,
)


class BatteryParams(RuleParams):
    below_percent: float = Field(20, gt=0, le=100)


BATTERY_LOW = RuleSpec(
    name="device_battery_low",
    summary="a device's battery is below 20 %",
    source="operational",
    priority="low",
    category="technical",
    params=BatteryParams,
)

ENGINE_ERROR = RuleSpec(
    name="engine_error",
    summary="an alert rule failed to evaluate: its alerts may be missing until it is fixed",
    source="DESIGN.md: a rule that fails raises a visible alert, it never fails silently",
    priority="high",
    category="engine",
    params=NoParams,
    auto_resolves=False,
)
RULE_CONFIG_ERROR = RuleSpec(
    name="rule_config_error",
    summary="the patient's alert threshold overrides do not validate: defaults are used instead",
    source="DESIGN.md: overrides are validated with clear errors",
    priority="high",
    category="engine",
    params=NoParams,
    auto_resolves=False,
)

CHECKS = (NO_DATA, RPM_16_DAYS, RPM_2_DAYS, HUB_OFFLINE, BATTERY_LOW)
ENGINE = (ENGINE_ERROR, RULE_CONFIG_ERROR)
