"""The FHIR R4 export validates as a Bundle of Observations (fhir.resources, R4B models: Observation, Device,
Patient and Bundle are the same structures in R4 and R4B) and uses the codes of alert-rules.md."""

from __future__ import annotations

import httpx
from fhir.resources.R4B.bundle import Bundle

from tests.test_api_support import World, auth

pytest_plugins = ["tests.test_api_support"]


def _export(api_url: str, world: World, token: str) -> dict:
    resp = httpx.get(
        f"{api_url}/api/v1/patients/{world.a.patient_id}/fhir/observations?days=10", headers=auth(token)
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/fhir+json")
    return resp.json()


def test_bundle_validates_against_fhir_r4(api_url: str, api_world: World, tokens: dict) -> None:
    data = _export(api_url, api_world, tokens[("a", "clinician")])
    bundle = Bundle.model_validate(data)
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds.count("Patient") == 1
    assert "Device" in kinds
    assert kinds.count("Observation") > 20


def test_blood_pressure_is_one_observation_with_two_components(
    api_url: str, api_world: World, tokens: dict
) -> None:
    data = _export(api_url, api_world, tokens[("a", "clinician")])
    resources = [e["resource"] for e in data["entry"]]
    by_code = {}
    for r in resources:
        if r["resourceType"] == "Observation":
            by_code.setdefault(r["code"]["coding"][0]["code"], []).append(r)
    assert set(by_code) == {"85354-9", "8867-4", "29463-7", "41653-7"}
    bp = by_code["85354-9"][0]
    assert "valueQuantity" not in bp
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in bp["component"]}
    assert set(components) == {"8480-6", "8462-4"}
    assert all(
        q["system"] == "http://unitsofmeasure.org" and q["code"] == "mm[Hg]" for q in components.values()
    )
    assert bp["category"][0]["coding"][0]["code"] == "vital-signs"
    assert by_code["41653-7"][0]["category"][0]["coding"][0]["code"] == "laboratory"
    assert by_code["41653-7"][0]["valueQuantity"]["code"] == "mg/dL"
    assert by_code["8867-4"][0]["valueQuantity"]["code"] == "/min"
    assert by_code["29463-7"][0]["valueQuantity"]["code"] == "kg"
    devices = {f"Device/{r['id']}": r for r in resources if r["resourceType"] == "Device"}
    measuring = devices[bp["device"]["reference"]]
    assert measuring["identifier"][0]["value"] == api_world.a.device_id
    gateway = measuring["extension"][0]["valueReference"]["reference"]
    assert gateway in devices, "the measuring device points to the hub (gateway) Device in the bundle"
