"""Plausibility: impossible values go to dead letters, implausible ones are flagged, nothing is clamped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from broker.contract import (
    BloodPressureReading,
    DeviceRef,
    GlucoseReading,
    TimeSource,
    WeightReading,
    reading_id_for,
)
from broker.plausibility import Assessment, assess
from broker.units import GlucoseUnit, MassUnit, PressureUnit

NOW = dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC)
DEVICE = DeviceRef(device_id="SN1", model="test", profile="test")
COMMON: dict[str, Any] = {
    "reading_id": reading_id_for("SN1", "any", "seq=1"),
    "device": DEVICE,
    "measured_at": NOW,
    "received_at": NOW,
    "time_source": TimeSource.HUB_RECEIPT,
}


def bp(sbp: float, dbp: float, **extra: Any) -> BloodPressureReading:
    return BloodPressureReading(
        **(COMMON | extra), systolic_mmhg=sbp, diastolic_mmhg=dbp, device_unit=PressureUnit.MMHG
    )


def glucose(mg_dl: float, **extra: Any) -> GlucoseReading:
    return GlucoseReading(**(COMMON | extra), glucose_mg_dl=mg_dl, device_unit=GlucoseUnit.MG_DL)


def weight(kg: float, **extra: Any) -> WeightReading:
    return WeightReading(**(COMMON | extra), weight_kg=kg, device_unit=MassUnit.KG)


CLEAN = [
    pytest.param(bp(120, 80, pulse_bpm=70, mean_arterial_mmhg=93), id="normal-bp"),
    pytest.param(bp(40, 20), id="sbp-at-lower-limit"),
    pytest.param(bp(300, 150), id="sbp-at-upper-limit"),
    pytest.param(bp(185, 125), id="hypertensive-crisis-is-clinical-not-implausible"),
    pytest.param(bp(120, 80, status=["irregular_pulse", "battery_low"]), id="clinical-status-flags"),
    pytest.param(glucose(45), id="severe-hypoglycaemia-is-clinical"),
    pytest.param(glucose(600), id="glucose-at-meter-maximum"),
    pytest.param(
        glucose(650, status=["result_above_range"]).model_copy(update={"glucose_mg_dl": 599}), id="hi-flag"
    ),
    pytest.param(weight(82.5, bmi=26.9, height_m=1.75), id="weight-with-matching-bmi"),
    pytest.param(weight(400), id="weight-at-limit"),
    pytest.param(bp(120, 80, measured_at=NOW - dt.timedelta(days=30)), id="month-old-stored-record"),
    pytest.param(bp(120, 80, measured_at=NOW + dt.timedelta(seconds=300)), id="clock-5-min-ahead"),
]


@pytest.mark.parametrize("reading", CLEAN)
def test_clean_readings_have_no_findings(reading: BloodPressureReading) -> None:
    assert assess(reading) == Assessment()
    assert assess(reading).is_clean


IMPOSSIBLE = [
    pytest.param(
        bp(301, 80), "systolic_impossible", "systolic 301 mmHg is outside 40-300 mmHg", id="sbp-301"
    ),
    pytest.param(bp(39, 20), "systolic_impossible", "systolic 39 mmHg is outside 40-300 mmHg", id="sbp-39"),
    pytest.param(
        bp(120, 120),
        "diastolic_not_below_systolic",
        "diastolic 120 mmHg is not below systolic 120",
        id="dbp-eq-sbp",
    ),
    pytest.param(
        bp(80, 120), "diastolic_not_below_systolic", "diastolic 120 mmHg", id="dbp-above-sbp-swapped"
    ),
    pytest.param(
        glucose(1000.5),
        "glucose_impossible",
        "glucose 1000.5 mg/dL is outside 0-1000 mg/dL",
        id="glucose-1000.5",
    ),
    pytest.param(
        weight(400.1), "weight_impossible", "weight 400.1 kg is outside 0-400 kg", id="weight-400.1"
    ),
]


@pytest.mark.parametrize(("reading", "code", "reason"), IMPOSSIBLE)
def test_impossible_readings_are_refused_with_reason(
    reading: BloodPressureReading, code: str, reason: str
) -> None:
    result = assess(reading)
    assert result.is_impossible
    assert code in result.quality_flags
    assert any(reason in r for r in result.impossible)


IMPLAUSIBLE = [
    pytest.param(
        bp(120, 80, pulse_bpm=19), "pulse_implausible", "pulse 19 bpm is outside 20-300", id="pulse-19"
    ),
    pytest.param(bp(120, 80, pulse_bpm=301), "pulse_implausible", "pulse 301 bpm", id="pulse-301"),
    pytest.param(
        bp(120, 80, mean_arterial_mmhg=130),
        "mean_arterial_outside_bp",
        "mean arterial 130 mmHg",
        id="map-above-sbp",
    ),
    pytest.param(
        bp(120, 80, mean_arterial_mmhg=70), "mean_arterial_outside_bp", "outside", id="map-below-dbp"
    ),
    pytest.param(glucose(700), "glucose_outside_meter_range", "home-meter range 10-600", id="glucose-700"),
    pytest.param(glucose(5), "glucose_outside_meter_range", "glucose 5 mg/dL", id="glucose-5"),
    pytest.param(
        weight(80, height_m=2.8), "height_implausible", "tallest documented human", id="height-2.8m"
    ),
    pytest.param(
        weight(80, bmi=20.0, height_m=1.75), "bmi_mismatch", "BMI 20 does not match", id="bmi-of-another-user"
    ),
    pytest.param(
        bp(120, 80, measured_at=NOW + dt.timedelta(hours=1)),
        "measured_after_received",
        "3600 s after the hub received it",
        id="measured-an-hour-in-the-future",
    ),
    pytest.param(
        bp(120, 80, measured_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
        "measured_long_before_received",
        "days before the hub received it (device clock reset?)",
        id="clock-reset-to-2000",
    ),
    pytest.param(
        bp(120, 80, status=["body_movement"]), "device_body_movement", "body movement", id="body-movement"
    ),
    pytest.param(
        glucose(110, status=["sample_too_small"]),
        "device_sample_too_small",
        "sample too small",
        id="sample-too-small",
    ),
]


@pytest.mark.parametrize(("reading", "code", "reason"), IMPLAUSIBLE)
def test_implausible_readings_are_flagged_not_refused(
    reading: BloodPressureReading, code: str, reason: str
) -> None:
    result = assess(reading)
    assert not result.is_impossible
    assert result.quality_flags == (code,)
    assert len(result.implausible) == 1
    assert reason in result.implausible[0]


def test_a_bad_pulse_does_not_lose_a_good_blood_pressure() -> None:
    result = assess(bp(145, 92, pulse_bpm=400))
    assert not result.is_impossible
    assert result.quality_flags == ("pulse_implausible",)


def test_findings_accumulate_and_flags_are_sorted() -> None:
    result = assess(bp(350, 360, pulse_bpm=5, status=["cuff_too_loose"]))
    assert result.quality_flags == (
        "device_cuff_too_loose",
        "diastolic_not_below_systolic",
        "pulse_implausible",
        "systolic_impossible",
    )
    assert len(result.impossible) == 2
    assert len(result.implausible) == 2


def test_assess_never_changes_the_reading() -> None:
    reading = bp(350, 80, pulse_bpm=5)
    before = reading.model_dump()
    assess(reading)
    assert reading.model_dump() == before
    assert reading.systolic_mmhg == 350
