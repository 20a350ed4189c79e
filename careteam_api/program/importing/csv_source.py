"""A practice panel as CSV: one patient per row.

Header: mrn,given_name,family_name,birth_date,timezone,conditions (timezone may be empty: the practice's).
`conditions` lists `CODE|ONSET|LASTS|DESCRIPTION` items separated by `;`, where ONSET is YYYY-MM-DD or empty,
LASTS is y (expected to last 12 months or more), n, or empty (not assessed), and DESCRIPTION is optional:
`I10|2018-04-02|y|Essential hypertension; E11.9|2020-01-15|y`.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from careteam_api.program.errors import ImportFileError
from careteam_api.program.importing.records import (
    ParsedFile,
    ParsedPatient,
    Rejection,
    RowError,
    check_patient,
    drop_repeated_mrns,
    normalise_icd10,
    parse_date,
)
from careteam_api.program.models import Condition

REQUIRED_COLUMNS = ("mrn", "given_name", "family_name", "birth_date", "timezone", "conditions")
_LASTS = {"y": True, "yes": True, "n": False, "no": False, "": None}


def _condition(item: str, position: int) -> Condition:
    parts = [p.strip() for p in item.split("|")]
    if len(parts) > 4:
        raise RowError(f"condition {position} {item.strip()!r} has more than CODE|ONSET|LASTS|DESCRIPTION")
    parts += [""] * (4 - len(parts))
    code, onset, lasts, description = parts
    if lasts.lower() not in _LASTS:
        raise RowError(
            f"condition {position} ({code}): expected-to-last must be y, n or empty, not {lasts!r}"
        )
    return Condition(
        icd10=normalise_icd10(code),
        onset=parse_date(onset, f"condition {position} onset") if onset else None,
        expected_12_months=_LASTS[lasts.lower()],
        description=description or None,
    )


def _row(record: dict[str, str], default_timezone: str, where: str, today: date) -> ParsedPatient:
    birth = record["birth_date"].strip()
    row = check_patient(
        record["mrn"] or "",
        record["given_name"] or "",
        record["family_name"] or "",
        parse_date(birth, "birth date") if birth else None,
        (record["timezone"] or "").strip() or default_timezone,
        today,
    )
    items = [i for i in (record["conditions"] or "").split(";") if i.strip()]
    conditions = [_condition(item, n) for n, item in enumerate(items, start=1)]
    codes = [c.icd10 for c in conditions]
    if len(set(codes)) != len(codes):
        raise RowError("a condition code is listed twice")
    return ParsedPatient(where=where, row=row, conditions=conditions)


def parse_csv(text: str, *, default_timezone: str, today: date) -> ParsedFile:
    """Every row parsed or rejected with its row number (the header is row 1, as a spreadsheet shows it)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFileError(
            f"the CSV header lacks {', '.join(missing)} (expected {','.join(REQUIRED_COLUMNS)})"
        )
    parsed = ParsedFile()
    for number, record in enumerate(reader, start=2):
        where = f"row {number}"
        if None in record or any(record.get(c) is None for c in REQUIRED_COLUMNS):
            parsed.rejected.append(Rejection(where, f"expected {len(REQUIRED_COLUMNS)} columns"))
            continue
        try:
            parsed.patients.append(_row(record, default_timezone, where, today))
        except RowError as exc:
            parsed.rejected.append(Rejection(where, str(exc)))
    return drop_repeated_mrns(parsed)
