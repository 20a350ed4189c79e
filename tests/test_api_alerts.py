"""The alert queue API against the real app and a real TimescaleDB: the queue's order and paging, an alert's
evidence, claim (and the claim race), acknowledge crediting review time to the time log, snooze, escalate,
reassign, review-time corrections, roles and tenancy.

The tests work in a practice of their own (practice A's single open alert is what other API tests count).
Alerts come from the real alert engine (a reading in, evaluate_patients); review sessions are backdated in
the database to stand for the minutes a care manager spent reviewing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from alerts.pipeline import evaluate_patients
from careteam_api.auth.passwords import hash_password
from tests.test_api_support import PASSWORD, ROLES, Practice, World, auth, seed_practice, token_for

pytest_plugins = ["tests.test_api_support"]


@dataclass
class Clinic:
    """A practice of this module's own, with tokens per role and a connection to arrange data."""

    practice: Practice
    tokens: dict[str, str]
    conn: psycopg.Connection
    url: str

    def headers(self, role: str = "care_manager") -> dict[str, str]:
        return auth(self.tokens[role])

    def patient(self, *, rpm: bool = True) -> uuid.UUID:
        """A new patient (one alert per (patient, rule) is active at a time, so each test takes its own)."""
        (patient_id,) = self.conn.execute(
            "INSERT INTO patients (practice_id, mrn, given_name, family_name, timezone) VALUES"
            " (%s, %s, 'Grace', 'Hopper', 'America/Chicago') RETURNING patient_id",
            (self.practice.practice_id, uuid.uuid4().hex[:10]),
        ).fetchone()
        if rpm:
            self.conn.execute(
                "INSERT INTO rpm_episodes (patient_id, started_on) VALUES (%s, current_date - 30)",
                (patient_id,),
            )
        return patient_id

    def crisis(self, patient_id: uuid.UUID | None = None) -> tuple[uuid.UUID, int, uuid.UUID]:
        """A blood pressure of 186/96 measured 20 minutes ago, evaluated by the alert engine."""
        patient_id = patient_id or self.patient()
        reading_id = uuid.uuid4()
        now = datetime.now(UTC)
        self.conn.execute(
            "INSERT INTO readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source,"
            " systolic_mmhg, diastolic_mmhg, pulse_bpm, device_unit, time_source, received_at) VALUES"
            " (%s, %s, %s, %s, %s, 'blood_pressure', 'ble', 186, 96, 77, 'mmHg', 'device', %s)",
            (
                now - timedelta(minutes=20),
                reading_id,
                patient_id,
                self.practice.device_id,
                self.practice.hub_id,
                now,
            ),
        )
        with self.conn.transaction():
            evaluate_patients(self.conn, [patient_id], now, now - timedelta(minutes=10))
        row = self.conn.execute(
            "SELECT alert_id FROM alerts WHERE patient_id = %s AND rule = 'bp_crisis' AND state = 'open'",
            (patient_id,),
        ).fetchone()
        assert row is not None, "the engine raised no bp_crisis alert"
        return patient_id, row[0], reading_id

    def plain_alert(self, priority: str, age: timedelta, rule: str = "no_data") -> int:
        patient_id = self.patient(rpm=False)
        (alert_id,) = self.conn.execute(
            "INSERT INTO alerts (practice_id, patient_id, rule, category, priority, state, opened_at,"
            " first_seen, last_seen, explanation, updated_at) VALUES (%s, %s, %s, 'adherence', %s, 'open',"
            ' now() - %s, now() - %s, now() - %s, \'{"summary": "test"}\', now()) RETURNING alert_id',
            (self.practice.practice_id, patient_id, rule, priority, age, age, age),
        ).fetchone()
        return alert_id

    def reviewing_for(self, alert_id: int, role: str, minutes: float) -> None:
        """The running review session of `role` on the alert started `minutes` ago."""
        cur = self.conn.execute(
            "UPDATE alert_reviews SET started_at = now() - %s WHERE alert_id = %s AND user_id = %s"
            " AND ended_at IS NULL",
            (timedelta(minutes=minutes), alert_id, self.practice.user_ids[role]),
        )
        assert cur.rowcount == 1, "no running review session"

    def post(self, alert_id: int, action: str, role: str = "care_manager", **body: object) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/alerts/{alert_id}/{action}", json=body, headers=self.headers(role), timeout=30
        )

    def get(self, path: str, role: str = "care_manager", **params: object) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers=self.headers(role), timeout=30)


@pytest.fixture(scope="module")
def clinic(api_world: World, api_url: str) -> Iterator[Clinic]:
    with psycopg.connect(api_world.database_url, autocommit=True) as conn:
        practice = seed_practice(conn, f"al{uuid.uuid4().hex[:4]}", hash_password(PASSWORD))
        tokens = {role: token_for(api_url, practice.users[role]) for role in ROLES}
        yield Clinic(practice, tokens, conn, api_url)


def test_queue_is_ordered_by_priority_then_age_and_pages_by_key(clinic: Clinic) -> None:
    low_old = clinic.plain_alert("low", timedelta(days=2))
    high_new = clinic.plain_alert("high", timedelta(minutes=5))
    high_old = clinic.plain_alert("high", timedelta(hours=9))
    critical = clinic.plain_alert("critical", timedelta(minutes=1))
    mine = {low_old, high_new, high_old, critical}
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        resp = clinic.get("/api/v1/alerts", **params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert len(page["items"]) <= 2
        seen += [item["alert_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "keyset pages never repeat an alert"
    ordered = [a for a in seen if a in mine]
    assert ordered == [critical, high_old, high_new, low_old]
    only_high = clinic.get("/api/v1/alerts", priority="high").json()["items"]
    assert {a["priority"] for a in only_high} == {"high"}
    assert {high_old, high_new} <= {a["alert_id"] for a in only_high}


def test_queue_filters_by_patient_state_and_care_team(clinic: Clinic) -> None:
    patient_id, alert_id, _ = clinic.crisis()
    items = clinic.get("/api/v1/alerts", patient_id=str(patient_id)).json()["items"]
    assert [(a["alert_id"], a["rule"], a["priority"]) for a in items] == [(alert_id, "bp_crisis", "critical")]
    assert items[0]["patient_name"] == "Grace Hopper"
    assert clinic.get("/api/v1/alerts", patient_id=str(patient_id), state="resolved").json()["items"] == []
    (team,) = clinic.conn.execute(
        "INSERT INTO care_teams (practice_id, name) VALUES (%s, %s) RETURNING care_team_id",
        (clinic.practice.practice_id, f"team {uuid.uuid4().hex[:6]}"),
    ).fetchone()
    assert clinic.get("/api/v1/alerts", care_team_id=str(team)).json()["items"] == []
    clinic.conn.execute(
        "INSERT INTO patient_assignments (patient_id, care_team_id, effective_from) VALUES (%s, %s,"
        " current_date - 1)",
        (patient_id, team),
    )
    items = clinic.get("/api/v1/alerts", care_team_id=str(team)).json()["items"]
    assert [a["alert_id"] for a in items] == [alert_id]


def test_a_bad_cursor_or_filter_is_a_clear_4xx(clinic: Clinic) -> None:
    resp = clinic.get("/api/v1/alerts", cursor="not-a-cursor")
    assert resp.status_code == 400
    assert "next_cursor" in resp.json()["detail"]
    assert clinic.get("/api/v1/alerts", state="closed").status_code == 422


def test_alert_detail_has_rule_parameters_window_and_the_triggering_reading(clinic: Clinic) -> None:
    patient_id, alert_id, reading_id = clinic.crisis()
    resp = clinic.get(f"/api/v1/alerts/{alert_id}")
    assert resp.status_code == 200, resp.text
    alert = resp.json()
    assert alert["explanation"]["rule"] == "bp_crisis"
    assert alert["explanation"]["parameters"]["systolic_mmhg"] == 180
    assert "AHA" in alert["explanation"]["source"]
    assert isinstance(alert["explanation"]["window"], dict)
    [evidence] = alert["evidence"]
    assert evidence["key"] == str(reading_id)
    assert evidence["reading"]["values"]["systolic_mmhg"] == 186
    assert evidence["reading"]["values"]["diastolic_mmhg"] == 96
    assert [e["action"] for e in alert["events"]] == ["opened"]
    assert alert["review"] is not None, "opening an active alert starts the care manager's review"
    (action, resource, audited_alert) = clinic.conn.execute(
        "SELECT action, resource, detail->>'alert_id' FROM audit_log WHERE patient_id = %s"
        " AND user_id = %s ORDER BY audit_id DESC LIMIT 1",
        (patient_id, clinic.practice.user_ids["care_manager"]),
    ).fetchone()
    assert (action, resource, audited_alert) == ("read", "GET /api/v1/alerts/{alert_id}", str(alert_id))


def test_claim_then_acknowledge_credits_the_review_to_the_time_log(clinic: Clinic) -> None:
    patient_id, alert_id, _ = clinic.crisis()
    claimed = clinic.post(alert_id, "claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["alert"]["state"] == "claimed"
    assert claimed.json()["alert"]["claimed_by"] == str(clinic.practice.user_ids["care_manager"])
    assert claimed.json()["time_entry"] is None
    clinic.reviewing_for(alert_id, "care_manager", 6.2)
    acked = clinic.post(alert_id, "acknowledge", note="called the patient; repeat was 150/88")
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert body["alert"]["state"] == "acknowledged"
    entry = body["time_entry"]
    assert (entry["minutes"], entry["program"], entry["activity"]) == (6, "rpm", "alert_review")
    assert entry["alert_id"] == alert_id
    entries = clinic.get(f"/api/v1/patients/{patient_id}/time-entries").json()
    [logged] = [e for e in entries if e["alert_id"] == alert_id]
    assert logged["entry_id"] == entry["entry_id"]
    assert logged["minutes"] == 6
    assert "repeat was 150/88" in logged["note"]
    again = clinic.post(alert_id, "acknowledge", note="twice")
    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]


def test_concurrent_claims_have_one_winner_and_the_others_get_409(clinic: Clinic) -> None:
    _, alert_id, _ = clinic.crisis()
    barrier = threading.Barrier(8)
    codes: list[int] = []
    details: list[str] = []

    def claim(role: str) -> None:
        barrier.wait()
        resp = clinic.post(alert_id, "claim", role=role)
        codes.append(resp.status_code)
        if resp.status_code != 200:
            details.append(resp.json()["detail"])

    threads = [
        threading.Thread(target=claim, args=("care_manager" if i % 2 else "clinician",)) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * 7
    assert all("already claimed by" in d for d in details), details


def test_another_users_claim_blocks_acknowledge_until_reassigned(clinic: Clinic) -> None:
    _, alert_id, _ = clinic.crisis()
    assert clinic.post(alert_id, "claim", role="clinician").status_code == 200
    blocked = clinic.post(alert_id, "acknowledge", note="not mine")
    assert blocked.status_code == 409
    assert "Clinician" in blocked.json()["detail"]
    cm = clinic.practice.user_ids["care_manager"]
    handed = clinic.post(alert_id, "reassign", role="clinician", user_id=str(cm), note="please call")
    assert handed.status_code == 200, handed.text
    assert handed.json()["alert"]["claimed_by"] == str(cm)
    biller = clinic.practice.user_ids["biller"]
    refused = clinic.post(alert_id, "reassign", role="clinician", user_id=str(biller))
    assert refused.status_code == 400
    assert "care manager or clinician" in refused.json()["detail"]
    assert clinic.post(alert_id, "acknowledge", note="called").status_code == 200


def test_snooze_takes_the_alert_out_of_the_active_queue_for_the_preset(clinic: Clinic) -> None:
    patient_id, alert_id, _ = clinic.crisis()
    bad = clinic.post(alert_id, "snooze", preset="forever")
    assert bad.status_code == 422
    resp = clinic.post(alert_id, "snooze", preset="4h", note="patient at the pharmacy")
    assert resp.status_code == 200, resp.text
    alert = resp.json()["alert"]
    assert alert["state"] == "snoozed"
    until = datetime.fromisoformat(alert["snoozed_until"])
    assert timedelta(hours=3, minutes=59) < until - datetime.now(UTC) <= timedelta(hours=4)
    active = clinic.get("/api/v1/alerts", patient_id=str(patient_id), state=["open", "claimed"]).json()
    assert active["items"] == []
    snoozed = clinic.get("/api/v1/alerts", patient_id=str(patient_id), state="snoozed").json()
    assert [a["alert_id"] for a in snoozed["items"]] == [alert_id]


def test_escalate_and_resolve(clinic: Clinic) -> None:
    _, alert_id, _ = clinic.crisis()
    up = clinic.post(alert_id, "escalate", note="no answer twice")
    assert up.status_code == 200, up.text
    assert up.json()["alert"]["escalation_level"] == 1
    clinic.get(f"/api/v1/alerts/{alert_id}")  # opening starts the review
    clinic.reviewing_for(alert_id, "care_manager", 3)
    done = clinic.post(alert_id, "resolve", note="seen in clinic today")
    assert done.status_code == 200, done.text
    assert done.json()["alert"]["state"] == "resolved"
    assert done.json()["time_entry"]["minutes"] == 3
    late = clinic.post(alert_id, "escalate")
    assert late.status_code == 409
    assert "resolved" in late.json()["detail"]


def test_review_time_can_be_corrected_with_a_reason(clinic: Clinic) -> None:
    patient_id, alert_id, _ = clinic.crisis()
    url = f"{clinic.url}/api/v1/alerts/{alert_id}/review-time"
    early = httpx.patch(url, json={"minutes": 5, "reason": "x"}, headers=clinic.headers())
    assert early.status_code == 404
    assert "no credited review" in early.json()["detail"]
    clinic.post(alert_id, "claim")
    clinic.reviewing_for(alert_id, "care_manager", 45)
    acked = clinic.post(alert_id, "acknowledge", note="long call with caregiver")
    assert acked.json()["time_entry"]["minutes"] == 30, "capped at 30 minutes"
    blank = httpx.patch(url, json={"minutes": 42, "reason": "   "}, headers=clinic.headers())
    assert blank.status_code == 422
    fixed = httpx.patch(url, json={"minutes": 42, "reason": "call lasted 42 min"}, headers=clinic.headers())
    assert fixed.status_code == 200, fixed.text
    entry = fixed.json()["time_entry"]
    assert entry["minutes"] == 42
    assert entry["corrects_entry_id"] == acked.json()["time_entry"]["entry_id"]
    entries = clinic.get(f"/api/v1/patients/{patient_id}/time-entries").json()
    assert [e["minutes"] for e in entries if e["alert_id"] == alert_id] == [42]


def test_acknowledge_needs_a_note(clinic: Clinic) -> None:
    _, alert_id, _ = clinic.crisis()
    for body in ({}, {"note": ""}, {"note": "  "}):
        resp = clinic.post(alert_id, "acknowledge", **body)
        assert resp.status_code == 422, body


@pytest.mark.parametrize(
    ("role", "read", "act"),
    [("care_manager", 200, 200), ("clinician", 200, 200), ("admin", 200, 403), ("biller", 403, 403)],
    ids=lambda v: str(v),
)
def test_roles_follow_the_capability_table(clinic: Clinic, role: str, read: int, act: int) -> None:
    _, alert_id, _ = clinic.crisis()
    assert clinic.get("/api/v1/alerts", role=role).status_code == read
    assert clinic.get(f"/api/v1/alerts/{alert_id}", role=role).status_code == read
    resp = clinic.post(alert_id, "claim", role=role)
    assert resp.status_code == act, resp.text
    if act == 403:
        assert role in resp.json()["detail"]


def test_another_practice_sees_none_of_it(
    clinic: Clinic, api_url: str, tokens: dict[tuple[str, str], str]
) -> None:
    patient_id, alert_id, _ = clinic.crisis()
    for role in ("care_manager", "clinician", "admin", "biller"):
        other = auth(tokens[("b", role)])
        for method, path, body in (
            ("GET", f"/api/v1/alerts/{alert_id}", None),
            ("POST", f"/api/v1/alerts/{alert_id}/claim", {}),
            ("POST", f"/api/v1/alerts/{alert_id}/acknowledge", {"note": "x"}),
            ("POST", f"/api/v1/alerts/{alert_id}/snooze", {"preset": "1h"}),
            ("PATCH", f"/api/v1/alerts/{alert_id}/review-time", {"minutes": 3, "reason": "x"}),
        ):
            resp = httpx.request(method, api_url + path, json=body, headers=other)
            assert resp.status_code == 404, (role, method, path, resp.text)
            assert resp.json()["detail"] == f"no alert {alert_id} in your practice"
    queue = httpx.get(
        f"{api_url}/api/v1/alerts",
        params={"patient_id": str(patient_id)},
        headers=auth(tokens[("b", "clinician")]),
    )
    assert queue.status_code == 200
    assert queue.json()["items"] == []
    (state,) = clinic.conn.execute("SELECT state FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone()
    assert state == "open"
