"""One person cannot bill the same minute twice: overlapping entries of one user are merged.

A user's entries are taken in order of start (then of their id); each is credited only the part of its
interval that no earlier entry of that user already covered. The union of the user's time is kept,
nothing in it counts twice (not even across programs or patients), and applying the merge to its own
output changes nothing, so the exporter and the engine can both apply it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from careteam_api.billing.rules import SECONDS_PER_MINUTE


@dataclass(frozen=True)
class Interval:
    """An entry as recorded: whose time (`user`), from `start` for `minutes`; `key` identifies it."""

    key: Hashable
    user: Hashable
    start: datetime
    minutes: int
    order: str = ""

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Credit:
    """What an entry is credited after the merge: whole minutes from `start`, and whose time covered it."""

    start: datetime
    minutes: int
    overlapped_by: tuple[Hashable, ...]

    @property
    def trimmed(self) -> bool:
        return bool(self.overlapped_by)


def merge_overlaps(intervals: Sequence[Interval]) -> dict[Hashable, Credit]:
    """Credit each interval with the minutes no earlier interval of the same user covered.

    A partial minute left after trimming is not credited (time thresholds are in whole minutes).
    """
    by_user: dict[Hashable, list[Interval]] = defaultdict(list)
    for interval in intervals:
        by_user[interval.user].append(interval)
    credits: dict[Hashable, Credit] = {}
    for items in by_user.values():
        items.sort(key=lambda i: (i.start, i.order))
        covered_until: datetime | None = None
        credited: list[tuple[Hashable, datetime]] = []
        for item in items:
            start = item.start if covered_until is None else max(item.start, covered_until)
            seconds = max(0.0, (item.end - start).total_seconds())
            minutes = int(seconds // SECONDS_PER_MINUTE)
            overlapped_by = tuple(key for key, end in credited if end > item.start)
            credits[item.key] = Credit(
                start=start if minutes else item.start, minutes=minutes, overlapped_by=overlapped_by
            )
            if minutes:
                # The credited end, not the recorded one: a dropped partial minute stays free, which
                # makes the merge idempotent (its output has no overlaps left to trim).
                credited_end = start + timedelta(minutes=minutes)
                credited.append((item.key, credited_end))
                covered_until = credited_end if covered_until is None else max(covered_until, credited_end)
    return credits
