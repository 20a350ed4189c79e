"""The API's resources against a seeded practice: lists, trends, keyset pages, time log, consent, care plan,
devices, billing reports, and 4xx (never 5xx) answers that say what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from pydantic import BaseModel

from careteam_api.api.schemas import PatientPage, TrendPublic
from tests.test_api_support import World, auth

pytest_plugins = ["tests.test_api_support"]


@pytest.fixture
def clinician(api_url: str, tokens: dict) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api_url}/api/v1", headers=auth(tokens[("a", "clinician")])) as client:
        yield client


@pytest.fixture
def care_manager(api_url: str, tokens: dict) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api_url}/api/v1", headers=auth(tokens[("a", "care_manager")])) as client:
        yield client


@pytest.fixture
def biller(api_url: str, tokens: dict) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{api_url}/api/v1", headers=auth(tokens[("a", "biller")]), timeout=30
    ) as client:
        yield client


def test_patient_list_has_latest_vitals_and_open_alerts(clinician: httpx.Client, api_world: World) -> None:
    items = {i["patient_id"]: i for i in clinician.get("/patients").json()["items"]}
    ada = items[str(api_world.a.patient_id)]
    assert set(ada["latest"]) == {"blood_pressure", "glucose", "weight"}
    assert ada["open_alerts"] == 1
    assert ada["top_priority"] == "high"
    page = clinician.get("/patients", params={"limit": 1}).json()
    rest = clinician.get("/patients", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert page["items"][0]["patient_id"] != rest["items"][0]["patient_id"]


@pytest.mark.parametrize(
    ("bucket", "days", "expected"),
    [("hour", 7, 14), ("day", 90, 90), ("week", 365, 17)],
    ids=["hourly-7d", "daily-90d", "weekly-1y"],
)
def test_trends(clinician: httpx.Client, api_world: World, bucket: str, days: int, expected: int) -> None:
    data = clinician.get(
        f"/patients/{api_world.a.patient_id}/trends", params={"bucket": bucket, "days": days}
    ).json()
    series = {s["metric"]: s for s in data["series"]}
    assert set(series) == {"systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "glucose_mg_dl", "weight_kg"}
    assert len(series["systolic_mmhg"]["points"]) >= expected - 2
    point = series["systolic_mmhg"]["points"][-1]
    assert point["min"] <= point["mean"] <= point["max"]
    assert point["count"] >= 1
    limit = next(
        x for x in data["limits"] if x["rule"] == "bp_single_high" and x["metric"] == "systolic_mmhg"
    )
    assert (limit["value"], limit["source"]) == (150, "care_plan")
    assert [a["rule"] for a in data["alerts"]] == ["bp_single_high"]


@pytest.mark.parametrize(
    ("role", "path", "model"),
    [
        ("clinician", "/patients/{pid}/trends?bucket=day&days=90", TrendPublic),
        ("clinician", "/patients/{pid}/trends?bucket=hour&days=7", TrendPublic),
        ("clinician", "/patients", PatientPage),
        ("biller", "/patients?limit=1", PatientPage),
    ],
    ids=["trends-daily", "trends-hourly", "patient-list-clinical", "patient-list-without-vitals"],
)
def test_answers_built_without_their_model_are_what_the_model_writes(
    api_url: str, tokens: dict, api_world: World, role: str, path: str, model: type[BaseModel]
) -> None:
    """Trends and the patient list are serialised from plain values, past FastAPI's response validation:
    their bytes must be exactly those their response model (the OpenAPI schema) would write."""
    url = f"{api_url}/api/v1" + path.format(pid=api_world.a.patient_id)
    response = httpx.get(url, headers=auth(tokens[("a", role)]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == model.model_validate_json(response.content).model_dump_json().encode()


def test_readings_keyset_pages_do_not_overlap(clinician: httpx.Client, api_world: World) -> None:
    url = f"/patients/{api_world.a.patient_id}/readings"
    first = clinician.get(url, params={"limit": 50, "kind": "blood_pressure"}).json()
    second = clinician.get(
        url, params={"limit": 50, "kind": "blood_pressure", "cursor": first["next_cursor"]}
    ).json()
    ids = [r["reading_id"] for r in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 100
    assert first["items"][-1]["measured_at"] >= second["items"][0]["measured_at"]


def test_time_entry_log_and_correct(care_manager: httpx.Client, api_world: World) -> None:
    cm = care_manager
    url = f"/patients/{api_world.a.other_patient_id}/time-entries"
    body = {"program": "ccm", "started_at": "2026-01-05T10:00:00-06:00", "minutes": 15, "activity": "call"}
    created = cm.post(url, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "clinical_staff"
    entry_id = created.json()["entry_id"]
    fixed = cm.post(f"{url}/{entry_id}/corrections", json={**body, "minutes": 25})
    assert fixed.status_code == 201
    assert fixed.json()["corrects_entry_id"] == entry_id
    again = cm.post(f"{url}/{entry_id}/corrections", json=body)
    assert again.status_code == 409
    assert "already corrected" in again.json()["detail"]
    other = cm.post(f"/patients/{api_world.a.patient_id}/time-entries/{entry_id}/void", json={"reason": "x"})
    assert other.status_code == 404, "an entry of another patient is not found under this one"


def test_consent_and_care_plan(clinician: httpx.Client, api_world: World) -> None:
    pid = api_world.a.other_patient_id
    consent = clinician.post(
        f"/patients/{pid}/consents",
        json={
            "program": "ccm",
            "method": "verbal",
            "consented_on": "2026-01-02",
            "consent_text": "agreed by phone",
        },
    )
    assert consent.status_code == 201
    cid = consent.json()["consent_id"]
    early = clinician.post(f"/patients/{pid}/consents/{cid}/withdrawal", json={"withdrawn_on": "2025-12-01"})
    assert early.status_code == 409
    assert "before the consent" in early.json()["detail"]
    assert clinician.get(f"/patients/{pid}/care-plan").status_code == 404
    plan = clinician.post(f"/patients/{pid}/care-plan/versions", json={"problems": ["Type 2 diabetes"]})
    assert plan.status_code == 201
    assert plan.json()["version"] == 1
    page = clinician.get(f"/patients/{pid}/care-plan/print")
    assert page.status_code == 200
    assert "Type 2 diabetes" in page.text


def test_devices_and_hubs(clinician: httpx.Client, api_world: World) -> None:
    (device,) = clinician.get(f"/patients/{api_world.a.patient_id}/devices").json()
    assert device["device_id"] == api_world.a.device_id
    assert (device["battery_pct"], device["battery_low"], device["hub_offline"]) == (15, True, False)
    hub = clinician.get(f"/hubs/{api_world.a.hub_id}").json()
    assert hub["hub_id"] == api_world.a.hub_id
    assert hub["reported_online"] is True


def test_billing_reports(biller: httpx.Client, api_world: World) -> None:
    month = f"{date.today():%Y-%m}"
    evaluation = biller.get(f"/billing/{month}/evaluation")
    assert evaluation.status_code == 200
    assert {p["id"] for p in evaluation.json()["patients"]} == {
        str(api_world.a.patient_id),
        str(api_world.a.other_patient_id),
    }
    csv = biller.get(f"/billing/{month}/claims.csv")
    assert csv.status_code == 200
    assert csv.text.startswith("patient_id,mrn")
    assert biller.get(f"/billing/{month}/metrics").json()["patients"] == 2
    assert biller.get(f"/billing/{month}/export").json()["format"] == "rpm-gateway/billing-input/1"
    audit = biller.get(f"/patients/{api_world.a.patient_id}/billing/{month}/audit")
    assert audit.status_code == 200
    assert audit.json()["patient"] == str(api_world.a.patient_id)
    assert biller.get("/billing/2026-13/evaluation").status_code == 422
    progress = biller.get(f"/patients/{api_world.a.patient_id}/billing/progress").json()
    assert progress["counted_minutes"]["rpm"] >= 12


BAD_REQUESTS = [
    ("GET", "/patients/not-a-uuid", None, 422, "uuid"),
    ("GET", "/patients/{pid}/trends?bucket=minute", None, 422, "bucket"),
    ("GET", "/patients/{pid}/trends?bucket=hour&days=90", None, 400, "hourly"),
    (
        "GET",
        "/patients/{pid}/trends?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z",
        None,
        400,
        "before",
    ),
    ("GET", "/patients/{pid}/trends?start=9999-01-01T00:00:00Z", None, 400, "years"),
    ("GET", "/patients/{pid}/readings?cursor=garbage", None, 400, "cursor"),
    (
        "POST",
        "/patients/{pid}/time-entries",
        {"program": "ccm", "started_at": "2026-01-05T10:00:00", "minutes": 5, "activity": "call"},
        422,
        "timezone",
    ),
    (
        "POST",
        "/patients/{pid}/time-entries",
        {"program": "ccm", "started_at": "2026-01-05T10:00:00Z", "minutes": 5000, "activity": "call"},
        422,
        "720",
    ),
    ("POST", "/patients/{pid}/care-plan/versions", {"note": "nul\u0000byte"}, 422, "pattern"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    BAD_REQUESTS,
    ids=[f"{m} {p.split('?')[-1] if '?' in p else p}-{s}" for m, p, _, s, _ in BAD_REQUESTS],
)
def test_bad_requests_say_what_is_wrong(
    clinician: httpx.Client,
    api_world: World,
    method: str,
    path: str,
    body: dict | None,
    status: int,
    says: str,
) -> None:
    resp = clinician.request(method, path.replace("{pid}", str(api_world.a.patient_id)), json=body)
    assert resp.status_code == status, resp.text
    assert says in resp.text.lower()
