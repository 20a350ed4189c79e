"""Clock offset estimation and time correction (pure, no radio)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.contract.readings import TimeSource
from gateway.ble.clock import (
    CLOCK_JUMP_S,
    ClockOffsetEstimator,
    LocalTime,
    OffsetMethod,
    correct_time,
    observed_offset,
)

NEW_YORK = LocalTime(ZoneInfo("America/New_York"))
HUB_NOW = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)


def test_device_local_time_is_read_in_the_hubs_zone() -> None:
    device_now = datetime(2026, 1, 5, 8, 7)  # 08:07 in New York (UTC-5) = 13:07 UTC
    assert observed_offset(device_now, HUB_NOW, NEW_YORK) == 420.0
    assert NEW_YORK.to_local(HUB_NOW) == datetime(2026, 1, 5, 8, 0)
    with pytest.raises(ValueError, match="naive"):
        NEW_YORK.to_utc(HUB_NOW)


def test_correction_and_time_source() -> None:
    stamp = datetime(2026, 1, 5, 7, 37)
    corrected = correct_time(stamp, HUB_NOW, 420.0, NEW_YORK)
    assert corrected.measured_at == datetime(2026, 1, 5, 12, 30, tzinfo=UTC)
    assert corrected.time_source is TimeSource.DEVICE_CORRECTED
    assert correct_time(stamp, HUB_NOW, None, NEW_YORK).time_source is TimeSource.DEVICE_RAW
    receipt = correct_time(None, HUB_NOW, 420.0, NEW_YORK)
    assert (receipt.measured_at, receipt.time_source) == (HUB_NOW, TimeSource.HUB_RECEIPT)


def test_estimate_is_smoothed_and_reset_on_a_jump() -> None:
    estimator = ClockOffsetEstimator()
    assert estimator.observe(420.0, OffsetMethod.CLOCK_READ) is None
    assert estimator.observe(421.0, OffsetMethod.CLOCK_READ) is None
    assert 420.0 < estimator.offset_s < 421.0  # type: ignore[operator]
    jump = estimator.observe(-8e8, OffsetMethod.CLOCK_READ)
    assert jump is not None
    assert jump.delta_s < -CLOCK_JUMP_S
    assert estimator.offset_s == -8e8
    estimator.clock_was_set()
    assert (estimator.offset_s, estimator.method) == (0.0, OffsetMethod.CLOCK_WRITE)


def test_weekly_drift_is_not_a_jump() -> None:
    estimator = ClockOffsetEstimator(0.0)
    week_of_drift = 50e-6 * timedelta(days=7).total_seconds()
    assert estimator.observe(week_of_drift, OffsetMethod.CLOCK_READ) is None
