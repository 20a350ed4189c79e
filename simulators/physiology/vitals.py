"""Physiologic levels as pure functions of time and a patient's baseline; the random parts (day-to-day
variation, measurement noise) come in as arguments, so each function is easy to check by hand."""

from __future__ import annotations

import math
from typing import Final

from simulators.physiology.model import Baseline

# --- blood pressure --------------------------------------------------------------------------------------
CIRCADIAN_AMPLITUDE_MMHG: Final = (5.0, 3.0)
"""Half the morning-to-evening swing of home SBP/DBP. Treated hypertensives' morning home readings run about
5-10 mmHg systolic above their evening ones (the morning surge; home-monitoring cohorts such as J-HOME)."""
CIRCADIAN_PEAK_HOUR: Final = 8.0
"""Awake BP peaks in the hours after waking (the morning surge) and is lowest late in the evening."""
DAY_TO_DAY_SD_MMHG: Final = (5.0, 3.5)
"""Day-to-day variability of the daily home BP level: SDs of about 5-8 mmHg systolic are typical."""
READING_NOISE_SD_MMHG: Final = (4.0, 3.0)
"""Spread between readings taken a minute apart (observer-free oscillometric repeatability)."""
FIRST_READING_EXCESS_MMHG: Final = 2.0
"""The first reading of a pair is higher on average; the reason AAFP's home protocol takes two."""
PULSE_NOISE_SD_BPM: Final = 4.0


def circadian_bp_offset(local_hour: float) -> tuple[float, float]:
    """SBP/DBP above the day's mean at `local_hour` (0-24): highest in the morning, lowest in the evening."""
    phase = math.cos(2 * math.pi * (local_hour - CIRCADIAN_PEAK_HOUR) / 24.0)
    return CIRCADIAN_AMPLITUDE_MMHG[0] * phase, CIRCADIAN_AMPLITUDE_MMHG[1] * phase


def blood_pressure(
    baseline: Baseline,
    local_hour: float,
    day_level: tuple[float, float],
    noise: tuple[float, float, float],
    *,
    first_of_pair: bool,
) -> tuple[float, float, float]:
    """(SBP, DBP, pulse), rounded as a cuff displays them. `day_level` is the day's deviation from the
    baseline (mmHg), `noise` the reading's own (SBP, DBP mmHg, pulse bpm)."""
    circ_s, circ_d = circadian_bp_offset(local_hour)
    excess = FIRST_READING_EXCESS_MMHG if first_of_pair else 0.0
    sbp = baseline.systolic_mmhg + circ_s + day_level[0] + noise[0] + excess
    dbp = baseline.diastolic_mmhg + circ_d + day_level[1] + noise[1] + excess / 2
    pulse = baseline.pulse_bpm + noise[2]
    dbp = min(dbp, sbp - 20.0)  # pulse pressure below 20 mmHg is not a living person's cuff reading
    return float(round(sbp)), float(round(dbp)), float(round(pulse))


# --- glucose ---------------------------------------------------------------------------------------------
MEAL_PEAK_MINUTES: Final = 60.0
"""Capillary glucose peaks about an hour after the start of a meal and is back near fasting by about 3 h in
type 2 diabetes treated to target (ADA: check 1-2 h after the start of the meal)."""
POSTPRANDIAL_CHECK_MINUTES: Final = 120.0
DAY_TO_DAY_FASTING_SD_MG_DL: Final = 12.0
METER_NOISE_CV: Final = 0.05
"""ISO 15197:2013 lets 95 % of meter results lie within +/-15 % (>= 100 mg/dL); a 5 % SD stays inside."""


def meal_response(minutes_since_meal: float, rise_mg_dl: float) -> float:
    """Glucose above fasting `minutes_since_meal` after a meal began: a gamma-shaped bump that peaks at
    MEAL_PEAK_MINUTES with height `rise_mg_dl` (0 before the meal)."""
    if minutes_since_meal <= 0:
        return 0.0
    x = minutes_since_meal / MEAL_PEAK_MINUTES
    return rise_mg_dl * x * math.exp(1.0 - x)


def glucose(
    fasting_mg_dl: float, minutes_since_meals: tuple[float, ...], rise_mg_dl: float, noise_factor: float
) -> float:
    """The meter's result (whole mg/dL): fasting level plus every meal's response, times the meter's error
    (`noise_factor` around 1)."""
    level = fasting_mg_dl + sum(meal_response(m, rise_mg_dl) for m in minutes_since_meals)
    return float(round(level * noise_factor))


# --- weight ----------------------------------------------------------------------------------------------
DAILY_WEIGHT_SD_KG: Final = 0.3
"""Morning-to-morning fluctuation of body weight (water, food, stool): a few tenths of a kilogram."""


def weight(baseline: Baseline, day_index: int, noise_kg: float) -> float:
    """Morning weight on day `day_index` (0 = first simulated day), to the scale's 0.1 kg."""
    return round(baseline.weight_kg + baseline.weight_drift_kg_per_day * day_index + noise_kg, 1)
