"""Build a FHIR R4 Bundle (type collection) from readings: blood pressure as ONE Observation with systolic
and diastolic components under the 85354-9 panel, the cuff's pulse as its own 8867-4 Observation derived from
it, weight and BMI, glucose under laboratory. Each Observation names the measuring Device, which names the
hub (gateway) through the PHD extension; Patient and Devices travel in the Bundle so references resolve.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from careteam_api.fhir.codes import (
    BP_PANEL,
    CATEGORY_OF,
    COMPONENTS,
    DEVICE_ID_SYSTEM,
    HUB_ID_SYSTEM,
    LOINC,
    MDC,
    MRN_SYSTEM,
    OBSERVATION_CATEGORY,
    PHD_GATEWAY_EXTENSION,
    SINGLE,
    UCUM,
)

_CATEGORY_DISPLAY = {"vital-signs": "Vital Signs", "laboratory": "Laboratory"}
# Readings that carry quality flags were kept but are suspect (alert-rules.md): exported as 'preliminary'.
SUSPECT_STATUS = "preliminary"


def _coding(loinc: str, display: str, mdc: str | None) -> dict[str, Any]:
    codings = [{"system": LOINC, "code": loinc, "display": display}]
    if mdc:
        codings.append({"system": MDC, "code": mdc})
    return {"coding": codings, "text": display}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": round(float(value), 2), "unit": unit, "system": UCUM, "code": unit}


def _category(name: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": name, "display": _CATEGORY_DISPLAY[name]}]}]


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _observation(reading: dict[str, Any], obs_id: str, patient_ref: str, category: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "status": SUSPECT_STATUS if reading["quality_flags"] else "final",
        "category": _category(category),
        "subject": {"reference": patient_ref},
        "effectiveDateTime": _instant(reading["measured_at"]),
        "device": {"reference": f"Device/{_device_id(reading['device_id'])}"},
    }


def _device_id(device_id: str) -> str:
    """FHIR ids are [A-Za-z0-9-.]{1,64}: a stable name-based UUID fits any device id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:rpm-gateway:device:{device_id}"))


def _hub_resource_id(hub_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:rpm-gateway:hub:{hub_id}"))


def observations(reading: dict[str, Any], patient_ref: str) -> list[dict[str, Any]]:
    """The Observations of one reading (its id derives from the reading id, so exports are stable)."""
    rid = str(reading["reading_id"])
    out: list[dict[str, Any]] = []
    if reading["kind"] == "blood_pressure":
        bp = _observation(reading, rid, patient_ref, "vital-signs")
        bp["code"] = _coding(BP_PANEL[0], BP_PANEL[1], None)
        bp["component"] = [
            {"code": _coding(code, display, mdc), "valueQuantity": _quantity(reading[metric], unit)}
            for metric, (code, display, unit, mdc) in COMPONENTS.items()
            if reading[metric] is not None
        ]
        out.append(bp)
    for metric, (code, display, unit, mdc) in SINGLE.items():
        if reading.get(metric) is None:
            continue
        obs_id = str(uuid.uuid5(uuid.UUID(rid), metric))
        obs = _observation(reading, obs_id, patient_ref, CATEGORY_OF.get(metric, "vital-signs"))
        obs["code"] = _coding(code, display, mdc)
        obs["valueQuantity"] = _quantity(reading[metric], unit)
        if reading["kind"] == "blood_pressure":
            obs["derivedFrom"] = [{"reference": f"Observation/{rid}"}]
        out.append(obs)
    return out


def device_resource(device: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": _device_id(device["device_id"]),
        "identifier": [{"system": DEVICE_ID_SYSTEM, "value": device["device_id"]}],
        "modelNumber": device["model"],
    }
    if device.get("serial"):
        resource["serialNumber"] = device["serial"]
    if device.get("address"):
        resource["identifier"].append({"system": "urn:ietf:rfc:7042", "value": device["address"]})
    if device.get("firmware"):
        resource["version"] = [{"type": {"text": "firmware"}, "value": device["firmware"]}]
    if device.get("hub_id"):
        resource["extension"] = [
            {
                "url": PHD_GATEWAY_EXTENSION,
                "valueReference": {"reference": f"Device/{_hub_resource_id(device['hub_id'])}"},
            }
        ]
    return resource


def hub_resource(hub_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": _hub_resource_id(hub_id),
        "identifier": [{"system": HUB_ID_SYSTEM, "value": hub_id}],
        "deviceName": [{"name": f"home hub {hub_id}", "type": "user-friendly-name"}],
    }


def patient_resource(patient: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient["patient_id"]),
        "identifier": [{"system": MRN_SYSTEM, "value": patient["mrn"]}],
        "name": [{"family": patient["family_name"], "given": [patient["given_name"]]}],
    }
    if patient.get("birth_date"):
        resource["birthDate"] = patient["birth_date"].isoformat()
    return resource


def bundle(
    patient: dict[str, Any], readings: list[dict[str, Any]], devices: list[dict[str, Any]], base_url: str
) -> dict[str, Any]:
    patient_ref = f"Patient/{patient['patient_id']}"
    resources = [patient_resource(patient)]
    resources += [hub_resource(h) for h in sorted({d["hub_id"] for d in devices if d.get("hub_id")})]
    resources += [device_resource(d) for d in devices]
    for reading in readings:
        resources += observations(reading, patient_ref)
    base = base_url.rstrip("/")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(datetime.now(UTC)),
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
