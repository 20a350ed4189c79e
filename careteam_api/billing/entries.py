"""Which time entries count toward a month, and why each of the others does not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from careteam_api.billing.calendar import consent_covers, local_day
from careteam_api.billing.model import ExcludedEntry, PatientMonth, Program, TimeEntry
from careteam_api.billing.overlap import Credit
from careteam_api.billing.rules import CCM_MIN_CHRONIC_CONDITIONS


@dataclass(frozen=True)
class CountedEntry:
    """An entry credited to one program this month, with its minutes after the overlap merge."""

    label: str
    program: Program
    role: str
    minutes: int
    at: datetime
    day: date
    interactive: bool
    complex: bool


def entry_label(patient: PatientMonth, index: int, entry: TimeEntry) -> str:
    """The entry's id, or its position in the file when the file gives none."""
    return entry.id if entry.id is not None else f"{patient.id}#time_entries[{index}]"


def _consent_reason(patient: PatientMonth, program: Program, entry: TimeEntry) -> str | None:
    consents = patient.consents_for(program)
    if consent_covers(consents, entry.at, patient.zone):
        return None
    if not consents:
        return f"no {program.upper()} consent on record"
    day = local_day(entry.at, patient.zone)
    withdrawn = [c.withdrawn for c in consents if c.withdrawn is not None and c.withdrawn <= day]
    if withdrawn and all(c.date <= day for c in consents):
        return f"after the patient withdrew {program.upper()} consent on {max(withdrawn)}"
    first = min(consents, key=lambda c: c.date)
    moment = first.obtained_at.isoformat() if first.obtained_at else str(first.date)
    return f"before {program.upper()} consent was documented ({moment})"


def _exclusion(
    patient: PatientMonth, entry: TimeEntry, credit: Credit, first: date, last: date
) -> str | None:
    """The first rule the entry fails, or None when it counts (order: month, minutes, who, consent,
    program prerequisites)."""
    day = local_day(entry.at, patient.zone)
    if not first <= day <= last:
        return f"outside the month (local day {day})"
    if entry.minutes == 0:
        return "no minutes (a voided entry)"
    if credit.minutes == 0:
        others = ", ".join(str(k) for k in credit.overlapped_by)
        return f"fully overlapped by the same user's entries ({others}): no minute counts twice"
    if entry.role == "other":
        return "not clinical staff or the billing practitioner"
    if (
        entry.role == "physician"
        and patient.billing_practitioner is not None
        and entry.user != patient.billing_practitioner
    ):
        return (
            f"physician {entry.user} is not this month's billing practitioner {patient.billing_practitioner}"
        )
    consent = _consent_reason(patient, entry.program, entry)
    if consent is not None:
        return consent
    if entry.program == "ccm":
        if len(patient.chronic_conditions) < CCM_MIN_CHRONIC_CONDITIONS:
            return (
                f"CCM needs {CCM_MIN_CHRONIC_CONDITIONS} or more chronic conditions; "
                f"{len(patient.chronic_conditions)} on record"
            )
        if patient.apcm:
            return "APCM is billed this month and bundles CCM"
    if entry.program == "rpm":
        start, end = patient.rpm_episode_start, patient.rpm_episode_end
        if start is None or day < start or (end is not None and day > end):
            return "outside an RPM episode of care"
    return None


def sort_entries(
    patient: PatientMonth, credits: Iterable[Credit], first: date, last: date
) -> tuple[list[CountedEntry], list[ExcludedEntry]]:
    """Split the patient's entries into counted (with credited minutes) and excluded (with the reason)."""
    counted: list[CountedEntry] = []
    excluded: list[ExcludedEntry] = []
    for index, (entry, credit) in enumerate(zip(patient.time_entries, credits, strict=True)):
        label = entry_label(patient, index, entry)
        reason = _exclusion(patient, entry, credit, first, last)
        if reason is not None:
            excluded.append(
                ExcludedEntry(entry=label, program=entry.program, minutes=entry.minutes, reason=reason)
            )
            continue
        counted.append(
            CountedEntry(
                label=label,
                program=entry.program,
                role=entry.role,
                minutes=credit.minutes,
                at=entry.at,
                day=local_day(entry.at, patient.zone),
                interactive=entry.interactive,
                complex=entry.complex,
            )
        )
    counted.sort(key=lambda e: (e.at, e.label))
    return counted, excluded


def day_reached(entries: list[CountedEntry], minutes: int) -> date | None:
    """The local day on which the running total of `entries` (in time order) reached `minutes`."""
    total = 0
    for entry in entries:
        total += entry.minutes
        if total >= minutes:
            return entry.day
    return None
