"""Devices assigned to a patient and the practice's hubs: last seen, battery, offline."""

from __future__ import annotations

from fastapi import APIRouter

from careteam_api import devices
from careteam_api.api import API_PREFIX
from careteam_api.api.schemas import DevicePublic, HubDetail, HubPublic
from careteam_api.api.scope import ClinicalPatient, ClinicalUser, ScopedHub
from careteam_api.db import DbSession

router = APIRouter(prefix=API_PREFIX, tags=["devices"])


@router.get("/patients/{patient_id}/devices", response_model=list[DevicePublic])
def patient_devices(patient: ClinicalPatient, conn: DbSession) -> list[DevicePublic]:
    """Devices assigned now, with their hub's state and the battery the hub last reported."""
    return [DevicePublic.model_validate(row) for row in devices.patient_devices(conn, patient.patient_id)]


@router.get("/hubs", response_model=list[HubPublic])
def list_hubs(user: ClinicalUser, conn: DbSession) -> list[HubPublic]:
    return [HubPublic.model_validate(row) for row in devices.hubs(conn, user.practice_id)]


@router.get("/hubs/{hub_id}", response_model=HubDetail)
def get_hub(hub_id: ScopedHub, user: ClinicalUser, conn: DbSession) -> HubDetail:
    """One hub's status and its latest events."""
    (row,) = devices.hubs(conn, user.practice_id, hub_id)
    return HubDetail.model_validate({**row, "events": devices.hub_events(conn, hub_id)})
