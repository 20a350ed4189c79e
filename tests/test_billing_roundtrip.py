"""From program records in the database to codes: export a month, re-run it from the file, report on it."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from careteam_api.billing.engine import evaluate
from careteam_api.billing.export import build_month_input
from careteam_api.program import care_plans, consent, episodes, team, time_log
from careteam_api.program.conditions import upsert_condition
from careteam_api.program.models import Condition, TimeEntryIn
from careteam_api.program.patients import find_practice
from database.migrate import migrate
from rpmctl.main import main


def _patient(conn: psycopg.Connection, practice: uuid.UUID, mrn: str, codes: list[str]) -> uuid.UUID:
    patient = conn.execute(
        "INSERT INTO patients (practice_id, mrn, given_name, family_name, timezone)"
        " VALUES (%s, %s, 'Pat', %s, 'America/Chicago') RETURNING patient_id",
        (practice, mrn, f"Number{mrn}"),
    ).fetchone()[0]
    for code in codes:
        upsert_condition(conn, patient, Condition(icd10=code, expected_12_months=True), "manual")
    return patient


def _reading(conn: psycopg.Connection, patient: uuid.UUID, at: datetime, source: str) -> None:
    conn.execute(
        "INSERT INTO readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source,"
        " systolic_mmhg, diastolic_mmhg, device_unit, time_source, received_at)"
        " VALUES (%s, %s, %s, 'SN-1', 'hub-1', 'blood_pressure', %s, 128, 82, 'mmHg', 'device', %s)",
        (at, uuid.uuid4(), patient, source, at),
    )


def _seed(conn: psycopg.Connection) -> dict[str, Any]:
    practice = conn.execute(
        "INSERT INTO practices (name, timezone) VALUES ('Riverside', 'America/Chicago') RETURNING practice_id"
    ).fetchone()[0]
    cm = team.create_user(conn, practice, "cm@example.org", "Carla Manager", "care_manager").user_id
    dr = team.create_user(conn, practice, "dr@example.org", "Dr Quinn", "clinician").user_id
    a = _patient(conn, practice, "A1", ["I10", "E11.9"])
    b = _patient(conn, practice, "B2", ["I10"])
    team.assign_patient(conn, a, effective_from=date(2026, 1, 1), billing_practitioner_id=dr)
    for patient in (a, b):
        consent.record_consent(
            conn,
            patient,
            "ccm",
            method="verbal",
            consented_on=date(2026, 1, 10),
            obtained_by=cm,
            consent_text="CCM consent script v3",
        )
    consent.record_consent(
        conn,
        a,
        "rpm",
        method="written",
        consented_on=date(2026, 2, 20),
        obtained_by=cm,
        document_ref="scan-881",
    )
    conn.execute("INSERT INTO hubs (hub_id, practice_id) VALUES ('hub-1', %s)", (practice,))
    conn.execute(
        "INSERT INTO devices (device_id, model, profile, hub_id) VALUES ('SN-1', 'UA-651BLE', 'x', 'hub-1')"
    )
    episode = episodes.start_episode(conn, a, date(2026, 3, 1))
    episodes.add_device(conn, episode.episode_id, "SN-1", date(2026, 3, 1))
    setup = datetime(2026, 3, 1, 15, tzinfo=UTC)
    episodes.record_setup(conn, episode.episode_id, setup_at=setup, education_at=setup, by=cm)
    for day in range(1, 17):  # 07:40 in Chicago, 16 data days
        _reading(conn, a, datetime(2026, 3, day, 7, 40, tzinfo=UTC) + timedelta(hours=6), "ble")
    for day in (20, 21, 22):
        _reading(conn, a, datetime(2026, 3, day, 15, tzinfo=UTC), "manual")
    # The plan in force must predate the month: written with an explicit created_at (insert only).
    conn.execute(
        "INSERT INTO care_plan_versions (patient_id, version, problems, goals, created_at)"
        """ VALUES (%s, 1, '["Hypertension"]', '["BP < 130/80"]', '2026-02-01T15:00:00Z')""",
        (a,),
    )
    care_plans.record_shared(conn, a, 1, date(2026, 2, 2), "portal", cm)

    def log(patient: uuid.UUID, program: str, at: datetime, minutes: int, **kw: Any) -> int:
        entry = TimeEntryIn(
            patient_id=patient,
            user_id=cm,
            program=program,
            started_at=at,
            minutes=minutes,
            activity="call",
            **kw,
        )  # type: ignore[arg-type]
        return time_log.log_time(conn, entry).entry_id

    first = log(a, "ccm", datetime(2026, 3, 5, 16, tzinfo=UTC), 15)
    corrected = time_log.correct_entry(
        conn,
        first,
        TimeEntryIn(
            patient_id=a,
            user_id=cm,
            program="ccm",
            started_at=datetime(2026, 3, 5, 16, tzinfo=UTC),
            minutes=25,
            activity="care_plan",
            note="call ran longer",
        ),
    ).entry_id
    rpm = log(a, "rpm", datetime(2026, 3, 6, 16, tzinfo=UTC), 20, interactive=True)
    overlapping = log(a, "rpm", datetime(2026, 3, 6, 16, 10, tzinfo=UTC), 20)
    log(a, "ccm", datetime(2026, 2, 27, 16, tzinfo=UTC), 30)  # February: not this month
    log(b, "ccm", datetime(2026, 3, 7, 16, tzinfo=UTC), 30)
    return {
        "practice": practice,
        "a": str(a),
        "b": str(b),
        "first": first,
        "corrected": corrected,
        "rpm": rpm,
        "overlapping": overlapping,
    }


@pytest.fixture
def seeded(scratch_database_url: str) -> tuple[str, dict[str, Any]]:
    migrate(scratch_database_url)
    with psycopg.connect(scratch_database_url) as conn:
        ids = _seed(conn)
    return scratch_database_url, ids


def _codes(output: dict[str, Any], patient: str) -> list[tuple[str, int]]:
    found = next(p for p in output["patients"] if p["id"] == patient)
    return sorted((c["code"], c["units"]) for c in found["codes"])


def test_export_then_evaluate_round_trip(
    seeded: tuple[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, ids = seeded
    path = tmp_path / "riverside-2026-03.json"
    assert (
        main(
            [
                "billing",
                "export",
                "--practice",
                "Riverside",
                "--month",
                "2026-03",
                str(path),
                "--database-url",
                url,
            ]
        )
        == 0
    )
    exported = json.loads(path.read_text())
    a = next(p for p in exported["patients"] if p["id"] == ids["a"])
    entries = {e["id"]: e for e in a["time_entries"]}
    assert str(ids["first"]) not in entries  # superseded by its correction
    assert entries[str(ids["corrected"])]["supersedes"] == [str(ids["first"])]
    assert entries[str(ids["corrected"])]["minutes"] == 25
    assert entries[str(ids["overlapping"])]["minutes"] == 10  # its first 10 minutes overlap the other call
    assert entries[str(ids["overlapping"])]["recorded_minutes"] == 20
    capsys.readouterr()
    assert main(["billing", "evaluate", str(path)]) == 0
    output = json.loads(capsys.readouterr().out)
    assert _codes(output, ids["a"]) == [("99453", 1), ("99454", 1), ("99457", 1), ("99490", 1)]
    assert _codes(output, ids["b"]) == []
    b = next(p for p in output["patients"] if p["id"] == ids["b"])
    assert b["missing"][0]["unit"] == "chronic_conditions"
    a_out = next(p for p in output["patients"] if p["id"] == ids["a"])
    assert a_out["counted_minutes"] == {"ccm": 25, "rpm": 30}
    assert any("3 readings not counted" in w for w in a_out["warnings"])
    with psycopg.connect(url) as conn:
        direct = evaluate(build_month_input(conn, find_practice(conn, "Riverside"), "2026-03"))
    assert direct.model_dump(mode="json") == output


def test_claims_audit_and_metrics(
    seeded: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, ids = seeded
    source = ["--practice", "Riverside", "--month", "2026-03", "--database-url", url]
    assert main(["billing", "claims", *source]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["code"] for r in rows) == ["99453", "99454", "99457", "99490"]
    assert {r["mrn"] for r in rows} == {"A1"}
    assert rows[0]["diagnoses"] == "E11.9 I10"
    assert main(["billing", "audit", "--patient", "A1", *source]) == 0
    audit = json.loads(capsys.readouterr().out)
    minutes = {m["entry"]: m for m in audit["minutes"]}
    corrected = minutes[str(ids["corrected"])]
    assert (corrected["who"], corrected["credited_minutes"], corrected["billed_under"]) == (
        "Carla Manager",
        25,
        ["99490"],
    )
    assert corrected["supersedes"] == [str(ids["first"])]
    assert audit["consent"]["rpm"][0]["document_ref"] == "scan-881"
    assert audit["care_plan"] == "version 1 of 2026-02-01, shared with the patient 2026-02-02"
    assert main(["billing", "metrics", "--payment", "99490=70", *source]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["revenue_total"] == "191"  # 70 + 22 + 47 + 52
    assert (metrics["ccm_eligible"], metrics["ccm_consented"], metrics["rpm_enrolled"]) == (1, 2, 1)
    assert metrics["share_reaching"]["ccm_20_min"] == 0.5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "Invalid JSON"),
        ('{"month": "2026-13", "patients": []}', "month: month '2026-13' is not YYYY-MM"),
        (
            '{"month": "2026-03", "patients": [{"id": "x", "timezone": "Nowhere/City"}]}',
            "patients[0].timezone",
        ),
        ('{"month": "2026-03", "patients": [], "extra": 1}', "extra: Extra inputs are not permitted"),
        (
            '{"month": "2026-03", "patients": [{"id": "x", "timezone": "UTC", "time_entries": '
            '[{"program": "ccm", "minutes": -5, "at": "2026-03-02T10:00:00Z", "role": "clinical_staff"}]}]}',
            "patients[0].time_entries[0].minutes",
        ),
        (
            '{"month": "2026-03", "patients": [{"id": "x", "timezone": "UTC", "readings": '
            '[{"at": "2026-03-02T10:00:00", "source": "ble"}]}]}',
            "patients[0].readings[0].at: Input should have timezone info",
        ),
    ],
    ids=["not-json", "bad-month", "unknown-time-zone", "unknown-field", "negative-minutes", "naive-time"],
)
def test_invalid_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    assert main(["billing", "evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message in err
