"""Load a parsed panel into the database, one savepoint per patient, and report eligibility.

Idempotent on (practice, MRN): loading the same file twice creates nothing the second time. A patient the
database refuses is reported like a bad row; the others still load. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg

from careteam_api.program.conditions import Eligibility, conditions_of, eligibility, upsert_condition
from careteam_api.program.errors import ImportFileError
from careteam_api.program.importing.csv_source import parse_csv
from careteam_api.program.importing.fhir_source import parse_bundle
from careteam_api.program.importing.records import ParsedFile, Rejection
from careteam_api.program.patients import Practice, upsert_patient


@dataclass(frozen=True)
class Loaded:
    where: str
    mrn: str
    name: str
    outcome: str  # created, updated, unchanged
    conditions_changed: int
    eligibility: Eligibility


@dataclass
class ImportReport:
    loaded: list[Loaded] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.loaded if item.outcome == outcome)

    @property
    def eligible(self) -> list[Loaded]:
        return [item for item in self.loaded if item.eligibility.eligible]


def parse_file(path: Path, *, default_timezone: str, today: date) -> ParsedFile:
    """CSV or FHIR JSON, told apart by content (a JSON object) rather than by the file name."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"cannot read {path}: {exc}") from exc
    if text.lstrip().startswith("{"):
        return parse_bundle(text, default_timezone=default_timezone, today=today)
    return parse_csv(text, default_timezone=default_timezone, today=today)


def load(conn: psycopg.Connection, practice: Practice, parsed: ParsedFile) -> ImportReport:
    report = ImportReport(rejected=list(parsed.rejected))
    for patient in parsed.patients:
        try:
            with conn.transaction():
                patient_id, outcome = upsert_patient(conn, practice.practice_id, patient.row)
                changed = sum(
                    upsert_condition(conn, patient_id, c, _source(patient.where)) for c in patient.conditions
                )
        except psycopg.errors.DataError as exc:
            report.rejected.append(
                Rejection(patient.where, f"refused by the database: {exc.diag.message_primary}")
            )
            continue
        except psycopg.errors.IntegrityError as exc:
            report.rejected.append(
                Rejection(patient.where, f"refused by the database: {exc.diag.message_primary}")
            )
            continue
        if outcome == "unchanged" and changed:
            outcome = "updated"
        report.loaded.append(
            Loaded(
                where=patient.where,
                mrn=patient.row.mrn,
                name=f"{patient.row.given_name} {patient.row.family_name}",
                outcome=outcome,
                conditions_changed=changed,
                eligibility=eligibility(conditions_of(conn, patient_id)),
            )
        )
    report.rejected.sort(key=lambda r: int(r.where.split()[1]))
    return report


def _source(where: str) -> str:
    return "csv" if where.startswith("row") else "fhir"
