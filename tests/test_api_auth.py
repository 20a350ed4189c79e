"""Login, bearer tokens and console sessions, rate limiting, inactivity logoff, roles, audit entries."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from tests.test_api_support import PASSWORD, World, auth, serve, settings_for, token_for

pytest_plugins = ["tests.test_api_support"]


def test_wrong_password_is_401_and_token_hash_only_is_stored(api_url: str, api_world: World) -> None:
    email = api_world.a.users["clinician"]
    assert (
        httpx.post(f"{api_url}/api/v1/auth/tokens", json={"email": email, "password": "nope"}).status_code
        == 401
    )
    token = token_for(api_url, email)
    with psycopg.connect(api_world.database_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM api_sessions WHERE token_hash = %s", (token.encode(),)
        ).fetchone()
    assert stored == (0,)
    me = httpx.get(f"{api_url}/api/v1/auth/me", headers=auth(token)).json()
    assert me["role"] == "clinician"
    assert httpx.post(f"{api_url}/api/v1/auth/logout", headers=auth(token)).status_code == 204
    assert httpx.get(f"{api_url}/api/v1/auth/me", headers=auth(token)).status_code == 401


def test_no_credentials_is_401_with_a_reason(api_url: str, api_world: World) -> None:
    resp = httpx.get(f"{api_url}/api/v1/patients")
    assert resp.status_code == 401
    assert "log in" in resp.json()["detail"]


def test_login_rate_limited_per_account_and_per_ip(api_world: World) -> None:
    settings = settings_for(
        api_world.database_url,
        login_max_failures_per_account=3,
        login_max_failures_per_ip=5,
        trust_forwarded_for=True,
    )
    with serve(settings) as url:
        email = api_world.b.users["biller"]
        tokens_url = f"{url}/api/v1/auth/tokens"
        ip_header = {"X-Forwarded-For": "198.51.100.7"}
        codes = [
            httpx.post(tokens_url, json={"email": email, "password": "wrong"}, headers=ip_header).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        blocked = httpx.post(tokens_url, json={"email": email, "password": PASSWORD}, headers=ip_header)
        assert blocked.status_code == 429, "the right password does not lift the account's limit"
        assert "Retry-After" in blocked.headers
        other_ip = {"X-Forwarded-For": "203.0.113.9"}
        for _ in range(5):
            httpx.post(
                tokens_url,
                json={"email": f"nobody-{uuid.uuid4().hex}@x.org", "password": "x"},
                headers=other_ip,
            )
        resp = httpx.post(
            tokens_url, json={"email": api_world.b.users["admin"], "password": PASSWORD}, headers=other_ip
        )
        assert resp.status_code == 429
        assert "address" in resp.json()["detail"]


def test_console_session_logs_off_after_inactivity(api_url: str, api_world: World) -> None:
    with httpx.Client(base_url=api_url) as client:
        resp = client.post("/login", data={"email": api_world.a.users["clinician"], "password": PASSWORD})
        assert resp.status_code == 303
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert client.get("/api/v1/auth/me").status_code == 200
        with psycopg.connect(api_world.database_url) as conn:
            conn.execute(
                "UPDATE api_sessions SET last_seen_at = now() - interval '16 minutes'"
                " WHERE kind = 'console' AND revoked_at IS NULL"
            )
        resp = client.get("/api/v1/auth/me")
        assert resp.status_code == 401
        assert "without activity" in resp.json()["detail"]
        page = client.get(f"/patients/{api_world.a.patient_id}")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


def test_cookie_session_changes_need_the_csrf_token(api_url: str, api_world: World) -> None:
    with httpx.Client(base_url=api_url) as client:
        login = client.post("/login", data={"email": api_world.a.users["care_manager"], "password": PASSWORD})
        assert login.status_code == 303, login.text
        body = {"program": "ccm", "started_at": "2026-01-05T10:00:00Z", "minutes": 5, "activity": "call"}
        resp = client.post(f"/api/v1/patients/{api_world.a.patient_id}/time-entries", json=body)
        assert resp.status_code == 403, resp.text
        assert "CSRF" in resp.json()["detail"]


ROLE_CASES = [
    ("biller", "GET", "/readings", 403),
    ("biller", "GET", "/care-plan", 403),
    ("biller", "GET", "/fhir/observations", 403),
    ("biller", "GET", "/time-entries", 200),
    ("care_manager", "GET", "/billing/{month}/audit", 403),
    ("admin", "POST", "/time-entries", 403),
    ("care_manager", "POST", "/care-plan/versions", 403),
    ("clinician", "POST", "/care-plan/versions", 201),
]


@pytest.mark.parametrize(
    ("role", "method", "suffix", "status"),
    ROLE_CASES,
    ids=[f"{r}-{m}-{s.strip('/')}-{c}" for r, m, s, c in ROLE_CASES],
)
def test_roles(
    role: str,
    method: str,
    suffix: str,
    status: int,
    api_url: str,
    api_world: World,
    tokens: dict[tuple[str, str], str],
) -> None:
    bodies = {
        "/time-entries": {
            "program": "rpm",
            "started_at": "2026-01-05T10:00:00Z",
            "minutes": 5,
            "activity": "call",
        },
        "/care-plan/versions": {
            "problems": ["Hypertension"],
            "alert_thresholds": {"bp_single_high": {"systolic_mmhg": 150}},
        },
    }
    url = f"{api_url}/api/v1/patients/{api_world.a.patient_id}{suffix.replace('{month}', '2026-01')}"
    resp = httpx.request(method, url, headers=auth(tokens[("a", role)]), json=bodies.get(suffix))
    assert resp.status_code == status, resp.text


def test_biller_sees_no_vitals_in_the_list(api_url: str, tokens: dict[tuple[str, str], str]) -> None:
    items = httpx.get(f"{api_url}/api/v1/patients", headers=auth(tokens[("a", "biller")])).json()["items"]
    assert items
    assert all(i["latest"] is None for i in items)


# readings: a thread-pool route on the sync pool; trends: a hot read on the async pool (db.ReadSession)
@pytest.mark.parametrize("suffix", ["/readings", "/trends"])
def test_reads_are_audited_with_who_what_where(
    suffix: str, api_url: str, api_world: World, tokens: dict[tuple[str, str], str]
) -> None:
    marker = f"audit-test-{uuid.uuid4().hex[:8]}"
    resp = httpx.get(
        f"{api_url}/api/v1/patients/{api_world.a.patient_id}{suffix}",
        headers={**auth(tokens[("a", "clinician")]), "User-Agent": marker},
    )
    assert resp.status_code == 200
    forbidden = httpx.get(
        f"{api_url}/api/v1/patients/{api_world.a.patient_id}{suffix}",
        headers={**auth(tokens[("a", "biller")]), "User-Agent": marker},
    )
    assert forbidden.status_code == 403
    with psycopg.connect(api_world.database_url) as conn:
        rows = conn.execute(
            "SELECT user_id, patient_id, action, resource, host(ip),"
            " outcome FROM audit_log WHERE user_agent = %s"
            " ORDER BY audit_id",
            (marker,),
        ).fetchall()
        assert rows == [
            (
                api_world.a.user_ids["clinician"],
                api_world.a.patient_id,
                "read",
                "GET /api/v1/patients/{patient_id}" + suffix,
                "127.0.0.1",
                "ok",
            ),
            (
                api_world.a.user_ids["biller"],
                api_world.a.patient_id,
                "read",
                "GET /api/v1/patients/{patient_id}" + suffix,
                "127.0.0.1",
                "failed",
            ),
        ]
        with pytest.raises(psycopg.errors.RestrictViolation):
            conn.execute("DELETE FROM audit_log WHERE user_agent = %s", (marker,))
