"""Physiological plausibility of a single reading: flag, count, never clamp.

Two severities. *Impossible* values cannot be a measurement of a living patient (or contradict themselves):
the reading is kept in the dead-letter table with the reason and never reaches clinical rules.
*Implausible* values may be real but more often come from a bad measurement, another person, or a wrong
clock: the reading is stored with data-quality flags and the rules decide what to do with them.
Only a reading's primary values can make it impossible; a doubtful secondary value (pulse, MAP, BMI,
height) only flags it, so a good blood pressure is not lost to a bad pulse.

Limits are in canonical units and cite their source; `domain/alert-rules.md` is the project's summary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from broker.contract.readings import (
    BaseReading,
    BloodPressureReading,
    GlucoseReading,
    StatusFlag,
    WeightReading,
)

# alert-rules.md, "physiologically impossible values": SBP > 300 or < 40 mmHg, DBP >= SBP.
SYSTOLIC_MIN_POSSIBLE_MMHG = 40.0
SYSTOLIC_MAX_POSSIBLE_MMHG = 300.0

# Mean arterial pressure is the time average of the arterial pressure wave, which swings between diastolic
# and systolic, so by definition DBP <= MAP <= SBP. Outside it, one of the three values is wrong.

# Pulse: bradycardia below 20/min or tachycardia above 300/min is at the edge of what a beating heart does
# (ventricular rates near 300/min occur only in rare pre-excited arrhythmias), and home cuffs measure pulse in
# a narrower band (about 40-180/min in common cuff specifications). A value outside 20..300 is kept, flagged.
PULSE_MIN_PLAUSIBLE_BPM = 20.0
PULSE_MAX_PLAUSIBLE_BPM = 300.0

# alert-rules.md: glucose > 1000 mg/dL or <= 0 is impossible.
GLUCOSE_MAX_POSSIBLE_MG_DL = 1000.0
# Home glucometers show "LO"/"HI" outside their measuring range, at most 10-600 mg/dL across common meters
# (their spec sheets: 10-600 or 20-600 mg/dL). A number outside it is no valid meter measurement.
GLUCOSE_MIN_MEASURABLE_MG_DL = 10.0
GLUCOSE_MAX_MEASURABLE_MG_DL = 600.0

# alert-rules.md: weight <= 0 or > 400 kg is impossible.
WEIGHT_MAX_POSSIBLE_KG = 400.0
# alert-rules.md: a jump of more than 5 kg in a day is more often another person or a unit error than fluid.
# It needs the previous weight, so it is applied where history is; the limit is defined here once.
WEIGHT_DAILY_JUMP_IMPLAUSIBLE_KG = 5.0
# The tallest documented human measured 2.72 m (Robert Wadlow, 1940).
HEIGHT_MAX_PLAUSIBLE_M = 2.72
# The scale reports BMI at 0.1 kg/m2 and height at 1 mm (WSS 0x2A9D), so weight / height^2 agrees with its BMI
# to about 0.1; beyond 0.5 the BMI was computed for another user profile or another height.
BMI_TOLERANCE = 0.5

# Time: a reading cannot be taken after the hub received it. 300 s allows for the error of the hub's clock
# offset estimate (taken over a BLE round trip of seconds) and for the hub's own NTP steps.
MAX_MEASURED_AFTER_RECEIVED = dt.timedelta(seconds=300)
# Device clocks reset to a factory date when batteries change (domain/ble-gatt.md), typically years back;
# a record more than a year old is far outside any 30-day RPM period and is almost always such a clock.
MAX_READING_AGE = dt.timedelta(days=365)

DEVICE_QUALITY_FLAGS = frozenset(
    {
        StatusFlag.BODY_MOVEMENT,
        StatusFlag.CUFF_TOO_LOOSE,
        StatusFlag.IMPROPER_POSITION,
        StatusFlag.PULSE_ABOVE_RANGE,
        StatusFlag.PULSE_BELOW_RANGE,
        StatusFlag.SENSOR_MALFUNCTION,
        StatusFlag.SAMPLE_TOO_SMALL,
        StatusFlag.STRIP_INSERTION_ERROR,
        StatusFlag.WRONG_STRIP_TYPE,
        StatusFlag.TEMPERATURE_TOO_HIGH,
        StatusFlag.TEMPERATURE_TOO_LOW,
        StatusFlag.READ_INTERRUPTED,
        StatusFlag.GENERAL_FAULT,
        StatusFlag.TIME_FAULT,
    }
)
"""Status bits by which the device itself says the measurement (or its time) may be wrong. Not included:
irregular_pulse (a clinical finding), battery_low, result_above_range/result_below_range (the true value lies
beyond the reported one, which is clinically meaningful rather than doubtful)."""


@dataclass(frozen=True)
class Assessment:
    """The verdict on one reading.

    `impossible` and `implausible` hold human-readable reasons; `quality_flags` holds the stable codes of
    all findings (sorted), which is what code and the database branch on.
    """

    impossible: tuple[str, ...] = ()
    implausible: tuple[str, ...] = ()
    quality_flags: tuple[str, ...] = ()

    @property
    def is_impossible(self) -> bool:
        """True when the reading must go to dead letters instead of the readings table."""
        return bool(self.impossible)

    @property
    def is_clean(self) -> bool:
        """True when nothing at all was found."""
        return not self.impossible and not self.implausible


class _Findings:
    """Collects findings while the checks run; turned into an immutable `Assessment` at the end."""

    def __init__(self) -> None:
        self.impossible: list[str] = []
        self.implausible: list[str] = []
        self.codes: set[str] = set()

    def add_impossible(self, code: str, reason: str) -> None:
        self.impossible.append(reason)
        self.codes.add(code)

    def add_implausible(self, code: str, reason: str) -> None:
        self.implausible.append(reason)
        self.codes.add(code)

    def result(self) -> Assessment:
        return Assessment(tuple(self.impossible), tuple(self.implausible), tuple(sorted(self.codes)))


def _blood_pressure(r: BloodPressureReading, f: _Findings) -> None:
    sbp, dbp, mean, pulse = r.systolic_mmhg, r.diastolic_mmhg, r.mean_arterial_mmhg, r.pulse_bpm
    if not SYSTOLIC_MIN_POSSIBLE_MMHG <= sbp <= SYSTOLIC_MAX_POSSIBLE_MMHG:
        limits = f"{SYSTOLIC_MIN_POSSIBLE_MMHG:g}-{SYSTOLIC_MAX_POSSIBLE_MMHG:g}"
        f.add_impossible("systolic_impossible", f"systolic {sbp:g} mmHg is outside {limits} mmHg")
    if dbp >= sbp:
        f.add_impossible(
            "diastolic_not_below_systolic", f"diastolic {dbp:g} mmHg is not below systolic {sbp:g}"
        )
    elif mean is not None and not dbp <= mean <= sbp:
        f.add_implausible(
            "mean_arterial_outside_bp",
            f"mean arterial {mean:g} mmHg is outside diastolic-systolic {dbp:g}-{sbp:g}",
        )
    if pulse is not None and not PULSE_MIN_PLAUSIBLE_BPM <= pulse <= PULSE_MAX_PLAUSIBLE_BPM:
        limits = f"{PULSE_MIN_PLAUSIBLE_BPM:g}-{PULSE_MAX_PLAUSIBLE_BPM:g}"
        f.add_implausible("pulse_implausible", f"pulse {pulse:g} bpm is outside {limits} bpm")


def _glucose(r: GlucoseReading, f: _Findings) -> None:
    g = r.glucose_mg_dl
    if not 0 < g <= GLUCOSE_MAX_POSSIBLE_MG_DL:
        f.add_impossible(
            "glucose_impossible", f"glucose {g:g} mg/dL is outside 0-{GLUCOSE_MAX_POSSIBLE_MG_DL:g} mg/dL"
        )
    elif not GLUCOSE_MIN_MEASURABLE_MG_DL <= g <= GLUCOSE_MAX_MEASURABLE_MG_DL:
        limits = f"{GLUCOSE_MIN_MEASURABLE_MG_DL:g}-{GLUCOSE_MAX_MEASURABLE_MG_DL:g}"
        f.add_implausible(
            "glucose_outside_meter_range",
            f"glucose {g:g} mg/dL is outside the home-meter range {limits} mg/dL",
        )


def _weight(r: WeightReading, f: _Findings) -> None:
    w, h, bmi = r.weight_kg, r.height_m, r.bmi
    if not 0 < w <= WEIGHT_MAX_POSSIBLE_KG:
        f.add_impossible("weight_impossible", f"weight {w:g} kg is outside 0-{WEIGHT_MAX_POSSIBLE_KG:g} kg")
    if h is not None and h > HEIGHT_MAX_PLAUSIBLE_M:
        f.add_implausible(
            "height_implausible",
            f"height {h:g} m is above the tallest documented human ({HEIGHT_MAX_PLAUSIBLE_M:g} m)",
        )
    if bmi is not None and h is not None and h > 0 and abs(bmi - w / (h * h)) > BMI_TOLERANCE:
        f.add_implausible(
            "bmi_mismatch",
            f"BMI {bmi:g} does not match weight {w:g} kg and height {h:g} m (expected {w / (h * h):.1f})",
        )


def _time(r: BaseReading, f: _Findings) -> None:
    ahead = r.measured_at - r.received_at
    if ahead > MAX_MEASURED_AFTER_RECEIVED:
        f.add_implausible(
            "measured_after_received",
            f"measured_at is {ahead.total_seconds():.0f} s after the hub received it (device clock ahead?)",
        )
    if -ahead > MAX_READING_AGE:
        f.add_implausible(
            "measured_long_before_received",
            f"measured_at is {(-ahead).days} days before the hub received it (device clock reset?)",
        )


def _status(r: BaseReading, f: _Findings) -> None:
    for flag in r.status:
        if flag in DEVICE_QUALITY_FLAGS:
            f.add_implausible(f"device_{flag}", f"the device reported {flag.replace('_', ' ')}")


def assess(reading: BaseReading) -> Assessment:
    """Judge one reading against the limits above. Pure: the reading is never changed."""
    findings = _Findings()
    if isinstance(reading, BloodPressureReading):
        _blood_pressure(reading, findings)
    elif isinstance(reading, GlucoseReading):
        _glucose(reading, findings)
    elif isinstance(reading, WeightReading):
        _weight(reading, findings)
    _time(reading, findings)
    _status(reading, findings)
    return findings.result()
