"""What a parser hands the loader: patients with their conditions, and the parts it had to reject."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from careteam_api.program.models import Condition
from careteam_api.program.patients import PatientRow

_ICD10 = re.compile(r"^([A-Z][0-9][0-9A-Z])\.?([0-9A-Z]{1,4})?$")
MAX_MRN_LENGTH = 64  # longer than any MRN format we have seen; keeps a pasted note out of the key


@dataclass(frozen=True)
class Rejection:
    """Where in the file (`row 4`, `entry 7`) and why it was not loaded."""

    where: str
    reason: str


@dataclass
class ParsedPatient:
    where: str
    row: PatientRow
    conditions: list[Condition] = field(default_factory=list)


@dataclass
class ParsedFile:
    patients: list[ParsedPatient] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class RowError(ValueError):
    """One row or entry is bad; the message is the reason shown to the user."""


def normalise_icd10(code: str) -> str:
    """`e119` and `E11.9` are the same ICD-10-CM code; stored with the dot after the category."""
    match = _ICD10.match(code.strip().upper())
    if match is None:
        raise RowError(f"{code!r} is not an ICD-10-CM code (like I10 or E11.9)")
    category, rest = match.groups()
    return f"{category}.{rest}" if rest else category


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RowError(f"unknown time zone {name!r} (use an IANA name such as America/Chicago)") from exc
    return name


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as exc:
        raise RowError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from exc


def check_patient(
    mrn: str, given: str, family: str, birth: date | None, timezone: str, today: date
) -> PatientRow:
    mrn = mrn.strip()
    if not mrn:
        raise RowError("no MRN")
    if len(mrn) > MAX_MRN_LENGTH:
        raise RowError(f"MRN longer than {MAX_MRN_LENGTH} characters")
    if not given.strip() or not family.strip():
        raise RowError("given and family name are both required")
    if birth is not None and birth > today:
        raise RowError(f"birth date {birth} is in the future")
    return PatientRow(mrn, given.strip(), family.strip(), birth, check_timezone(timezone))


def drop_repeated_mrns(parsed: ParsedFile) -> ParsedFile:
    """The second time an MRN appears in one file it is rejected: which one is right is not ours to guess."""
    first: dict[str, str] = {}
    kept: list[ParsedPatient] = []
    for patient in parsed.patients:
        if patient.row.mrn in first:
            parsed.rejected.append(
                Rejection(
                    patient.where, f"MRN {patient.row.mrn} repeated (first at {first[patient.row.mrn]})"
                )
            )
            continue
        first[patient.row.mrn] = patient.where
        kept.append(patient)
    parsed.patients = kept
    return parsed
