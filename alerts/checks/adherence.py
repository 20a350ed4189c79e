"""Adherence checks: no reading for N days; an RPM 30-day period that can no longer reach 16 (or 2) data days.

Measured before adding rollups: the latest reading per monitored patient is one index probe each
(readings_patient_time_idx), and a period's data days are one index range scan per patient. For 10,000
patients (bench/bench_alerts.py, a shared two-core machine at load 5-15) the first takes 0.1-0.7 s and the
second 1.3-4.9 s, once per tick of a minute, so no rollup table is kept yet.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg

from alerts.checks.common import Settings, settle
from alerts.lifecycle import Evidence, Outcome
from alerts.rules import time_based
from careteam_api.billing.rules import RPM_AUTOMATIC_SOURCES, RPM_PERIOD_DAYS


def monitored(conn: psycopg.Connection, now: datetime) -> list:
    """Patients with a device assigned now or an RPM episode in force."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT patient_id FROM device_assignments WHERE valid @> %(now)s::timestamptz"
            " UNION SELECT patient_id FROM rpm_episodes WHERE started_on <= %(now)s::date"
            " AND (ended_on IS NULL OR ended_on >= %(now)s::date) ORDER BY 1",
            {"now": now},
        )
    ]


def no_data(conn: psycopg.Connection, now: datetime) -> Outcome:
    patients = monitored(conn, now)
    if not patients:
        return Outcome()
    s = Settings(conn, time_based.NO_DATA, patients, now)
    rows = conn.execute(
        "SELECT p.id, (SELECT max(r.measured_at) FROM readings r WHERE r.patient_id = p.id AND"
        " r.measured_at <= %s),"
        " (SELECT min(lower(a.valid)) FROM device_assignments a WHERE a.patient_id = p.id)"
        " FROM unnest(%s::uuid[]) AS p(id)",
        (now, patients),
    ).fetchall()
    firing = {}
    for patient, last, assigned in rows:
        if not s.enabled(patient):
            continue
        silent_since = last or assigned
        limit = timedelta(days=s.params(patient).days)  # type: ignore[attr-defined]
        if silent_since is not None and now - silent_since > limit:
            evidence = Evidence(
                key=f"no_data:{silent_since.isoformat()}",
                observed_at=now,
                value=round((now - silent_since) / timedelta(days=1), 2),
                severity=(now - silent_since).total_seconds(),
                details={"last_reading": last.isoformat() if last else None, "days_silent_limit": limit.days},
            )
            firing[patient] = (evidence, {"last_reading": last.isoformat() if last else None})
    return settle(conn, s, firing, now, "a reading arrived")


def _period(started_on: date, today: date) -> tuple[date, date]:
    index = (today - started_on).days // RPM_PERIOD_DAYS
    start = started_on + timedelta(days=index * RPM_PERIOD_DAYS)
    return start, start + timedelta(days=RPM_PERIOD_DAYS - 1)


def rpm_days(conn: psycopg.Connection, now: datetime) -> list[Outcome]:
    """For the current 30-day period of each active episode: data days so far plus every day left (today
    included unless it already counts) against 16 and against 2."""
    rows = conn.execute(
        "SELECT e.patient_id, e.episode_id, e.started_on, e.ended_on, p.timezone,"
        " (%(now)s AT TIME ZONE p.timezone)::date FROM rpm_episodes e JOIN patients p USING (patient_id)"
        " WHERE e.started_on <= (%(now)s AT TIME ZONE p.timezone)::date"
        " AND (e.ended_on IS NULL OR e.ended_on >= (%(now)s AT TIME ZONE p.timezone)::date)",
        {"now": now},
    ).fetchall()
    facts = {}
    for patient, episode, started_on, ended_on, zone, today in rows:
        start, end = _period(started_on, today)
        if ended_on is not None:
            end = min(end, ended_on)
        days = (
            conn.execute(
                "SELECT array_agg(DISTINCT (measured_at AT TIME ZONE %s)::date) FROM readings"
                " WHERE patient_id = %s AND source = ANY(%s) AND measured_at >= %s::date - 1 AND"
                " measured_at <= %s",
                (zone, patient, list(RPM_AUTOMATIC_SOURCES), start, now),
            ).fetchone()[0]
            or []
        )
        have = sum(1 for d in days if start <= d <= today)
        left = (end - today).days + (0 if today in days else 1)
        facts[patient] = (episode, start, end, have, left)
    outcomes = []
    for spec in (time_based.RPM_16_DAYS, time_based.RPM_2_DAYS):
        if not facts:
            break
        s = Settings(conn, spec, list(facts), now)
        firing = {}
        for patient, (episode, start, end, have, left) in facts.items():
            need = s.params(patient).data_days  # type: ignore[attr-defined]
            if s.enabled(patient) and have + left < need:
                evidence = Evidence(
                    key=f"rpm_period:{episode}:{start.isoformat()}",
                    observed_at=now,
                    value=float(have),
                    severity=float(need - have - left),
                    details={
                        "data_days": have,
                        "days_left": left,
                        "needed": need,
                        "period_end": end.isoformat(),
                    },
                )
                firing[patient] = (
                    evidence,
                    {"period_start": start.isoformat(), "period_end": end.isoformat()},
                )
        outcomes.append(settle(conn, s, firing, now, "a new 30-day period began"))
    return outcomes
