"""The billing decision for one practice and one month: a pure function of the input file.

Order of work: merge overlapping time of each user across the whole practice (no minute counts twice),
sort each patient's entries into counted and excluded, then decide CCM, RPM device and RPM management
codes independently (an entry belongs to exactly one program, so their minutes are always separate).
"""

from __future__ import annotations

from careteam_api.billing.ccm import ccm_codes
from careteam_api.billing.entries import entry_label, sort_entries
from careteam_api.billing.model import MonthInput, MonthResult, PatientMonth, PatientResult, Shortfall
from careteam_api.billing.overlap import Credit, Interval, merge_overlaps
from careteam_api.billing.rpm import device_codes, management_codes
from careteam_api.billing.rules import CCM_MIN_CHRONIC_CONDITIONS


def _credits(month: MonthInput) -> dict[str, Credit]:
    intervals = []
    for patient in month.patients:
        for index, entry in enumerate(patient.time_entries):
            label = entry_label(patient, index, entry)
            # Without a user the entries of one patient are taken as one person's: the safe reading.
            user = entry.user if entry.user is not None else f"unknown user of {patient.id}"
            intervals.append(
                Interval(key=label, user=user, start=entry.at, minutes=entry.minutes, order=label)
            )
    return {str(k): v for k, v in merge_overlaps(intervals).items()}


def _in_ccm(patient: PatientMonth) -> bool:
    return bool(patient.consents_for("ccm")) or any(e.program == "ccm" for e in patient.time_entries)


def _in_rpm(patient: PatientMonth) -> bool:
    return (
        patient.rpm_episode_start is not None
        or bool(patient.program_consents.get("rpm"))
        or any(e.program == "rpm" for e in patient.time_entries)
    )


def evaluate_patient(month: MonthInput, patient: PatientMonth, credits: dict[str, Credit]) -> PatientResult:
    """One patient's codes, shortfalls and excluded entries for the month."""
    first, last = month.first_day, month.last_day
    as_of = month.as_of or last
    rules = month.rules
    own = [credits[entry_label(patient, i, e)] for i, e in enumerate(patient.time_entries)]
    counted, excluded = sort_entries(patient, own, first, last)
    codes, missing, warnings = [], [], []
    if _in_ccm(patient):
        if len(patient.chronic_conditions) < CCM_MIN_CHRONIC_CONDITIONS:
            have = len(patient.chronic_conditions)
            missing.append(
                Shortfall(
                    code="99490",
                    unit="chronic_conditions",
                    needed=CCM_MIN_CHRONIC_CONDITIONS,
                    have=have,
                    short_by=CCM_MIN_CHRONIC_CONDITIONS - have,
                    by=None,
                    reachable=False,
                    note="CCM needs two or more chronic conditions expected to last 12 months or more",
                )
            )
        elif not patient.apcm:
            lines, short = ccm_codes(counted, rules, last, as_of)
            codes += lines
            missing += short
            if lines:
                warnings += _care_plan_warnings(patient)
    if _in_rpm(patient):
        lines, short, left_out = device_codes(patient, rules, first, last, as_of)
        codes += lines
        missing += short
        if left_out:
            warnings.append(
                f"{left_out} readings not counted as data days (not transmitted automatically, or outside "
                "the episode or consent)"
            )
        lines, short = management_codes(counted, rules, last, as_of)
        codes += lines
        missing += short
    totals = {"ccm": 0, "rpm": 0}
    for entry in counted:
        totals[entry.program] += entry.minutes
    return PatientResult(
        id=patient.id,
        codes=sorted(codes, key=lambda c: (c.service_date, c.code)),
        missing=missing,
        excluded_entries=excluded,
        counted_minutes=totals,
        warnings=warnings,
    )


def _care_plan_warnings(patient: PatientMonth) -> list[str]:
    plan = patient.care_plan
    if plan is None:
        return ["CCM billed with no care plan on record (a comprehensive care plan is required)"]
    if plan.shared_on is None:
        return [f"care plan version {plan.version} not yet shared with the patient (a copy is required)"]
    return []


def evaluate(month: MonthInput) -> MonthResult:
    """The codes of every patient in `month`, with their evidence and shortfalls."""
    credits = _credits(month)
    return MonthResult(
        month=month.month,
        practice=month.practice,
        billing_rules=month.rules,
        patients=[evaluate_patient(month, patient, credits) for patient in month.patients],
    )
