"""`rpm patients import`: CSV and FHIR R4 panels into a scratch database, bad rows reported, idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from careteam_api.program.errors import ImportFileError
from careteam_api.program.importing.fhir_source import parse_bundle
from database.migrate import migrate
from rpmctl.main import main

FIXTURES = Path(__file__).parent / "fixtures" / "import"


@pytest.fixture
def practice_db(scratch_database_url: str) -> str:
    migrate(scratch_database_url)
    with psycopg.connect(scratch_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO practices (name, timezone) VALUES ('Riverside', 'America/Chicago')")
    return scratch_database_url


def _import(url: str, name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "patients",
            "import",
            str(FIXTURES / name),
            "--practice",
            "Riverside",
            "--json",
            "--database-url",
            url,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_csv_loads_good_rows_and_rejects_bad_ones_with_row_numbers(
    practice_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _import(practice_db, "panel.csv", capsys)
    assert code == 1  # some rows rejected; the good ones are loaded all the same
    rejected = {r["where"]: r["reason"] for r in report["rejected"]}
    assert sorted(rejected) == ["row 10", "row 5", "row 6", "row 7", "row 8", "row 9"]
    assert "not a date" in rejected["row 5"]
    assert "unknown time zone" in rejected["row 6"]
    assert "y, n or empty" in rejected["row 7"]
    assert "repeated (first at row 2)" in rejected["row 8"]
    assert "not an ICD-10-CM code" in rejected["row 9"]
    assert rejected["row 10"] == "no MRN"
    loaded = {p["mrn"]: p for p in report["loaded"]}
    assert sorted(loaded) == ["1001", "1002", "1003", "1008"]
    assert loaded["1001"]["qualifying_conditions"] == ["E11.9", "I10"]
    assert loaded["1002"]["ccm_eligible"] is False
    assert loaded["1003"]["ccm_eligible"] is True
    assert loaded["1003"]["not_counted"] == [
        {"icd10": "J45.909", "why": "not assessed whether it lasts 12 months"}
    ]
    assert loaded["1008"]["qualifying_conditions"] == ["E11.9", "F33.1"]
    with psycopg.connect(practice_db) as conn:
        zone = conn.execute("SELECT timezone FROM patients WHERE mrn = '1002'").fetchone()
    assert zone == ("America/Chicago",)  # empty cell: the practice's time zone


def test_import_is_idempotent_on_practice_and_mrn(
    practice_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(practice_db, "panel.csv", capsys)
    _, again = _import(practice_db, "panel.csv", capsys)
    assert {p["outcome"] for p in again["loaded"]} == {"unchanged"}
    with psycopg.connect(practice_db) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM chronic_conditions)"
        ).fetchone()
    assert counts == (4, 8)


def test_fhir_bundle_loads_patients_and_conditions_and_rejects_by_entry_index(
    practice_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _import(practice_db, "panel_bundle.json", capsys)
    assert code == 1
    rejected = {r["where"]: r["reason"] for r in report["rejected"]}
    assert sorted(rejected, key=lambda w: int(w.split()[1])) == [f"entry {i}" for i in (5, 6, 7, 8, 9, 10)]
    assert "no ICD-10-CM coding" in rejected["entry 5"]
    assert "no medical record number" in rejected["entry 6"]
    assert rejected["entry 7"] == "its patient (entry 6) was rejected"
    assert "resolved" in rejected["entry 8"]
    assert "not a Patient or Condition" in rejected["entry 9"]
    assert "not a Patient in this Bundle" in rejected["entry 10"]
    loaded = {p["mrn"]: p for p in report["loaded"]}
    assert loaded["2001"]["ccm_eligible"] is True
    assert loaded["2001"]["qualifying_conditions"] == ["E11.9", "I10"]
    assert loaded["2002"]["ccm_eligible"] is False
    with psycopg.connect(practice_db) as conn:
        onset = conn.execute("SELECT onset::text FROM chronic_conditions WHERE icd10 = 'E11.9'").fetchone()
    assert onset == ("2019-06-01",)


def test_text_report_explains_eligibility(practice_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "patients",
            "import",
            str(FIXTURES / "panel.csv"),
            "--practice",
            "Riverside",
            "--database-url",
            practice_db,
        ]
    )
    out = capsys.readouterr().out
    assert "CCM-eligible: 3 of 4" in out
    assert "MRN 1001 Ada Lovelace: CCM-eligible: 2 qualifying (E11.9 Type 2 diabetes since 2020-01-15" in out
    assert "row 5: birth date '1950-13-01' is not a date (YYYY-MM-DD)" in out


def test_unknown_practice_exits_2(practice_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "patients",
            "import",
            str(FIXTURES / "panel.csv"),
            "--practice",
            "Nowhere",
            "--database-url",
            practice_db,
        ]
    )
    assert code == 2
    assert "no practice with id or name 'Nowhere'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [("[]", "not a FHIR Bundle"), ("{", "not JSON"), ('{"resourceType": "Patient"}', "not a FHIR Bundle")],
    ids=["json-array", "broken-json", "a-single-patient"],
)
def test_unusable_fhir_file_is_one_error(text: str, message: str) -> None:
    from datetime import date

    with pytest.raises(ImportFileError, match=message):
        parse_bundle(text, default_timezone="UTC", today=date(2026, 3, 1))
