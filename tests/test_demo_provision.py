"""The demo practice provisions on a scratch database and the real broker, and a second run reuses all."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from alerts.rules import BY_NAME
from broker.admin.accounts import BrokerAdmin
from broker.topics import Channel, hub_topic
from careteam_api.auth.passwords import verify_password
from careteam_api.program.conditions import conditions_of, eligibility
from rpmctl.services.endpoints import Endpoints
from simulators.demo import DemoPlan, LocalBroker, provision_demo
from simulators.demo.roster import PATIENTS
from simulators.home.spec import load_spec
from simulators.physiology import Scenario
from tests.mqtt_helpers import TestClient

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
pytestmark = pytest.mark.services


@pytest.fixture
def demo_broker(broker_admin: BrokerAdmin, services: Endpoints) -> Iterator[tuple[LocalBroker, str]]:
    """The real broker, hub ids of this test's own; hubs revoked and configs cleared afterwards."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    yield LocalBroker(broker_admin, hub_url=services.mqtt_hub_url, admin_url=services.mqtt_admin_url), prefix
    ours = [h for h in broker_admin.hubs() if h.startswith(prefix)]
    for hub in ours:
        broker_admin.revoke_hub(hub)
    admin = TestClient(services.mqtt_admin_url, f"admin-{uuid.uuid4().hex[:8]}").connect()
    try:
        for hub in ours:
            admin.publish(hub_topic(hub, Channel.CONFIG), b"", retain=True)
    finally:
        admin.close()


@pytest.fixture
def database(scratch_database_url: str) -> str:
    from database.migrate import migrate

    migrate(scratch_database_url)
    return scratch_database_url


def provision(database: str, state: Path, demo_broker: tuple[LocalBroker, str]) -> DemoPlan:
    broker, prefix = demo_broker
    return provision_demo(database, state, now=NOW, seed=3, broker=broker, hub_prefix=prefix)


def count(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_demo_provisions_once_and_reuses_everything(
    database: str, tmp_path: Path, demo_broker: tuple[LocalBroker, str]
) -> None:
    first = provision(database, tmp_path, demo_broker)
    assert first.created == {"patients": 20, "hubs": 20, "devices_files": 20, "passwords": 5}
    second = provision(database, tmp_path, demo_broker)
    assert second.created == {"patients": 0, "hubs": 0, "devices_files": 0, "passwords": 0}
    assert [u.password for u in second.users] == [u.password for u in first.users]
    assert second.homes == first.homes

    with psycopg.connect(database) as conn:
        assert count(conn, "SELECT count(*) FROM practices") == 1
        assert count(conn, "SELECT count(*) FROM patients") == 20
        assert count(conn, "SELECT count(*) FROM users") == 5
        assert count(conn, "SELECT count(DISTINCT role) FROM users") == 4
        assert count(conn, "SELECT count(*) FROM consents") == 40
        assert count(conn, "SELECT count(*) FROM rpm_episodes") == 20
        assert count(conn, "SELECT count(*) FROM care_plan_versions") == 20
        assert count(conn, "SELECT count(*) FROM hubs") == 20
        devices = count(conn, "SELECT count(*) FROM devices")
        assert count(conn, "SELECT count(*) FROM device_assignments") == devices
        assert count(conn, "SELECT count(*) FROM rpm_episode_devices") == devices
        patient_ids = [r[0] for r in conn.execute("SELECT patient_id FROM patients").fetchall()]
        assert all(eligibility(conditions_of(conn, p)).eligible for p in patient_ids)
        hashes = dict(conn.execute("SELECT email, password_hash FROM users").fetchall())
        overrides = [r[0] for r in conn.execute("SELECT alert_thresholds FROM care_plan_versions").fetchall()]
    assert all(verify_password(hashes[u.email], u.password) for u in first.users)
    for override in filter(None, overrides):
        for rule, params in override.items():
            BY_NAME[rule].params.model_validate(params)
    assert stat.S_IMODE(first.logins_file.stat().st_mode) == 0o600


def test_demo_homes_hold_their_scenarios(
    database: str, tmp_path: Path, demo_broker: tuple[LocalBroker, str]
) -> None:
    plan = provision(database, tmp_path, demo_broker)
    assert {h.scenario for h in plan.homes} == {s.value for s in Scenario}
    assert all(h.bundle_dir.parent == tmp_path / "demo" / "homes" for h in plan.homes)
    for home in plan.homes:
        spec = load_spec(home.devices_file)
        assert home.config_file.exists()
        assert tuple(d.serial for d in spec.devices) == home.device_ids
        assert all(d.readings or home.scenario == "clock_reset" for d in spec.devices)
    [offline] = [h for h in plan.homes if h.scenario == Scenario.HUB_OFFLINE_THEN_BACKLOG]
    assert offline.start_after is not None
    assert offline.start_after > NOW
    hf = next(p for p in PATIENTS if p.scenario is Scenario.HEART_FAILURE_DECOMPENSATION)
    [home] = [h for h in plan.homes if h.mrn == hf.mrn]
    [scale] = [d for d in load_spec(home.devices_file).devices if d.serial.startswith("RFM-WS")]
    assert scale.readings[-1].weight_kg - scale.readings[-2].weight_kg >= 1.4
