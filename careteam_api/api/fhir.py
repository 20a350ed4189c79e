"""FHIR R4 export of a patient's readings (application/fhir+json)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row

from careteam_api.api import API_PREFIX, window
from careteam_api.api.scope import ClinicalPatient
from careteam_api.db import DbSession
from careteam_api.errors import BadRequest
from careteam_api.fhir.bundle import bundle
from careteam_api.vitals import READING_COLUMNS

router = APIRouter(prefix=API_PREFIX + "/patients/{patient_id}/fhir", tags=["fhir"])
# One export holds at most this many readings; ask for a shorter window beyond it.
MAX_READINGS = 5000


class FhirJSONResponse(JSONResponse):
    media_type = "application/fhir+json"


@router.get(
    "/observations",
    response_class=FhirJSONResponse,
    responses={200: {"content": {"application/fhir+json": {}}, "description": "a Bundle (collection)"}},
)
def export_observations(
    patient: ClinicalPatient,
    request: Request,
    conn: DbSession,
    days: Annotated[int, Query(ge=1, le=400)] = 30,
    start: datetime | None = None,
    end: datetime | None = None,
) -> FhirJSONResponse:
    """The patient's readings in the window as Observations, with the Patient and the measuring Devices."""
    start, end = window.resolve(start, end, days, 400)
    with conn.cursor(row_factory=dict_row) as cur:
        readings = cur.execute(
            f"SELECT {READING_COLUMNS} FROM readings WHERE patient_id = %s AND measured_at >= %s"
            " AND measured_at < %s ORDER BY measured_at LIMIT %s",
            (patient.patient_id, start, end, MAX_READINGS + 1),
        ).fetchall()
        if len(readings) > MAX_READINGS:
            raise BadRequest(f"more than {MAX_READINGS} readings in the window; ask for a shorter one")
        devices = cur.execute(
            "SELECT device_id, model, serial, address, firmware,"
            " hub_id FROM devices WHERE device_id = ANY(%s)"
            " ORDER BY device_id",
            (sorted({r["device_id"] for r in readings}),),
        ).fetchall()
    info = {
        "patient_id": patient.patient_id,
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date,
    }
    return FhirJSONResponse(bundle(info, readings, devices, str(request.base_url) + "fhir"))
