"""A month file as an auditor holds it: `rpm billing evaluate` gives the recorded codes and shortfalls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rpmctl.main import main

FIXTURES = Path(__file__).parent / "fixtures" / "billing"


def test_evaluate_sample_month_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["billing", "evaluate", str(FIXTURES / "riverside-2026-03.json")]) == 0
    output = json.loads(capsys.readouterr().out)
    expected = json.loads((FIXTURES / "riverside-2026-03.expected.json").read_text())
    got = {
        p["id"]: {
            "codes": [[c["code"], c["units"]] for c in p["codes"]],
            "missing": [[m["code"], m["short_by"]] for m in p["missing"]],
        }
        for p in output["patients"]
    }
    assert got == expected


def test_evaluate_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO('{"month": "2026-03", "patients": []}'))
    assert main(["billing", "evaluate", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["patients"] == []
