"""A device's wall clock: simulated true time plus an offset, a drift rate, and resets.

`device time = SimClock wallclock + offset + drift_ppm * elapsed`, shown as naive local time in the zone the
device was set up in (devices have no time zone; the hub assumes its own).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from simulators.ble.world import SimClock

FACTORY_RESET_TIME: Final = datetime(2000, 1, 1)
"""Where cheap RTCs restart after a battery change (the firmware's build-time default; often 2000-01-01)."""


class DeviceClock:
    def __init__(
        self, sim: SimClock, *, zone: tzinfo = UTC, offset_s: float = 0.0, drift_ppm: float = 0.0
    ) -> None:
        self.sim = sim
        self.zone = zone
        self.offset_s = offset_s
        self.drift_ppm = drift_ppm
        self._since = sim.wallclock()
        self.sets = 0

    def device_utc_at(self, true_utc: datetime) -> datetime:
        """What the device clock showed (as an instant) at true time `true_utc`."""
        elapsed = (true_utc - self._since).total_seconds()
        return true_utc + timedelta(seconds=self.offset_s + elapsed * self.drift_ppm / 1e6)

    def local_at(self, true_utc: datetime) -> datetime:
        """The naive local time on the display at true time `true_utc`."""
        return self.device_utc_at(true_utc).astimezone(self.zone).replace(tzinfo=None)

    def now_local(self) -> datetime:
        return self.local_at(self.sim.wallclock())

    def set_local(self, local: datetime) -> None:
        """The hub wrote the time: from now on the clock shows `local` plus drift."""
        now = self.sim.wallclock()
        self._since = now
        self.offset_s = (local.replace(tzinfo=self.zone).astimezone(UTC) - now).total_seconds()
        self.sets += 1

    def reset(self, to: datetime = FACTORY_RESET_TIME) -> None:
        """Battery change: the clock restarts at `to` (naive local)."""
        self.set_local(to)
        self.sets -= 1
