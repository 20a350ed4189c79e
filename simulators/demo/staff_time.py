"""The care managers' logged time for last month and this month so far, through the app's own time log
(`careteam_api.program.time_log.log_time`: role checks, append-only rows), so the billing views show staff
codes next to the device codes.

Each patient's work (`care_work`) is spread over the working days the rules allow: CCM time after the day
of consent, RPM time after the day the episode started, nothing on today or later. This month so far holds
the whole month's planned work, so the billing evaluation shows its codes on any day of the month after the
first. On each working day a care manager's sessions follow one another with gaps and never overlap
(overlapping time of one person would be trimmed: no minute counts twice), also around time already logged.

Entries carry `DEMO_NOTE` in their note. A patient's month that holds such an entry is left alone, so
running the demo again adds nothing; a month is filled once, by the first run that reaches it.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import psycopg

from careteam_api.program import time_log
from careteam_api.program.consent import consents_of
from careteam_api.program.models import Program, TimeEntryIn
from simulators.demo import care_work, roster
from simulators.demo.care_work import Session
from simulators.demo.roster import DemoPatient

DEMO_NOTE: Final = " (demo)"
"""Ends the note of every entry the demo logs: marks demo data, and tells a later run the month is done."""
WORKDAY: Final = (time(8, 30), time(17, 0))
LATEST_END: Final = time(21, 0)
"""A session that would end later is left out (only when a short window packs the month into a day or two)."""
MIN_GAP: Final = timedelta(minutes=5)
MAX_GAP: Final = timedelta(minutes=45)
MIN_WEEKDAYS: Final = 3
"""Fewer weekdays than this in a window and the weekend is used too."""


@dataclass(frozen=True)
class Enrolled:
    """A demo patient as the time log needs it: who looks after them, and since when time is billable."""

    patient: DemoPatient
    patient_id: uuid.UUID
    care_manager: uuid.UUID
    ccm_from: date | None
    """The first day CCM time counts (the day after consent), None without a CCM consent."""
    rpm_from: date
    """The first day RPM management time counts (the day after the episode's start, its set-up day)."""


@dataclass(frozen=True)
class Planned:
    """A session given its day, not yet its time."""

    who: Enrolled
    program: Program
    session: Session
    day: date


def enrolled(
    conn: psycopg.Connection,
    patient: DemoPatient,
    patient_id: uuid.UUID,
    care_manager: uuid.UUID,
    episode: date,
) -> Enrolled:
    """The patient with the days from which the time log may hold their CCM and RPM time."""
    ccm = [
        c.consented_on for c in consents_of(conn, patient_id) if c.program == "ccm" and c.withdrawn_on is None
    ]
    ccm_from = min(ccm) + timedelta(days=1) if ccm else None
    return Enrolled(patient, patient_id, care_manager, ccm_from, episode + timedelta(days=1))


def months(today: date) -> list[tuple[date, date]]:
    """(first, last day) of last month and of this month."""
    first = today.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return [(previous, first - timedelta(days=1)), (first, following - timedelta(days=1))]


def _working_days(first: date, last: date) -> list[date]:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    weekdays = [d for d in days if d.weekday() < 5]
    return weekdays if len(weekdays) >= MIN_WEEKDAYS else days


def plan_month(
    patients: Iterable[Enrolled], first: date, last: date, today: date, seed: int
) -> list[Planned]:
    """Each patient's sessions of the month, each on a day of its program's window (spread evenly, with a
    per-patient shift so not every patient's first call falls on the same day)."""
    this_month = first <= today <= last
    end = min(last, today - timedelta(days=1))
    out: list[Planned] = []
    for who in patients:
        rng = random.Random(f"{seed}:{who.patient.mrn}:{first:%Y-%m}")
        level = care_work.level_for(who.patient.number, this_month)
        windows: tuple[tuple[Program, date | None], ...] = (("ccm", who.ccm_from), ("rpm", who.rpm_from))
        for program, start in windows:
            items = care_work.sessions(level, program, rng)
            if start is None or not items:
                continue
            window = _working_days(max(first, start), end) if max(first, start) <= end else []
            if not window:
                continue
            shift = rng.random()
            for s in items:
                day = window[int((s.index + shift) / len(items) * len(window))]
                out.append(Planned(who, program, s, day))
    return out


def _free_start(cursor: datetime, minutes: int, busy: list[tuple[datetime, datetime]]) -> datetime:
    """The first moment from `cursor` when `minutes` fit between the busy intervals."""
    for start, end in sorted(busy):
        if cursor + timedelta(minutes=minutes) <= start:
            break
        if end > cursor:
            cursor = end + MIN_GAP
    return cursor


def schedule(
    planned: list[Planned], zone: ZoneInfo, busy: dict[uuid.UUID, list[tuple[datetime, datetime]]]
) -> list[tuple[Planned, datetime]]:
    """A start time for each planned session: per care manager and day, one after another across the
    working day, spaced by what the day leaves free, around `busy` time already logged."""
    by_day: dict[tuple[uuid.UUID, date], list[Planned]] = defaultdict(list)
    for p in planned:
        by_day[(p.who.care_manager, p.day)].append(p)
    placed: list[tuple[Planned, datetime]] = []
    for (manager, day), items in sorted(by_day.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        items.sort(key=lambda p: (p.who.patient.number, p.program, p.session.index))
        opens, closes = (datetime.combine(day, t, tzinfo=zone) for t in WORKDAY)
        load = timedelta(minutes=sum(p.session.minutes for p in items))
        spare = (closes - opens - load) // (len(items) + 1)
        gap = min(MAX_GAP, max(MIN_GAP, timedelta(minutes=spare // timedelta(minutes=1))))
        latest = datetime.combine(day, LATEST_END, tzinfo=zone)
        cursor = opens + gap
        taken = busy.setdefault(manager, [])
        for p in items:
            start = _free_start(cursor, p.session.minutes, taken)
            end = start + timedelta(minutes=p.session.minutes)
            if end > latest:
                continue
            placed.append((p, start))
            taken.append((start, end))
            cursor = end + gap
    return placed


def _window(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time(0), tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone),
    )


def _done(
    conn: psycopg.Connection, patient_ids: list[uuid.UUID], start: datetime, end: datetime
) -> set[uuid.UUID]:
    rows = conn.execute(
        "SELECT DISTINCT patient_id FROM time_entries WHERE patient_id = ANY(%s)"
        " AND started_at >= %s AND started_at < %s AND note LIKE %s",
        (patient_ids, start, end, "%" + DEMO_NOTE),
    ).fetchall()
    return {r[0] for r in rows}


def _busy(
    conn: psycopg.Connection, users: set[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    rows = conn.execute(
        "SELECT user_id, started_at, minutes FROM time_entries WHERE user_id = ANY(%s)"
        " AND started_at >= %s AND started_at < %s",
        (list(users), start - timedelta(days=1), end),
    ).fetchall()
    busy: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    for user, at, minutes in rows:
        busy[user].append((at, at + timedelta(minutes=minutes)))
    return busy


def ensure_time_entries(conn: psycopg.Connection, patients: list[Enrolled], now: datetime, seed: int) -> int:
    """Log last month's and this month's demo time of every patient whose month holds none yet. Returns the
    number of entries logged."""
    zone = ZoneInfo(roster.PRACTICE_TIMEZONE)
    today = now.astimezone(zone).date()
    logged = 0
    for first, last in months(today):
        start, end = _window(first, last, zone)
        done = _done(conn, [p.patient_id for p in patients], start, end)
        todo = [p for p in patients if p.patient_id not in done]
        if not todo:
            continue
        busy = _busy(conn, {p.care_manager for p in todo}, start, end)
        for planned, at in schedule(plan_month(todo, first, last, today, seed), zone, busy):
            task = planned.session.task
            time_log.log_time(
                conn,
                TimeEntryIn(
                    patient_id=planned.who.patient_id,
                    user_id=planned.who.care_manager,
                    program=planned.program,
                    started_at=at,
                    minutes=planned.session.minutes,
                    activity=task.activity,
                    note=task.note + DEMO_NOTE,
                    interactive=task.interactive,
                ),
            )
            logged += 1
    return logged
