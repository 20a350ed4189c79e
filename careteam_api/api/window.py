"""Time windows from query parameters, checked so no input can overflow a date computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careteam_api.errors import BadRequest

EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _aware(value: datetime, name: str) -> datetime:
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise BadRequest(f"{name} must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def resolve(
    start: datetime | None, end: datetime | None, days: int, max_days: int
) -> tuple[datetime, datetime]:
    """[start, end): `end` defaults to now, `start` to `days` before `end`; naive times are UTC."""
    end = _aware(end, "end") if end is not None else datetime.now(UTC)
    start = _aware(start, "start") if start is not None else end - timedelta(days=days)
    if start >= end:
        raise BadRequest("start must be before end")
    if end - start > timedelta(days=max_days):
        raise BadRequest(f"the window may span at most {max_days} days")
    return start, end
