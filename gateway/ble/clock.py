"""Device clocks: converting device-local time, estimating each device's offset, correcting time stamps.

Devices keep naive local time (Date Time has no zone). The hub converts with its configured time zone, then
works in UTC: `offset = device clock (as UTC) - hub clock`. A reading's `measured_at` is its time stamp minus
the offset, and `time_source` says whether an offset was applied (`device_corrected`), none was known
(`device_raw`) or the device sent no time at all (`hub_receipt`).

Whole-second clocks truncate both the clock read and the record time stamps; the two truncations cancel on
average, so no half-second centring is added to either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Final

from broker.contract.readings import TimeSource

CLOCK_JUMP_S: Final = 120.0
"""An offset change larger than this is a clock reset, not drift. Watch crystals drift up to ~50 ppm
(4.3 s/day, 30 s/week between sessions); a DST change is 3,600 s and a battery reset years: 120 s separates
them with margin."""

SMOOTHING: Final = 0.5
"""Weight of a new observation. Reads are quantised to 1 s; halving their weight halves that noise while a
real drift of a few seconds per week is still followed within two sessions."""


class OffsetMethod(StrEnum):
    CLOCK_READ = "clock_read"
    """Current Time / Date Time read during the session: the best evidence."""
    LIVE_MEASUREMENT = "live_measurement"
    """Time stamp of a just-taken measurement vs its receive time: biased by the measure-to-send lag."""
    CLOCK_WRITE = "clock_write"
    """The hub set the device clock to its own time."""


@dataclass(frozen=True, slots=True)
class ClockJump:
    """The device clock moved by more than drift can explain (battery change, reset, DST, manual set)."""

    previous_offset_s: float
    new_offset_s: float

    @property
    def delta_s(self) -> float:
        return self.new_offset_s - self.previous_offset_s


class LocalTime:
    """The hub's configured time zone: what device-local naive times mean."""

    def __init__(self, zone: tzinfo = UTC) -> None:
        self.zone = zone

    def to_utc(self, local: datetime) -> datetime:
        """A naive device time as UTC; an ambiguous or skipped DST time takes the earlier reading (fold 0)."""
        if local.tzinfo is not None:
            raise ValueError("device time must be naive (devices have no time zone)")
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def to_local(self, instant: datetime) -> datetime:
        """A UTC instant as the naive local time a device clock should show."""
        return instant.astimezone(self.zone).replace(tzinfo=None)


class ClockOffsetEstimator:
    """Smoothed device-minus-hub offset of one device, reset when the clock jumps."""

    def __init__(self, offset_s: float | None = None) -> None:
        self.offset_s = offset_s
        self.method: OffsetMethod | None = None

    def observe(self, offset_s: float, method: OffsetMethod) -> ClockJump | None:
        """Fold in one observation; a jump replaces the estimate and is returned for a clock-reset event."""
        previous = self.offset_s
        self.method = method
        if previous is None:
            self.offset_s = offset_s
            return None
        if abs(offset_s - previous) > CLOCK_JUMP_S:
            self.offset_s = offset_s
            return ClockJump(previous, offset_s)
        self.offset_s = previous + SMOOTHING * (offset_s - previous)
        return None

    def clock_was_set(self) -> None:
        """The hub wrote its own time: from now on the device shows hub time (offset 0 plus future drift)."""
        self.offset_s = 0.0
        self.method = OffsetMethod.CLOCK_WRITE


def observed_offset(device_now: datetime, hub_now: datetime, local: LocalTime) -> float:
    """Offset in seconds from a device clock value (naive local) seen at `hub_now` (UTC)."""
    return (local.to_utc(device_now) - hub_now).total_seconds()


@dataclass(frozen=True, slots=True)
class CorrectedTime:
    measured_at: datetime
    time_source: TimeSource
    clock_offset_s: float | None


def correct_time(
    device_time: datetime | None, received_at: datetime, offset_s: float | None, local: LocalTime
) -> CorrectedTime:
    """`measured_at` for a reading: corrected device time, raw device time, or the hub receive time."""
    if device_time is None:
        return CorrectedTime(received_at, TimeSource.HUB_RECEIPT, None)
    device_utc = local.to_utc(device_time)
    if offset_s is None:
        return CorrectedTime(device_utc, TimeSource.DEVICE_RAW, None)
    return CorrectedTime(device_utc - timedelta(seconds=offset_s), TimeSource.DEVICE_CORRECTED, offset_s)
