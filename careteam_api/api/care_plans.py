"""Care plans: the current version, the history, a new version, and the printable page for the patient."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from careteam_api.api import API_PREFIX
from careteam_api.api.schemas import CarePlanCreate, CarePlanPublic
from careteam_api.api.scope import CarePlanWritePatient, ClinicalPatient
from careteam_api.db import DbSession
from careteam_api.program import care_plans
from careteam_api.program.care_plan_page import render_care_plan

router = APIRouter(prefix=API_PREFIX + "/patients/{patient_id}/care-plan", tags=["care plan"])


@router.get("", response_model=CarePlanPublic, responses={404: {"description": "no care plan yet"}})
def current(patient: ClinicalPatient, conn: DbSession) -> CarePlanPublic:
    return CarePlanPublic.model_validate(care_plans.current(conn, patient.patient_id).model_dump())


@router.get("/versions", response_model=list[CarePlanPublic])
def versions(patient: ClinicalPatient, conn: DbSession) -> list[CarePlanPublic]:
    return [
        CarePlanPublic.model_validate(p.model_dump()) for p in care_plans.history(conn, patient.patient_id)
    ]


@router.post("/versions", response_model=CarePlanPublic, status_code=201)
def add_version(patient: CarePlanWritePatient, body: CarePlanCreate, conn: DbSession) -> CarePlanPublic:
    """A new version authored by the current user; earlier versions stay as they were."""
    plan = care_plans.add_version(
        conn, patient.patient_id, author_id=patient.user.user_id, **body.model_dump()
    )
    return CarePlanPublic.model_validate(plan.model_dump())


@router.get("/print", response_class=HTMLResponse, responses={200: {"content": {"text/html": {}}}})
def printable(patient: ClinicalPatient, conn: DbSession) -> HTMLResponse:
    """The current version as a printable page for the patient (CCM requires they get a copy)."""
    plan = care_plans.current(conn, patient.patient_id)
    row = conn.execute("SELECT name FROM practices WHERE practice_id = %s", (patient.practice_id,)).fetchone()
    html = render_care_plan(
        plan, patient_name=patient.name, practice_name=row[0] if row else "", care_team_phone=None
    )
    return HTMLResponse(html)
