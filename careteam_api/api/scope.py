"""Tenancy as dependencies: a patient or hub path parameter resolves only within the caller's practice.

A record of another practice answers 404 exactly like a record that does not exist, whatever the caller's
role; the role is checked after, so existence never leaks across practices. Resolving a patient writes the
audit entry for the request (who, which patient, route, from where).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import psycopg
from fastapi import Depends, Path, Request

from careteam_api import audit
from careteam_api.auth.deps import (
    CurrentUser,
    PresentedCredentials,
    Settings,
    accept,
    accept_async,
    authenticated,
    require,
)
from careteam_api.auth.roles import Capability, allows
from careteam_api.auth.sessions import Principal
from careteam_api.db import DbSession, ReadSession
from careteam_api.errors import Forbidden, NotFound


@dataclass(frozen=True)
class ScopedPatient:
    patient_id: uuid.UUID
    practice_id: uuid.UUID
    mrn: str
    given_name: str
    family_name: str
    birth_date: date | None
    timezone: str
    user: Principal

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


PatientIdPath = Annotated[uuid.UUID, Path(description="the patient's id (a patient of your practice)")]


_PATIENT = (
    "SELECT patient_id, practice_id, mrn, given_name, family_name, birth_date, timezone FROM patients"
    " WHERE patient_id = %s AND practice_id = %s"
)


def patient_scope(capability: Capability):
    def load(
        patient_id: PatientIdPath,
        request: Request,
        conn: DbSession,
        settings: Settings,
        creds: PresentedCredentials,
    ) -> ScopedPatient:
        # The session and the patient in one query, unless another dependency authenticated already.
        user = authenticated(request)
        if user is None:
            user, row = accept(request, conn, settings, creds, patient_id=patient_id)
        else:
            row = conn.execute(_PATIENT, (patient_id, user.practice_id)).fetchone()
        return _scoped(conn, request, user, patient_id, row, capability)

    load.capability = capability  # type: ignore[attr-defined]
    return load


def read_patient_scope(capability: Capability):
    """`patient_scope` for the hot reads, on the request's async connection (db.ReadSession). The only
    dependency of its route that reads the database, so it always authenticates."""

    async def load(
        patient_id: PatientIdPath,
        request: Request,
        conn: ReadSession,
        settings: Settings,
        creds: PresentedCredentials,
    ) -> ScopedPatient:
        user, row = await accept_async(request, conn, settings, creds, patient_id=patient_id)
        return _scoped(conn, request, user, patient_id, row, capability)

    load.capability = capability  # type: ignore[attr-defined]
    return load


def _scoped(
    conn: psycopg.Connection | psycopg.AsyncConnection,
    request: Request,
    user: Principal,
    patient_id: uuid.UUID,
    row: tuple | None,
    capability: Capability,
) -> ScopedPatient:
    """404 for a patient outside the user's practice, the audit entry, then the role's capability."""
    if row is None:
        raise NotFound(f"no patient {patient_id} in your practice")
    audit.record(conn, request, user, patient_id=patient_id)
    if not allows(user.role, capability):
        raise Forbidden(f"a {user.role} may not do this (needs {capability.value})")
    return ScopedPatient(*row, user=user)


DirectoryPatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.PATIENT_DIRECTORY))]
ClinicalPatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.CLINICAL_READ))]
ClinicalReadPatient = Annotated[ScopedPatient, Depends(read_patient_scope(Capability.CLINICAL_READ))]
TimeReadPatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.TIME_READ))]
TimeLogPatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.TIME_LOG))]
ConsentWritePatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.CONSENT_WRITE))]
CarePlanWritePatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.CARE_PLAN_WRITE))]
ContactWritePatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.CONTACT_WRITE))]
BillingPatient = Annotated[ScopedPatient, Depends(patient_scope(Capability.BILLING))]

HubIdPath = Annotated[str, Path(description="the hub's id (a hub of your practice)", max_length=64)]


def scoped_hub(hub_id: HubIdPath, conn: DbSession, user: CurrentUser) -> str:
    row = conn.execute(
        "SELECT hub_id FROM hubs WHERE hub_id = %s AND practice_id = %s", (hub_id, user.practice_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"no hub {hub_id!r} in your practice")
    if not allows(user.role, Capability.CLINICAL_READ):
        raise Forbidden(f"a {user.role} may not see hubs")
    return row[0]


ScopedHub = Annotated[str, Depends(scoped_hub)]
ClinicalUser = Annotated[Principal, Depends(require(Capability.CLINICAL_READ))]
DirectoryUser = Annotated[Principal, Depends(require(Capability.PATIENT_DIRECTORY))]
BillingUser = Annotated[Principal, Depends(require(Capability.BILLING))]
