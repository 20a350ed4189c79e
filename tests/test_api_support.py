"""Fixtures of the care-team API tests: a scratch TimescaleDB seeded with two practices, and the real app
served by uvicorn on a free loopback port. Test modules load these with `pytest_plugins`."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from careteam_api.app import create_app
from careteam_api.auth.passwords import hash_password
from careteam_api.settings import ApiSettings
from database.migrate import migrate

PASSWORD = "correct horse battery staple"
ROLES = ("care_manager", "clinician", "biller", "admin")
SECRET = "test-secret-" + uuid.uuid4().hex + uuid.uuid4().hex


@dataclass
class Practice:
    practice_id: uuid.UUID
    users: dict[str, str] = field(default_factory=dict)  # role -> email
    user_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    patient_id: uuid.UUID | None = None
    other_patient_id: uuid.UUID | None = None
    hub_id: str = ""
    device_id: str = ""
    entry_id: int = 0
    consent_id: int = 0
    alert_id: int = 0


@dataclass
class World:
    database_url: str
    a: Practice
    b: Practice


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    name = f"scratch_api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _readings(conn: psycopg.Connection, patient_id: uuid.UUID, device: str, hub: str, days: int) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = []
    for day in range(days):
        for hour, extra in ((7, 0.0), (19, 6.0)):
            at = now - timedelta(days=day, hours=hour)
            sys_ = 128 + 12 * ((day % 9) / 9) + extra
            rows.append(
                (
                    at,
                    uuid.uuid4(),
                    patient_id,
                    device,
                    hub,
                    "blood_pressure",
                    "ble",
                    sys_,
                    sys_ - 45,
                    None,
                    70 + day % 7,
                    None,
                    None,
                    "mmHg",
                )
            )
        at = now - timedelta(days=day, hours=8)
        rows.append(
            (
                at,
                uuid.uuid4(),
                patient_id,
                device,
                hub,
                "glucose",
                "ble",
                None,
                None,
                None,
                None,
                110 + (day % 5) * 9,
                None,
                "mg/dL",
            )
        )
        rows.append(
            (
                at,
                uuid.uuid4(),
                patient_id,
                device,
                hub,
                "weight",
                "ble",
                None,
                None,
                None,
                None,
                None,
                82.0 + (day % 4) * 0.3,
                "kg",
            )
        )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source,"
            " systolic_mmhg, diastolic_mmhg, mean_arterial_mmhg, pulse_bpm, glucose_mg_dl, weight_kg,"
            " device_unit, time_source, received_at) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'device', now())",
            rows,
        )


def seed_practice(conn: psycopg.Connection, label: str, hashed: str) -> Practice:
    from careteam_api.program import care_plans, consent, episodes, time_log
    from careteam_api.program.models import TimeEntryIn

    (practice_id,) = conn.execute(
        "INSERT INTO practices (name) VALUES (%s) RETURNING practice_id", (f"Practice {label}",)
    ).fetchone()
    practice = Practice(practice_id)
    tag = uuid.uuid4().hex[:6]
    for role in ROLES:
        email = f"{role}.{label}.{tag}@example.org".lower()
        (user_id,) = conn.execute(
            "INSERT INTO users (practice_id, email, full_name, role, npi, password_hash) VALUES"
            " (%s, %s, %s, %s, %s, %s) RETURNING user_id",
            (
                practice_id,
                email,
                f"{role.replace('_', ' ').title()} {label}",
                role,
                "1234567890" if role == "clinician" else None,
                hashed,
            ),
        ).fetchone()
        practice.users[role] = email
        practice.user_ids[role] = user_id
    patients = []
    for mrn, given, family in (("A100", "Ada", "Lovelace"), ("A200", "Alan", "Turing")):
        (pid,) = conn.execute(
            "INSERT INTO patients (practice_id, mrn, given_name, family_name, birth_date, timezone)"
            " VALUES (%s, %s, %s, %s, %s, 'America/Chicago') RETURNING patient_id",
            (practice_id, f"{label}-{mrn}", given, family, date(1950, 3, 1)),
        ).fetchone()
        patients.append(pid)
    practice.patient_id, practice.other_patient_id = patients
    practice.hub_id = f"hub-{label}-{tag}"
    practice.device_id = f"CUFF-{label}-{tag}"
    conn.execute(
        "INSERT INTO hubs (hub_id, practice_id, label) VALUES (%s, %s, 'living room')",
        (practice.hub_id, practice_id),
    )
    conn.execute(
        "INSERT INTO devices (device_id, model, profile, serial,"
        " hub_id) VALUES (%s, 'BP7000', 'omron_bp', %s, %s)",
        (practice.device_id, practice.device_id, practice.hub_id),
    )
    conn.execute(
        "INSERT INTO device_assignments (device_id, patient_id, valid) VALUES"
        " (%s, %s, tstzrange(now() - interval '200 days', NULL))",
        (practice.device_id, practice.patient_id),
    )
    conn.execute(
        "INSERT INTO hub_status (hub_id, online, sent_at,"
        " software_version, devices) VALUES (%s, true, now(), '1.0',"
        " jsonb_build_array(jsonb_build_object('device_id',"
        " %s::text, 'battery_pct', 15, 'last_seen', now())))",
        (practice.hub_id, practice.device_id),
    )
    _readings(conn, practice.patient_id, practice.device_id, practice.hub_id, 120)
    today = date.today()
    practice.consent_id = consent.record_consent(
        conn,
        practice.patient_id,
        "rpm",
        method="verbal",
        consented_on=today - timedelta(days=100),
        obtained_by=practice.user_ids["care_manager"],
        consent_text="agreed",
    ).consent_id
    consent.record_consent(
        conn,
        practice.patient_id,
        "ccm",
        method="written",
        consented_on=today - timedelta(days=100),
        obtained_by=practice.user_ids["care_manager"],
        document_ref="scan-1",
    )
    episodes.start_episode(conn, practice.patient_id, today - timedelta(days=95))
    care_plans.add_version(
        conn,
        practice.patient_id,
        problems=["Hypertension"],
        goals=["BP under 130/80"],
        medications=["lisinopril"],
        alert_thresholds={"bp_single_high": {"systolic_mmhg": 150}},
        author_id=practice.user_ids["clinician"],
    )
    practice.entry_id = time_log.log_time(
        conn,
        TimeEntryIn(
            patient_id=practice.patient_id,
            user_id=practice.user_ids["care_manager"],
            program="rpm",
            started_at=datetime.now(UTC) - timedelta(hours=3),
            minutes=12,
            activity="call",
            note="discussed readings",
            interactive=True,
        ),
    ).entry_id
    conn.execute(
        "INSERT INTO patient_contacts (patient_id, phone,"
        " preferred_contact) VALUES (%s, '+1 312 555 0100', 'phone')",
        (practice.patient_id,),
    )
    practice.alert_id = _alert(conn, practice)
    return practice


def _alert(conn: psycopg.Connection, practice: Practice) -> int:
    """An open alert as the alert engine would leave it (test data for read-only views)."""
    (alert_id,) = conn.execute(
        "INSERT INTO alerts (practice_id, patient_id, rule, category, priority, state, opened_at, first_seen,"
        " last_seen, evidence_count, worst_value, explanation, updated_at) VALUES (%s, %s, 'bp_single_high',"
        " 'clinical', 'high', 'open', now() - interval '2 hours', now() - interval '3 days',"
        " now() - interval '2 hours', 2, 171, '{\"summary\": \"SBP 171 >= 150 (care plan)\"}', now())"
        " RETURNING alert_id",
        (practice.practice_id, practice.patient_id),
    ).fetchone()
    return alert_id


def seed(database_url: str) -> World:
    migrate(database_url)
    hashed = hash_password(PASSWORD)
    with psycopg.connect(database_url) as conn:
        a = seed_practice(conn, "a", hashed)
        b = seed_practice(conn, "b", hashed)
    return World(database_url, a, b)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(settings: ApiSettings) -> Iterator[str]:
    """The real app under uvicorn in a thread on a free loopback port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def settings_for(database_url: str, **overrides: object) -> ApiSettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "session_secret": SECRET,
        "login_max_failures_per_ip": 10_000,
        "pool_max_size": 8,
    }
    values.update(overrides)
    return ApiSettings(**values)


def token_for(base_url: str, email: str) -> str:
    resp = httpx.post(f"{base_url}/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    return resp.json()["access_token"]


@pytest.fixture(scope="session")
def api_world(database_url: str) -> Iterator[World]:
    with scratch_database(database_url) as url:
        yield seed(url)


@pytest.fixture(scope="session")
def api_url(api_world: World) -> Iterator[str]:
    with serve(settings_for(api_world.database_url)) as url:
        yield url


@pytest.fixture(scope="session")
def tokens(api_url: str, api_world: World) -> dict[tuple[str, str], str]:
    """Bearer tokens per (practice label, role)."""
    out = {}
    for label, practice in (("a", api_world.a), ("b", api_world.b)):
        for role, email in practice.users.items():
            out[(label, role)] = token_for(api_url, email)
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
