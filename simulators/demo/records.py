"""The demo practice's program records, through the program repositories where they exist. Every step
first looks for what an earlier run made (by practice name, e-mail, MRN, serial), so running twice
changes nothing; append-only records (consents, care plans, assignments) are added only when missing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import psycopg

from careteam_api.program import care_plans, conditions, consent, episodes, team
from careteam_api.program.models import Condition
from careteam_api.program.patients import PatientRow, upsert_patient
from simulators.demo import roster
from simulators.demo.roster import DemoPatient, StaffMember
from simulators.physiology import DeviceIdentity

CONSENT_DAYS_AGO: Final = 60
"""Consent about two months before the demo's "now": documented before any billable time of the period."""
EPISODE_DAYS_AGO: Final = 35
"""The RPM episode started 35 days ago: one full 30-day device period behind it, the second under way."""
CONSENT_TEXT: Final = (
    "Patient agreed to {program} services: monthly care management by the care team, cost sharing may apply, "
    "may stop at any time (effective at the end of the month)."
)


@dataclass(frozen=True)
class Team:
    practice_id: uuid.UUID
    care_team_id: uuid.UUID
    users: dict[str, uuid.UUID]
    """E-mail -> user id."""

    def first(self, role: str) -> uuid.UUID:
        return self.members(role)[0]

    def members(self, role: str) -> list[uuid.UUID]:
        """The users of `role`, in roster order."""
        return [uid for email, uid in self.users.items() if _role_of(email) == role]


def _role_of(email: str) -> str:
    return next(s.role for s in roster.STAFF if s.email == email)


def ensure_practice(conn: psycopg.Connection) -> uuid.UUID:
    row = conn.execute(
        "SELECT practice_id FROM practices WHERE name = %s", (roster.PRACTICE_NAME,)
    ).fetchone()
    if row is None:
        row = conn.execute(
            "INSERT INTO practices (name, timezone) VALUES (%s, %s) RETURNING practice_id",
            (roster.PRACTICE_NAME, roster.PRACTICE_TIMEZONE),
        ).fetchone()
    assert row is not None
    return row[0]


def ensure_team(conn: psycopg.Connection, practice_id: uuid.UUID, hashes: dict[str, str | None]) -> Team:
    """Care team and staff. `hashes` maps e-mail -> password hash to set (only for passwords made now, or
    for users still without one)."""
    row = conn.execute(
        "SELECT care_team_id FROM care_teams WHERE practice_id = %s AND name = %s",
        (practice_id, roster.CARE_TEAM_NAME),
    ).fetchone()
    care_team_id = row[0] if row else team.create_care_team(conn, practice_id, roster.CARE_TEAM_NAME)
    users = {s.email: _ensure_user(conn, practice_id, s, hashes.get(s.email)) for s in roster.STAFF}
    for user_id in users.values():
        team.add_member(conn, care_team_id, user_id)
    return Team(practice_id, care_team_id, users)


def _ensure_user(
    conn: psycopg.Connection, practice_id: uuid.UUID, s: StaffMember, hashed: str | None
) -> uuid.UUID:
    row = conn.execute("SELECT user_id FROM users WHERE lower(email) = lower(%s)", (s.email,)).fetchone()
    if row is None:
        return team.create_user(
            conn, practice_id, s.email, s.full_name, s.role, npi=s.npi, password_hash=hashed
        ).user_id
    if hashed is not None:
        conn.execute("UPDATE users SET password_hash = %s WHERE user_id = %s", (hashed, row[0]))
    return row[0]


def users_without_hash(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT lower(email) FROM users WHERE password_hash IS NULL AND lower(email) = ANY(%s)",
        ([s.email for s in roster.STAFF],),
    ).fetchall()
    return {r[0] for r in rows}


@dataclass(frozen=True)
class PatientRecords:
    patient_id: uuid.UUID
    episode_start: date
    created: bool


def ensure_patient(conn: psycopg.Connection, t: Team, p: DemoPatient, today: date) -> PatientRecords:
    """Patient, conditions, care team, consents (~2 months ago), care plan and RPM episode (~35 days ago)."""
    patient_id, outcome = upsert_patient(
        conn,
        t.practice_id,
        PatientRow(p.mrn, p.given_name, p.family_name, p.birth_date, roster.PRACTICE_TIMEZONE),
    )
    manager, clinician = t.first("care_manager"), t.first("clinician")
    for code in p.conditions:
        onset = date(today.year - 3 - p.number % 7, 1 + p.number % 12, 1)
        condition = Condition(
            icd10=code, description=roster.CONDITIONS[code], onset=onset, expected_12_months=True
        )
        conditions.upsert_condition(conn, patient_id, condition, "manual")
    if _missing(conn, "patient_assignments", patient_id):
        team.assign_patient(
            conn,
            patient_id,
            effective_from=today - timedelta(days=CONSENT_DAYS_AGO),
            care_team_id=t.care_team_id,
            billing_practitioner_id=clinician,
            recorded_by=manager,
        )
    have = {c.program for c in consent.consents_of(conn, patient_id)}
    for program in ("ccm", "rpm"):
        if program not in have:
            consent.record_consent(
                conn,
                patient_id,
                program,
                method="verbal",
                consented_on=today - timedelta(days=CONSENT_DAYS_AGO),
                obtained_by=manager,
                consent_text=CONSENT_TEXT.format(program=program.upper()),
            )
    if _missing(conn, "care_plan_versions", patient_id):
        plan = care_plans.add_version(
            conn,
            patient_id,
            problems=[{"icd10": c, "description": roster.CONDITIONS[c]} for c in p.conditions],
            goals=_goals(p),
            medications=[],
            alert_thresholds=p.thresholds,
            note="Initial care plan (demo).",
            author_id=clinician,
        )
        care_plans.record_shared(conn, patient_id, plan.version, today - timedelta(days=58), "paper", manager)
    row = conn.execute(
        "SELECT started_on FROM rpm_episodes WHERE patient_id = %s ORDER BY started_on DESC LIMIT 1",
        (patient_id,),
    ).fetchone()
    if row is not None:
        return PatientRecords(patient_id, row[0], outcome == "created")
    start = today - timedelta(days=EPISODE_DAYS_AGO)
    episode = episodes.start_episode(conn, patient_id, start)
    setup = datetime.combine(start, time(10, 0), tzinfo=ZoneInfo(roster.PRACTICE_TIMEZONE))
    episodes.record_setup(
        conn, episode.episode_id, setup_at=setup, education_at=setup + timedelta(minutes=20), by=manager
    )
    return PatientRecords(patient_id, start, outcome == "created")


def _goals(p: DemoPatient) -> list[dict[str, str]]:
    goals = []
    if any(c.startswith(("I10", "I50", "N18")) for c in p.conditions):
        goals.append({"goal": "home blood pressure below 130/80"})
    if any(c.startswith("E11") for c in p.conditions):
        goals.append({"goal": "fasting glucose 80-130 mg/dL"})
    if any(c.startswith("I50") for c in p.conditions):
        goals.append({"goal": "daily morning weight; call if up 3 lb in a day or 5 lb in a week"})
    return goals


def _missing(conn: psycopg.Connection, table: str, patient_id: uuid.UUID) -> bool:
    assert table in ("patient_assignments", "care_plan_versions")
    row = conn.execute(f"SELECT 1 FROM {table} WHERE patient_id = %s LIMIT 1", (patient_id,)).fetchone()
    return row is None


def ensure_home(
    conn: psycopg.Connection,
    t: Team,
    patient: PatientRecords,
    hub: str,
    devices: list[DeviceIdentity],
    models: dict[str, str],
) -> None:
    """Hub, devices, their RPM episode and assignments valid from the episode's first local midnight."""
    conn.execute(
        "INSERT INTO hubs (hub_id, practice_id, label) VALUES (%s, %s, %s) ON CONFLICT (hub_id) DO NOTHING",
        (hub, t.practice_id, f"home hub of {hub}"),
    )
    valid_from = datetime.combine(patient.episode_start, time(0), tzinfo=ZoneInfo(roster.PRACTICE_TIMEZONE))
    episode = conn.execute(
        "SELECT episode_id FROM rpm_episodes WHERE patient_id = %s ORDER BY started_on DESC LIMIT 1",
        (patient.patient_id,),
    ).fetchone()
    assert episode is not None
    for d in devices:
        conn.execute(
            "INSERT INTO devices (device_id, model, profile, serial, address, hub_id)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (device_id) DO NOTHING",
            (d.serial, models[d.profile], d.profile, d.serial, d.address, hub),
        )
        episodes.add_device(conn, episode[0], d.serial, patient.episode_start)
        assigned = conn.execute(
            "SELECT 1 FROM device_assignments WHERE device_id = %s AND patient_id = %s",
            (d.serial, patient.patient_id),
        ).fetchone()
        if assigned is None:
            conn.execute(
                "INSERT INTO device_assignments (device_id, patient_id, valid)"
                " VALUES (%s, %s, tstzrange(%s, NULL))",
                (d.serial, patient.patient_id, valid_from),
            )
