"""Billing reports of the caller's practice: month evaluation, claims CSV, audit, metrics, export.

Each builds the month's input from the database (billing.export) and runs the pure engine on it, exactly as
`rpm billing` does, so the API and the CLI always agree.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse

from careteam_api import audit, progress
from careteam_api.api import API_PREFIX
from careteam_api.api.schemas import ProgressPublic
from careteam_api.api.scope import BillingPatient, BillingUser, TimeReadPatient
from careteam_api.auth.sessions import Principal
from careteam_api.billing.engine import evaluate
from careteam_api.billing.export import build_month_input
from careteam_api.billing.model import MonthInput, MonthResult
from careteam_api.billing.reports import (
    AuditReport,
    ProgramMetrics,
    audit_report,
    claims_csv,
    program_metrics,
)
from careteam_api.db import DbSession
from careteam_api.program.patients import find_practice

router = APIRouter(prefix=API_PREFIX, tags=["billing"])
Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


def _month(conn: DbSession, user: Principal, month: str) -> MonthInput:
    return build_month_input(conn, find_practice(conn, str(user.practice_id)), month)


def _audited(conn: DbSession, request: Request, user: Principal, month: str, **detail: Any) -> None:
    audit.record(conn, request, user, patient_id=None, action="export", month=month, **detail)


@router.get("/billing/{month}/export", response_model=MonthInput)
def export(month: Month, request: Request, conn: DbSession, user: BillingUser) -> MonthInput:
    """The month's billing input, as `rpm billing export` writes it (re-evaluable without the database)."""
    _audited(conn, request, user, month)
    return _month(conn, user, month)


@router.get("/billing/{month}/evaluation", response_model=MonthResult)
def evaluation(month: Month, request: Request, conn: DbSession, user: BillingUser) -> MonthResult:
    """The engine's codes for every patient, with evidence and shortfalls."""
    _audited(conn, request, user, month)
    return evaluate(_month(conn, user, month))


@router.get(
    "/billing/{month}/claims.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def claims(month: Month, request: Request, conn: DbSession, user: BillingUser) -> PlainTextResponse:
    _audited(conn, request, user, month)
    data = _month(conn, user, month)
    return PlainTextResponse(
        claims_csv(data, evaluate(data)),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="claims-{month}.csv"'},
    )


@router.get("/billing/{month}/metrics", response_model=ProgramMetrics)
def metrics(month: Month, request: Request, conn: DbSession, user: BillingUser) -> ProgramMetrics:
    _audited(conn, request, user, month)
    data = _month(conn, user, month)
    return program_metrics(data, evaluate(data))


@router.get("/patients/{patient_id}/billing/{month}/audit", response_model=AuditReport)
def patient_audit(patient: BillingPatient, month: Month, conn: DbSession) -> AuditReport:
    """Every minute of the patient's month traced to who, when, what, and what it was billed under."""
    data = _month(conn, patient.user, month)
    return audit_report(data, evaluate(data), str(patient.patient_id))


@router.get("/patients/{patient_id}/billing/progress", response_model=ProgressPublic)
def patient_progress(patient: TimeReadPatient, conn: DbSession) -> ProgressPublic:
    """This month so far: minutes counted per program, codes reached, and what each threshold still needs."""
    month, result = progress.patient_progress(conn, patient.patient_id, patient.timezone)
    return ProgressPublic(
        month=month,
        counted_minutes=result.counted_minutes,
        codes_reached=[c.code for c in result.codes],
        missing=[m.model_dump() for m in result.missing],
        warnings=result.warnings,
    )
