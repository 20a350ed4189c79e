"""Build a month's billing input from the database (`rpm billing export`).

Everything the engine needs travels in the file, so the decision can be re-run without the database:
consents with withdrawals, conditions in force, the RPM episode, automatic and manual readings from the
start of the earliest device period that can end in the month, the time entries in force (corrections
applied, the ids they supersede listed) and the billing practitioner. Overlapping time of one user is
merged here across the whole practice, so no minute leaves the database twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from careteam_api.billing.calendar import local_day
from careteam_api.billing.model import CarePlanStatus, Consent, MonthInput, PatientMonth, Reading, TimeEntry
from careteam_api.billing.overlap import Interval, merge_overlaps
from careteam_api.billing.rules import RPM_PERIOD_DAYS, BillingRules
from careteam_api.program.care_plans import status_on
from careteam_api.program.conditions import conditions_of
from careteam_api.program.consent import consents_of
from careteam_api.program.episodes import episode_for_month
from careteam_api.program.models import TimeEntry as StoredEntry
from careteam_api.program.patients import Practice
from careteam_api.program.team import billing_practitioner_for_month
from careteam_api.program.time_log import entries_between

# Widest UTC offsets in use (UTC-12 .. UTC+14): a query window this much wider than the local month
# catches every entry and reading whose local day is inside it; the exact local filter follows.
_ZONE_SLACK = timedelta(hours=15)


def _utc_window(first: date, last: date) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time(0), tzinfo=UTC) - _ZONE_SLACK
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC) + _ZONE_SLACK
    return start, end


def _consents(conn: psycopg.Connection, patient_id: uuid.UUID) -> dict[str, list[Consent]]:
    out: dict[str, list[Consent]] = {"ccm": [], "rpm": []}
    for record in consents_of(conn, patient_id):
        out[record.program].append(
            Consent(
                date=record.consented_on,
                withdrawn=record.withdrawn_on,
                obtained_at=record.obtained_at,
                method=record.method,
                obtained_by=str(record.obtained_by) if record.obtained_by else record.obtained_by_name,
                document_ref=record.document_ref,
            )
        )
    return out


def _entries(
    conn: psycopg.Connection, patients: dict[uuid.UUID, str], first: date, last: date
) -> dict[uuid.UUID, list[TimeEntry]]:
    """The practice's entries in force whose local day is in the month, overlaps merged per user."""
    start, end = _utc_window(first, last)
    rows = entries_between(conn, list(patients), start, end)
    names = dict(
        conn.execute(
            "SELECT user_id, full_name FROM users WHERE user_id = ANY(%s)", ([e.user_id for e, _ in rows],)
        ).fetchall()
    )
    inside = [
        (e, s) for e, s in rows if first <= local_day(e.started_at, ZoneInfo(patients[e.patient_id])) <= last
    ]
    credits = merge_overlaps(
        [
            Interval(str(e.entry_id), e.user_id, e.started_at, e.minutes, f"{e.entry_id:020d}")
            for e, _ in inside
        ]
    )
    out: dict[uuid.UUID, list[TimeEntry]] = {}
    for entry, supersedes in inside:
        credit = credits[str(entry.entry_id)]
        out.setdefault(entry.patient_id, []).append(
            _entry(entry, supersedes, credit.start, credit.minutes, names)
        )
    return out


def _entry(
    entry: StoredEntry, supersedes: list[int], start: datetime, minutes: int, names: dict[uuid.UUID, str]
) -> TimeEntry:
    return TimeEntry(
        id=str(entry.entry_id),
        program=entry.program,
        minutes=minutes,
        at=start,
        role=entry.role,
        interactive=entry.interactive,
        complex=entry.complex,
        user=str(entry.user_id),
        user_name=names.get(entry.user_id),
        activity=entry.activity,
        note=entry.note,
        alert_id=str(entry.alert_id) if entry.alert_id is not None else None,
        recorded_at=entry.recorded_at,
        recorded_minutes=entry.minutes,
        supersedes=[str(i) for i in supersedes],
    )


def _readings(conn: psycopg.Connection, patient_id: uuid.UUID, first: date, last: date) -> list[Reading]:
    start, end = _utc_window(first - timedelta(days=RPM_PERIOD_DAYS), last)
    rows = conn.execute(
        "SELECT measured_at, source, reading_id FROM readings WHERE patient_id = %s"
        " AND measured_at >= %s AND measured_at < %s ORDER BY measured_at",
        (patient_id, start, end),
    ).fetchall()
    return [Reading(at=at, source=source, id=str(reading_id)) for at, source, reading_id in rows]


def build_month_input(
    conn: psycopg.Connection, practice: Practice, month: str, rules: BillingRules | None = None
) -> MonthInput:
    """The month's activity of every patient of `practice`, as the engine reads it."""
    shell = MonthInput(month=month, patients=[])
    first, last = shell.first_day, shell.last_day
    patients = conn.execute(
        "SELECT patient_id, mrn, given_name || ' ' || family_name, timezone FROM patients"
        " WHERE practice_id = %s ORDER BY mrn",
        (practice.practice_id,),
    ).fetchall()
    entries = _entries(conn, {p[0]: p[3] for p in patients}, first, last)
    out = []
    for patient_id, mrn, name, zone in patients:
        episode = episode_for_month(conn, patient_id, first, last)
        plan = status_on(conn, patient_id, last)
        practitioner = billing_practitioner_for_month(conn, patient_id, last)
        out.append(
            PatientMonth(
                id=str(patient_id),
                mrn=mrn,
                name=name,
                timezone=zone,
                chronic_conditions=[
                    c.icd10 for c in conditions_of(conn, patient_id, last) if c.counts_for_ccm
                ],
                program_consents=_consents(conn, patient_id),
                rpm_episode_start=episode.started_on if episode else None,
                rpm_episode_end=episode.ended_on if episode else None,
                rpm_setup_done=bool(episode and episode.setup_done_at and episode.education_done_at),
                readings=_readings(conn, patient_id, first, last) if episode else [],
                time_entries=entries.get(patient_id, []),
                billing_practitioner=str(practitioner) if practitioner else None,
                care_plan=CarePlanStatus(version=plan[0], created_on=plan[1], shared_on=plan[2])
                if plan
                else None,
            )
        )
    return MonthInput(
        month=month, practice=str(practice.practice_id), rules=rules or BillingRules(), patients=out
    )
