"""Reports over an evaluated month: the claims file, the per-patient audit trail, program metrics.

Each is a function of the month's input and the engine's result only, so it is reproducible from the two
files an auditor holds; the CLI and (later) the API only format them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import Decimal
from statistics import mean

from pydantic import BaseModel, ConfigDict

from careteam_api.billing.entries import entry_label
from careteam_api.billing.model import MonthInput, MonthResult, PatientMonth, PatientResult
from careteam_api.billing.rpm import data_days

CLAIM_COLUMNS = (
    "patient_id",
    "mrn",
    "patient_name",
    "billing_practitioner",
    "service_date",
    "code",
    "units",
    "description",
    "diagnoses",
    "estimated_payment",
)
# Professional claims (CMS-1500 / 837P) carry up to 12 diagnosis codes per claim.
MAX_CLAIM_DIAGNOSES = 12


def _pairs(month: MonthInput, result: MonthResult) -> list[tuple[PatientMonth, PatientResult]]:
    outcomes = {p.id: p for p in result.patients}
    return [(p, outcomes[p.id]) for p in month.patients]


def claims_csv(month: MonthInput, result: MonthResult) -> str:
    """One line per billed code, with the patient's chronic conditions as diagnoses."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CLAIM_COLUMNS)
    for patient, outcome in _pairs(month, result):
        for line in outcome.codes:
            writer.writerow(
                [
                    patient.id,
                    patient.mrn or "",
                    patient.name or "",
                    patient.billing_practitioner or "",
                    line.service_date.isoformat(),
                    line.code,
                    line.units,
                    line.description,
                    " ".join(patient.chronic_conditions[:MAX_CLAIM_DIAGNOSES]),
                    f"{result.billing_rules.payment(line.code) * line.units:.2f}",
                ]
            )
    return buffer.getvalue()


class AuditMinute(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry: str
    who: str
    role: str
    program: str
    at: str
    recorded_minutes: int
    credited_minutes: int
    activity: str | None
    note: str | None
    interactive: bool
    complex: bool
    supersedes: list[str]
    billed_under: list[str]
    excluded_because: str | None


class AuditReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: str
    patient: str
    mrn: str | None
    name: str | None
    billing_practitioner: str | None
    chronic_conditions: list[str]
    consent: dict[str, list[dict[str, str | None]]]
    care_plan: str
    codes: list[dict[str, object]]
    minutes: list[AuditMinute]
    data_days: list[str]
    missing: list[str]
    warnings: list[str]


def audit_report(month: MonthInput, result: MonthResult, patient_id: str) -> AuditReport:
    """Every minute of the month traced to who, when, what and how long, and what it was billed under."""
    pairs = {p.id: (p, r) for p, r in _pairs(month, result)}
    patient, outcome = pairs[patient_id]
    billed: dict[str, list[str]] = {}
    for line in outcome.codes:
        for entry in line.entries:
            billed.setdefault(entry, []).append(line.code)
    excluded = {e.entry: e.reason for e in outcome.excluded_entries}
    minutes = []
    for index, entry in enumerate(patient.time_entries):
        label = entry_label(patient, index, entry)
        minutes.append(
            AuditMinute(
                entry=label,
                who=entry.user_name or entry.user or "not recorded",
                role=entry.role,
                program=entry.program,
                at=entry.at.isoformat(),
                recorded_minutes=entry.recorded_minutes
                if entry.recorded_minutes is not None
                else entry.minutes,
                credited_minutes=entry.minutes,
                activity=entry.activity,
                note=entry.note,
                interactive=entry.interactive,
                complex=entry.complex,
                supersedes=entry.supersedes,
                billed_under=billed.get(label, []),
                excluded_because=excluded.get(label),
            )
        )
    plan = patient.care_plan
    plan_text = (
        f"version {plan.version} of {plan.created_on}, "
        + (f"shared with the patient {plan.shared_on}" if plan.shared_on else "NOT shared with the patient")
        if plan
        else "no care plan on record"
    )
    consent = {
        program: [
            {
                "date": str(c.date),
                "withdrawn": str(c.withdrawn) if c.withdrawn else None,
                "method": c.method,
                "obtained_by": c.obtained_by,
                "document_ref": c.document_ref,
            }
            for c in patient.consents_for(program)
        ]
        for program in ("ccm", "rpm")
    }
    days, _ = data_days(patient)
    return AuditReport(
        month=month.month,
        patient=patient.id,
        mrn=patient.mrn,
        name=patient.name,
        billing_practitioner=patient.billing_practitioner,
        chronic_conditions=patient.chronic_conditions,
        consent=consent,
        care_plan=plan_text,
        codes=[
            {"code": c.code, "units": c.units, "service_date": str(c.service_date), "why": c.why}
            for c in outcome.codes
        ],
        minutes=minutes,
        data_days=[str(d) for d in sorted(days)],
        missing=[
            f"{m.code}: {m.short_by} more {m.unit.replace('_', ' ')} by {m.by} ({m.note})"
            for m in outcome.missing
        ],
        warnings=outcome.warnings,
    )


class ProgramMetrics(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: str
    patients: int
    ccm_eligible: int
    ccm_consented: int
    rpm_enrolled: int
    billed_patients: int
    mean_data_days_rpm: float | None
    mean_minutes: dict[str, float | None]
    share_reaching: dict[str, float | None]
    units_by_code: dict[str, int]
    revenue_by_code: dict[str, Decimal]
    revenue_total: Decimal


def _share(hits: int, of: int) -> float | None:
    return round(hits / of, 3) if of else None


def program_metrics(month: MonthInput, result: MonthResult) -> ProgramMetrics:
    """Enrolment, engagement, time and threshold attainment, and estimated revenue at configured payments."""
    pairs = _pairs(month, result)
    ccm = [(p, r) for p, r in pairs if p.consents_for("ccm")]
    rpm = [(p, r) for p, r in pairs if p.rpm_episode_start is not None]
    units: Counter[str] = Counter()
    for _, outcome in pairs:
        for line in outcome.codes:
            units[line.code] += line.units

    def has(outcome: PatientResult, *codes: str) -> bool:
        return any(line.code in codes for line in outcome.codes)

    rules = result.billing_rules
    revenue = {code: rules.payment(code) * n for code, n in sorted(units.items())}
    in_month = [sum(1 for d in data_days(p)[0] if month.first_day <= d <= month.last_day) for p, _ in rpm]
    return ProgramMetrics(
        month=month.month,
        patients=len(pairs),
        ccm_eligible=sum(1 for p, _ in pairs if len(p.chronic_conditions) >= 2),
        ccm_consented=len(ccm),
        rpm_enrolled=len(rpm),
        billed_patients=sum(1 for _, r in pairs if r.codes),
        mean_data_days_rpm=round(mean(in_month), 1) if in_month else None,
        mean_minutes={
            "ccm": round(mean(r.counted_minutes.get("ccm", 0) for _, r in ccm), 1) if ccm else None,
            "rpm": round(mean(r.counted_minutes.get("rpm", 0) for _, r in rpm), 1) if rpm else None,
        },
        share_reaching={
            "ccm_20_min": _share(sum(has(r, "99490", "99487", "99491") for _, r in ccm), len(ccm)),
            "ccm_40_min": _share(sum(has(r, "99439", "99487", "99437") for _, r in ccm), len(ccm)),
            "rpm_2_days": _share(sum(has(r, "99445", "99454") for _, r in rpm), len(rpm)),
            "rpm_16_days": _share(sum(has(r, "99454") for _, r in rpm), len(rpm)),
            "rpm_10_min": _share(sum(has(r, "99470", "99457") for _, r in rpm), len(rpm)),
            "rpm_20_min": _share(sum(has(r, "99457") for _, r in rpm), len(rpm)),
        },
        units_by_code=dict(sorted(units.items())),
        revenue_by_code=revenue,
        revenue_total=sum(revenue.values(), Decimal(0)),
    )
