"""Program records on a scratch database: append-only time log, corrections, consent, care plans."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg
import pytest

from careteam_api.program import care_plans, consent, team, time_log
from careteam_api.program.care_plan_page import render_care_plan
from careteam_api.program.errors import InvalidRecord
from careteam_api.program.models import TimeEntryIn
from database.migrate import migrate


@dataclass(frozen=True)
class Seed:
    practice: uuid.UUID
    patient: uuid.UUID
    other_patient: uuid.UUID
    care_manager: uuid.UUID
    clinician: uuid.UUID
    biller: uuid.UUID


@pytest.fixture
def conn(scratch_database_url: str) -> Iterator[psycopg.Connection]:
    migrate(scratch_database_url)
    with psycopg.connect(scratch_database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def seed(conn: psycopg.Connection) -> Seed:
    practice = conn.execute(
        "INSERT INTO practices (name) VALUES ('Riverside') RETURNING practice_id"
    ).fetchone()[0]
    patients = [
        conn.execute(
            "INSERT INTO patients (practice_id, mrn, given_name, family_name, timezone)"
            " VALUES (%s, %s, 'Ada', 'Lovelace', 'America/Chicago') RETURNING patient_id",
            (practice, mrn),
        ).fetchone()[0]
        for mrn in ("1", "2")
    ]
    cm = team.create_user(conn, practice, "cm@example.org", "Carla Manager", "care_manager")
    dr = team.create_user(conn, practice, "dr@example.org", "Dr Quinn", "clinician", npi="1234567893")
    biller = team.create_user(conn, practice, "bill@example.org", "Bill Ing", "biller")
    return Seed(practice, patients[0], patients[1], cm.user_id, dr.user_id, biller.user_id)


def _entry(seed: Seed, minutes: int = 15, **kw: object) -> TimeEntryIn:
    values: dict[str, object] = {
        "patient_id": seed.patient,
        "user_id": seed.care_manager,
        "program": "ccm",
        "started_at": datetime(2026, 3, 5, 16, 0, tzinfo=UTC),
        "minutes": minutes,
        "activity": "call",
    }
    values.update(kw)
    return TimeEntryIn.model_validate(values)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE time_entries SET minutes = 60",
        "DELETE FROM time_entries",
        "TRUNCATE time_entries CASCADE",
    ],
    ids=["update", "delete", "truncate"],
)
def test_time_log_is_append_only_in_the_database(
    conn: psycopg.Connection, seed: Seed, statement: str
) -> None:
    time_log.log_time(conn, _entry(seed))
    with pytest.raises(psycopg.errors.RestrictViolation):
        conn.execute(statement)
    assert conn.execute("SELECT minutes FROM time_entries").fetchall() == [(15,)]


def test_role_comes_from_the_user(conn: psycopg.Connection, seed: Seed) -> None:
    assert time_log.log_time(conn, _entry(seed)).role == "clinical_staff"
    assert time_log.log_time(conn, _entry(seed, user_id=seed.clinician)).role == "physician"
    with pytest.raises(InvalidRecord, match="biller cannot log"):
        time_log.log_time(conn, _entry(seed, user_id=seed.biller))


def test_correction_is_a_new_entry_and_replaces_the_old(conn: psycopg.Connection, seed: Seed) -> None:
    first = time_log.log_time(conn, _entry(seed, 15))
    second = time_log.correct_entry(conn, first.entry_id, _entry(seed, 25, note="call ran longer"))
    third = time_log.correct_entry(conn, second.entry_id, _entry(seed, 22))
    assert third.corrects_entry_id == second.entry_id
    window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    current = time_log.entries_between(conn, [seed.patient], *window)
    assert [(e.entry_id, e.minutes, chain) for e, chain in current] == [
        (third.entry_id, 22, [second.entry_id, first.entry_id])
    ]
    assert conn.execute("SELECT count(*) FROM time_entries").fetchone() == (3,)  # nothing lost


def test_an_entry_is_corrected_once(conn: psycopg.Connection, seed: Seed) -> None:
    first = time_log.log_time(conn, _entry(seed))
    time_log.correct_entry(conn, first.entry_id, _entry(seed, 20))
    with pytest.raises(InvalidRecord, match="already corrected"):
        time_log.correct_entry(conn, first.entry_id, _entry(seed, 30))
    with pytest.raises(psycopg.errors.UniqueViolation):  # the database holds the line too
        conn.execute(
            "INSERT INTO time_entries (patient_id, user_id, role, program, started_at, minutes, activity,"
            " corrects_entry_id) VALUES (%s, %s, 'clinical_staff', 'ccm', now(), 5, 'call', %s)",
            (seed.patient, seed.care_manager, first.entry_id),
        )


def test_correction_must_belong_to_the_same_patient(conn: psycopg.Connection, seed: Seed) -> None:
    first = time_log.log_time(conn, _entry(seed))
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        time_log.correct_entry(conn, first.entry_id, _entry(seed, patient_id=seed.other_patient))


def test_void_keeps_the_original_and_counts_nothing(conn: psycopg.Connection, seed: Seed) -> None:
    first = time_log.log_time(conn, _entry(seed))
    void = time_log.void_entry(
        conn, first.entry_id, by=seed.care_manager, reason="logged on the wrong patient"
    )
    assert (void.minutes, void.corrects_entry_id) == (0, first.entry_id)
    with pytest.raises(psycopg.errors.CheckViolation):  # 0 minutes only as a correction
        conn.execute(
            "INSERT INTO time_entries (patient_id, user_id, role, program, started_at, minutes, activity)"
            " VALUES (%s, %s, 'clinical_staff', 'ccm', now(), 0, 'call')",
            (seed.patient, seed.care_manager),
        )


def test_consent_and_withdrawal(conn: psycopg.Connection, seed: Seed) -> None:
    record = consent.record_consent(
        conn,
        seed.patient,
        "ccm",
        method="verbal",
        consented_on=date(2026, 1, 10),
        obtained_by=seed.care_manager,
        consent_text="I agree to CCM; I know about cost sharing and that I can stop at any time.",
    )
    with pytest.raises(InvalidRecord, match="before the consent"):
        consent.withdraw_consent(conn, record.consent_id, date(2026, 1, 1))
    consent.withdraw_consent(conn, record.consent_id, date(2026, 3, 15), reason="moved away")
    with pytest.raises(InvalidRecord, match="already withdrawn"):
        consent.withdraw_consent(conn, record.consent_id, date(2026, 3, 20))
    assert [c.withdrawn_on for c in consent.consents_of(conn, seed.patient)] == [date(2026, 3, 15)]
    with pytest.raises(psycopg.errors.RestrictViolation):
        conn.execute("UPDATE consents SET consented_on = '2025-01-01'")
    with pytest.raises(InvalidRecord, match="text that was agreed to"):
        consent.record_consent(
            conn,
            seed.patient,
            "rpm",
            method="written",
            consented_on=date(2026, 1, 10),
            obtained_by=seed.care_manager,
        )


def test_billing_practitioner_must_be_a_clinician(conn: psycopg.Connection, seed: Seed) -> None:
    with pytest.raises(InvalidRecord, match="must be a clinician"):
        team.assign_patient(
            conn, seed.patient, effective_from=date(2026, 1, 1), billing_practitioner_id=seed.biller
        )
    team.assign_patient(
        conn, seed.patient, effective_from=date(2026, 1, 1), billing_practitioner_id=seed.clinician
    )
    assert team.billing_practitioner_for_month(conn, seed.patient, date(2026, 3, 31)) == seed.clinician
    assert team.billing_practitioner_for_month(conn, seed.patient, date(2025, 12, 31)) is None


def test_care_plan_versions_and_printable_page(conn: psycopg.Connection, seed: Seed) -> None:
    first = care_plans.add_version(
        conn,
        seed.patient,
        problems=["Hypertension"],
        goals=["Home BP < 130/80"],
        medications=["lisinopril 10 mg"],
    )
    second = care_plans.add_version(
        conn,
        seed.patient,
        problems=["Hypertension", "Type 2 diabetes <uncontrolled>"],
        goals=["A1c < 7 %"],
        medications=[{"name": "metformin", "dose": "500 mg twice daily"}],
        alert_thresholds={"bp_single_high": {"systolic_mmhg": 170}},
        author_id=seed.clinician,
    )
    assert (first.version, second.version) == (1, 2)
    assert [p.version for p in care_plans.history(conn, seed.patient)] == [1, 2]
    care_plans.record_shared(conn, seed.patient, 2, date.today(), "paper", seed.care_manager)
    assert care_plans.status_on(conn, seed.patient, date.today()) == (2, date.today(), date.today())
    with pytest.raises(psycopg.errors.RestrictViolation):
        conn.execute("DELETE FROM care_plan_versions")
    page = render_care_plan(
        second, patient_name="Ada Lovelace", practice_name="Riverside", care_team_phone="555-0100"
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "Type 2 diabetes &lt;uncontrolled&gt;" in page
    assert "metformin" in page
    assert "systolic_mmhg: 170" in page
    assert "555-0100" in page
    assert "<script" not in page


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        pytest.param(
            {"icd10": "I10", "description": "Essential hypertension"},
            "Essential hypertension (I10)",
            id="problem",
        ),
        pytest.param({"goal": "home BP below 130/80"}, "home BP below 130/80", id="goal"),
        pytest.param({"dose": "5 mg", "name": "amlodipine"}, "amlodipine (5 mg)", id="medication"),
        pytest.param({"a": 1, "b": 2}, "a: 1; b: 2", id="unknown-keys"),
        pytest.param("walk daily", "walk daily", id="plain-text"),
    ],
)
def test_care_plan_entries_read_as_text(entry: object, text: str) -> None:
    from careteam_api.program.care_plan_page import describe_item

    assert describe_item(entry) == text
