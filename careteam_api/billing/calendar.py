"""Dates the rules are counted in: the patient's local day, calendar months, 30-day device periods."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from careteam_api.billing.model import Consent, Period
from careteam_api.billing.rules import RPM_PERIOD_DAYS


def local_day(at: datetime, zone: ZoneInfo) -> date:
    """The calendar day of `at` where the patient lives (a data day is a local calendar day)."""
    return at.astimezone(zone).date()


def consent_covers(consents: list[Consent], at: datetime, zone: ZoneInfo) -> bool:
    """True when some consent was in force at `at`.

    With only a date on record the whole consent day counts; with `obtained_at` only what followed it.
    The withdrawal day itself is not covered: time after the patient withdrew is not billable.
    """
    day = local_day(at, zone)
    for consent in consents:
        started = at >= consent.obtained_at if consent.obtained_at is not None else day >= consent.date
        if started and (consent.withdrawn is None or day < consent.withdrawn):
            return True
    return False


def device_periods(episode_start: date, episode_end: date | None, until: date) -> Iterator[Period]:
    """The 30-day periods of an RPM episode that start on or before `until`; the last may be cut short
    by the end of the episode."""
    start = episode_start
    while start <= until and (episode_end is None or start <= episode_end):
        end = start + timedelta(days=RPM_PERIOD_DAYS - 1)
        if episode_end is not None and end > episode_end:
            end = episode_end
        yield Period(start=start, end=end)
        start = start + timedelta(days=RPM_PERIOD_DAYS)


def days_between(first: date, last: date) -> int:
    """Days from `first` to `last`, both included (0 when `last` is before `first`)."""
    return max(0, (last - first).days + 1)
