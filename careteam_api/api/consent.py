"""Consent to CCM and RPM: read, record (as the current user), withdraw."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from careteam_api.api import API_PREFIX
from careteam_api.api.schemas import ConsentCreate, ConsentPublic, ConsentWithdrawal
from careteam_api.api.scope import ConsentWritePatient, DirectoryPatient
from careteam_api.db import DbSession
from careteam_api.errors import NotFound
from careteam_api.program import consent

router = APIRouter(prefix=API_PREFIX + "/patients/{patient_id}/consents", tags=["consent"])
ConsentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=list[ConsentPublic])
def list_consents(patient: DirectoryPatient, conn: DbSession) -> list[ConsentPublic]:
    return [
        ConsentPublic.model_validate(c.model_dump()) for c in consent.consents_of(conn, patient.patient_id)
    ]


@router.post("", response_model=ConsentPublic, status_code=201)
def record_consent(patient: ConsentWritePatient, body: ConsentCreate, conn: DbSession) -> ConsentPublic:
    """Record a consent obtained by the current user; needs the consent text or a document reference."""
    record = consent.record_consent(
        conn,
        patient.patient_id,
        body.program,
        obtained_by=patient.user.user_id,
        **body.model_dump(exclude={"program"}),
    )
    return ConsentPublic.model_validate(record.model_dump())


@router.post("/{consent_id}/withdrawal", status_code=204)
def withdraw(
    patient: ConsentWritePatient, consent_id: ConsentId, body: ConsentWithdrawal, conn: DbSession
) -> None:
    """The patient stopped the program: time from `withdrawn_on` on is not billable."""
    if not any(c.consent_id == consent_id for c in consent.consents_of(conn, patient.patient_id)):
        raise NotFound(f"no consent {consent_id} for this patient")
    consent.withdraw_consent(
        conn, consent_id, body.withdrawn_on, recorded_by=patient.user.user_id, reason=body.reason
    )
