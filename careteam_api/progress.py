"""This month's billing progress of one patient (minutes and data days against each code's threshold).

It feeds one patient's month through the billing engine (`billing.engine.evaluate`) with the same program
records the month export reads, so the console shows what the engine will decide. It is progress, not the
claim: overlaps of a user's time with other patients are merged only by the practice-wide export.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from careteam_api.billing.calendar import local_day
from careteam_api.billing.engine import evaluate
from careteam_api.billing.model import (
    CarePlanStatus,
    Consent,
    MonthInput,
    PatientMonth,
    PatientResult,
    Reading,
)
from careteam_api.billing.model import TimeEntry as BillingEntry
from careteam_api.billing.rules import RPM_PERIOD_DAYS
from careteam_api.program.care_plans import status_on
from careteam_api.program.conditions import conditions_of
from careteam_api.program.consent import consents_of
from careteam_api.program.episodes import episode_for_month
from careteam_api.program.time_log import entries_between

# Widest UTC offsets (UTC-12 .. UTC+14): a window this much wider than the local month holds every local day.
_ZONE_SLACK = timedelta(hours=15)


def _consents(conn: psycopg.Connection, patient_id: uuid.UUID) -> dict[str, list[Consent]]:
    out: dict[str, list[Consent]] = {"ccm": [], "rpm": []}
    for c in consents_of(conn, patient_id):
        out[c.program].append(
            Consent(date=c.consented_on, withdrawn=c.withdrawn_on, obtained_at=c.obtained_at)
        )
    return out


def patient_progress(
    conn: psycopg.Connection, patient_id: uuid.UUID, timezone: str, today: date | None = None
) -> tuple[str, PatientResult]:
    """The current month (YYYY-MM) and the engine's verdict on it as of today (codes, shortfalls)."""
    zone = ZoneInfo(timezone)
    today = today or datetime.now(zone).date()
    shell = MonthInput(month=f"{today:%Y-%m}", patients=[], as_of=today)
    first, last = shell.first_day, shell.last_day
    start = datetime.combine(first, time(0), tzinfo=UTC) - _ZONE_SLACK
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC) + _ZONE_SLACK
    entries = [
        BillingEntry(
            id=str(e.entry_id),
            program=e.program,
            minutes=e.minutes,
            at=e.started_at,
            role=e.role,
            interactive=e.interactive,
            complex=e.complex,
            user=str(e.user_id),
        )
        for e, _ in entries_between(conn, [patient_id], start, end)
        if first <= local_day(e.started_at, zone) <= last
    ]
    episode = episode_for_month(conn, patient_id, first, last)
    readings: list[Reading] = []
    if episode is not None:
        rows = conn.execute(
            "SELECT measured_at, source FROM readings WHERE patient_id = %s AND measured_at >= %s"
            " AND measured_at < %s",
            (patient_id, start - timedelta(days=RPM_PERIOD_DAYS), end),
        ).fetchall()
        readings = [Reading(at=at, source=source) for at, source in rows]
    plan = status_on(conn, patient_id, last)
    patient = PatientMonth(
        id=str(patient_id),
        timezone=timezone,
        chronic_conditions=[c.icd10 for c in conditions_of(conn, patient_id, last) if c.counts_for_ccm],
        program_consents=_consents(conn, patient_id),
        rpm_episode_start=episode.started_on if episode else None,
        rpm_episode_end=episode.ended_on if episode else None,
        rpm_setup_done=bool(episode and episode.setup_done_at and episode.education_done_at),
        readings=readings,
        time_entries=entries,
        care_plan=CarePlanStatus(version=plan[0], created_on=plan[1], shared_on=plan[2]) if plan else None,
    )
    month = MonthInput(month=shell.month, as_of=today, patients=[patient])
    return month.month, evaluate(month).patients[0]
