"""The scenarios of domain/alert-rules.md on a real TimescaleDB: readings in, the expected alerts out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from alerts.checks import adherence
from alerts.pipeline import evaluate_patients
from careteam_api.program import team
from database.migrate import migrate

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    conn: psycopg.Connection
    practice: uuid.UUID
    team: uuid.UUID
    cm1: uuid.UUID
    cm2: uuid.UUID
    clinician: uuid.UUID
    other_practice_user: uuid.UUID

    def patient(self, *conditions: str, mrn: str | None = None) -> uuid.UUID:
        patient = self.conn.execute(
            "INSERT INTO patients (practice_id, mrn, given_name, family_name, timezone)"
            " VALUES (%s, %s, 'Pat', 'Ient', 'America/Chicago') RETURNING patient_id",
            (self.practice, mrn or uuid.uuid4().hex[:8]),
        ).fetchone()[0]
        for code in conditions:
            self.conn.execute(
                "INSERT INTO chronic_conditions (patient_id, icd10, expected_12_months, source)"
                " VALUES (%s, %s, true, 'manual')",
                (patient, code),
            )
        team.assign_patient(
            self.conn, patient, effective_from=(NOW - timedelta(days=90)).date(), care_team_id=self.team
        )
        return patient

    def reading(
        self,
        patient: uuid.UUID,
        hours_ago: float,
        kind: str,
        *,
        flags: tuple[str, ...] = (),
        meal: str | None = None,
        ingested: datetime | None = None,
        **values: float,
    ) -> uuid.UUID:
        reading_id = uuid.uuid4()
        at = NOW - timedelta(hours=hours_ago)
        columns = {
            "systolic": "systolic_mmhg",
            "diastolic": "diastolic_mmhg",
            "pulse": "pulse_bpm",
            "glucose": "glucose_mg_dl",
            "weight": "weight_kg",
        }
        names = [columns[k] for k in values]
        self.conn.execute(
            f"INSERT INTO readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source,"
            f" device_unit, time_source, received_at, ingested_at, quality_flags, meal"
            f"{''.join(', ' + n for n in names)}) VALUES (%s, %s, %s, 'dev-1', 'hub-1', %s, 'ble',"
            f" 'x', 'device',"
            f" %s, %s, %s, %s{', %s' * len(names)})",
            (at, reading_id, patient, kind, at, ingested or NOW, list(flags), meal, *values.values()),
        )
        return reading_id

    def device(self, patient: uuid.UUID, hub: str = "hub-1", device: str = "dev-1") -> None:
        """A hub and a device assigned to the patient for the last 30 days."""
        self.conn.execute("INSERT INTO hubs (hub_id, practice_id) VALUES (%s, %s)", (hub, self.practice))
        self.conn.execute(
            "INSERT INTO devices (device_id, model, profile, hub_id) VALUES (%s, 'UA-651BLE',"
            " 'and-ua-651ble', %s)",
            (device, hub),
        )
        self.conn.execute(
            "INSERT INTO device_assignments (device_id, patient_id, valid) VALUES (%s, %s,"
            " tstzrange(%s, NULL))",
            (device, patient, NOW - timedelta(days=30)),
        )

    def evaluate(self, *patients: uuid.UUID, now: datetime = NOW) -> Any:
        with self.conn.transaction():
            return evaluate_patients(self.conn, patients, now, now - timedelta(minutes=10))

    def alerts(self, patient: uuid.UUID | None = None) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT rule, state, evidence_count, worst_value, priority, alert_id, explanation FROM alerts"
            " WHERE patient_id IS NOT DISTINCT FROM %s ORDER BY alert_id",
            (patient,),
        ).fetchall()
        return {
            r[0]: {
                "state": r[1],
                "count": r[2],
                "worst": r[3],
                "priority": r[4],
                "id": r[5],
                "explanation": r[6],
            }
            for r in rows
        }


@pytest.fixture
def world(scratch_database_url: str) -> Iterator[World]:
    migrate(scratch_database_url)
    with psycopg.connect(scratch_database_url, autocommit=True) as conn:
        practice = conn.execute(
            "INSERT INTO practices (name) VALUES ('Riverside') RETURNING practice_id"
        ).fetchone()[0]
        other = conn.execute(
            "INSERT INTO practices (name) VALUES ('Elsewhere') RETURNING practice_id"
        ).fetchone()[0]
        care_team = team.create_care_team(conn, practice, "Team A")
        cm1 = team.create_user(conn, practice, "cm1@example.org", "Carla One", "care_manager").user_id
        cm2 = team.create_user(conn, practice, "cm2@example.org", "Carl Two", "care_manager").user_id
        dr = team.create_user(
            conn, practice, "dr@example.org", "Dr Quinn", "clinician", npi="1234567893"
        ).user_id
        stranger = team.create_user(conn, other, "x@example.org", "Stranger", "care_manager").user_id
        for user in (cm1, cm2, dr):
            team.add_member(conn, care_team, user)
        yield World(conn, practice, care_team, cm1, cm2, dr, stranger)


def _bp(s: float, d: float) -> dict[str, float]:
    return {"systolic": s, "diastolic": d, "pulse": 72.0}


SCENARIOS: dict[str, tuple[tuple[str, ...], list[tuple[float, str, dict[str, Any]]], set[str]]] = {
    "hypertensive-crisis": ((), [(0.5, "blood_pressure", _bp(186, 96))], {"bp_crisis"}),
    "hypotension": ((), [(0.5, "blood_pressure", _bp(84, 52))], {"bp_hypotension"}),
    "three-consecutive-elevated": (
        (),
        [
            (50, "blood_pressure", _bp(142, 88)),
            (26, "blood_pressure", _bp(145, 91)),
            (2, "blood_pressure", _bp(141, 85)),
        ],
        {"bp_consecutive_elevated"},
    ),
    "seven-day-mean-above-135-85": (
        ("I10",),
        [(h, "blood_pressure", _bp(138, 86)) for h in (140, 120, 96, 72, 48, 24, 1)],
        {"bp_mean_7d_high"},
    ),
    "heart-failure-gain-1-day": (
        ("I50.9",),
        [
            (48, "weight", {"weight": 80.0}),
            (24, "weight", {"weight": 80.1}),
            (0.5, "weight", {"weight": 81.6}),
        ],
        {"weight_gain_1d"},
    ),
    "heart-failure-gain-3-days": (
        ("I50.22",),
        [
            (72, "weight", {"weight": 80.0}),
            (48, "weight", {"weight": 80.6}),
            (24, "weight", {"weight": 81.2}),
            (0.5, "weight", {"weight": 82.1}),
        ],
        {"weight_gain_3d"},
    ),
    "heart-failure-gain-7-days": (
        ("I50.9",),
        [(24 * d + 0.5, "weight", {"weight": round(82.45 - 0.35 * d, 2)}) for d in range(7, -1, -1)],
        {"weight_gain_7d"},
    ),
    "no-heart-failure-no-weight-rule": (
        ("E11.9",),
        [
            (48, "weight", {"weight": 80.0}),
            (24, "weight", {"weight": 80.1}),
            (0.5, "weight", {"weight": 81.6}),
        ],
        set(),
    ),
    "hypoglycaemia-level-1": ((), [(1, "glucose", {"glucose": 62.0})], {"glucose_hypo_level1"}),
    "hypoglycaemia-level-2": ((), [(1, "glucose", {"glucose": 48.0})], {"glucose_hypo_level2"}),
    "implausible-weight-jump-is-data-quality": (
        ("I50.9",),
        [(20, "weight", {"weight": 80.0}), (0.5, "weight", {"weight": 86.5})],
        {"weight_implausible_jump"},
    ),
    "impossible-value-never-clinical": (
        (),
        [(1, "blood_pressure", {"systolic": 320.0, "diastolic": 130.0, "flags": ("systolic_impossible",)})],
        {"impossible_value"},
    ),
    "normal-readings-no-alert": ((), [(h, "blood_pressure", _bp(122, 78)) for h in (30, 20, 10, 1)], set()),
}


@pytest.mark.parametrize("name", list(SCENARIOS), ids=list(SCENARIOS))
def test_scenario_raises_exactly_the_expected_alerts(world: World, name: str) -> None:
    conditions, readings, expected = SCENARIOS[name]
    patient = world.patient(*conditions)
    for hours_ago, kind, values in readings:
        values = dict(values)
        flags = values.pop("flags", ())
        world.reading(patient, hours_ago, kind, flags=flags, **values)
    world.evaluate(patient)
    alerts = world.alerts(patient)
    assert set(alerts) == expected
    for rule, alert in alerts.items():
        assert alert["state"] == "open"
        assert alert["explanation"]["rule"] == rule
        assert alert["explanation"]["parameters"] is not None


def test_no_data_for_three_days_then_recovery(world: World) -> None:
    patient = world.patient()
    world.device(patient)
    world.reading(patient, 24 * 3 + 2, "blood_pressure", **_bp(120, 80))
    with world.conn.transaction():
        adherence.no_data(world.conn, NOW)
    assert world.alerts(patient)["no_data"]["state"] == "open"
    with world.conn.transaction():
        adherence.no_data(world.conn, NOW + timedelta(hours=1))  # same silence: no new evidence
    assert world.alerts(patient)["no_data"]["count"] == 1
    world.reading(patient, 0, "blood_pressure", **_bp(120, 80))
    with world.conn.transaction():
        adherence.no_data(world.conn, NOW + timedelta(minutes=5))
    assert world.alerts(patient)["no_data"]["state"] == "auto_resolved"
