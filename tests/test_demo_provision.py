"""The demo practice provisions on a scratch database and the real broker, and a second run reuses all."""

from __future__ import annotations

import asyncio
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from alerts.rules import BY_NAME
from broker.admin.accounts import BrokerAdmin
from broker.topics import Channel, hub_topic
from careteam_api.auth.passwords import verify_password
from careteam_api.billing.engine import evaluate
from careteam_api.billing.export import build_month_input
from careteam_api.billing.model import MonthInput, MonthResult
from careteam_api.program.conditions import conditions_of, eligibility
from careteam_api.program.patients import find_practice
from gateway.settings import load_settings
from rpmctl.services.endpoints import Endpoints
from simulators.demo import DemoPlan, LocalBroker, provision_demo
from simulators.demo.care_work import level_for
from simulators.demo.roster import PATIENTS, PRACTICE_TIMEZONE
from simulators.home import Home
from simulators.home.spec import load_spec
from simulators.physiology import Scenario
from simulators.physiology.scenarios import GARBAGE_RECORDS
from tests.mqtt_helpers import TestClient
from tests.test_home_support import Arrivals
from tests.test_hub_support import subscriber

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


def provision(
    database: str, state: Path, demo_broker: tuple[LocalBroker, str], now: datetime = NOW
) -> DemoPlan:
    broker, prefix = demo_broker
    return provision_demo(database, state, now=now, seed=3, broker=broker, hub_prefix=prefix)


def count(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_demo_provisions_once_and_reuses_everything(
    database: str, tmp_path: Path, demo_broker: tuple[LocalBroker, str]
) -> None:
    first = provision(database, tmp_path, demo_broker)
    logged = first.created.pop("time_entries")
    assert first.created == {"patients": 20, "hubs": 20, "devices_files": 20, "passwords": 5}
    assert logged > 0
    second = provision(database, tmp_path, demo_broker)
    assert second.created == {"patients": 0, "hubs": 0, "devices_files": 0, "passwords": 0, "time_entries": 0}
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
        assert count(conn, "SELECT count(*) FROM time_entries") == logged
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
    garbage = next(p for p in PATIENTS if p.scenario is Scenario.GARBAGE_BYTES)
    [home] = [h for h in plan.homes if h.mrn == garbage.mrn]
    primary = load_spec(home.devices_file).devices[0]
    assert primary.garbage_records == GARBAGE_RECORDS
    hf = next(p for p in PATIENTS if p.scenario is Scenario.HEART_FAILURE_DECOMPENSATION)
    [home] = [h for h in plan.homes if h.mrn == hf.mrn]
    [scale] = [d for d in load_spec(home.devices_file).devices if d.serial.startswith("RFM-WS")]
    assert scale.readings[-1].weight_kg - scale.readings[-2].weight_kg >= 1.4


STAFF_CODES = {
    "intensive": {"99490": 1, "99439": 2, "99457": 1, "99458": 1},
    "engaged": {"99490": 1, "99439": 1, "99457": 1},
    "routine": {"99490": 1, "99470": 1},
    "light": {},
    "unreachable": {},
}
"""What each care level's month earns (care_work): codes and units."""


def _month(database: str, practice_id: str, month: str) -> tuple[MonthInput, MonthResult]:
    with psycopg.connect(database) as conn:
        data = build_month_input(conn, find_practice(conn, practice_id), month)
    return data, evaluate(data)


def test_demo_staff_time_earns_care_management_codes_for_some_patients(
    database: str, tmp_path: Path, demo_broker: tuple[LocalBroker, str]
) -> None:
    plan = provision(database, tmp_path, demo_broker)
    numbers = {p.mrn: p.number for p in PATIENTS}
    for month, this_month in (("2026-02", False), ("2026-03", True)):
        data, result = _month(database, plan.practice_id, month)
        levels = {p.id: level_for(numbers[p.mrn or ""], this_month).name for p in data.patients}
        for patient in result.patients:
            # every minute counts: after consent, inside the episode, no care manager's time overlapping
            assert patient.excluded_entries == []
            codes = {c.code: c.units for c in patient.codes}
            assert codes == STAFF_CODES[levels[patient.id]], (
                month,
                levels[patient.id],
                patient.counted_minutes,
            )
            if levels[patient.id] == "unreachable":
                assert patient.counted_minutes["rpm"] >= 10
                assert "interactive_contact" in {m.unit for m in patient.missing}
        assert sum("99457" in {c.code for c in p.codes} for p in result.patients) >= 5
        assert 0 < sum("99490" in {c.code for c in p.codes} for p in result.patients) < 20


def _logged(database: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(patient, local month) -> (entries, minutes) in the time log."""
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT patient_id::text, to_char(started_at AT TIME ZONE %s, 'YYYY-MM'), count(*), sum(minutes)"
            " FROM time_entries GROUP BY 1, 2",
            (PRACTICE_TIMEZONE,),
        ).fetchall()
    return {(patient, month): (entries, minutes) for patient, month, entries, minutes in rows}


def test_demo_staff_time_is_logged_once(
    database: str, tmp_path: Path, demo_broker: tuple[LocalBroker, str]
) -> None:
    provision(database, tmp_path, demo_broker)
    before = _logged(database)
    assert {month for _, month in before} == {"2026-02", "2026-03"}
    assert len(before) == 40
    next_day = NOW + timedelta(days=1)  # the same months: nothing more to log
    again = provision(database, tmp_path, demo_broker, now=next_day)
    assert again.created["time_entries"] == 0
    assert _logged(database) == before


def test_the_garbage_bytes_home_sends_garbage_and_the_hub_records_it(
    database: str, tmp_path: Path, demo_broker: tuple[LocalBroker, str], mqtt_url: str
) -> None:
    """The demo home of that scenario, run as `rpm demo` runs it (its bundle, devices file and published
    config): the hub reports a decode error with the bytes for each garbled record and stores the rest."""
    plan = provision(database, tmp_path, demo_broker)
    [home] = [h for h in plan.homes if h.scenario == Scenario.GARBAGE_BYTES]
    spec = load_spec(home.devices_file)
    [meter] = spec.devices
    client = subscriber(mqtt_url, home.hub_id, Channel.READINGS, Channel.EVENTS)
    got = Arrivals()
    good = len(meter.readings) - GARBAGE_RECORDS

    async def scenario() -> None:
        async with Home(load_settings(home.config_file), spec) as running:
            await asyncio.to_thread(
                got.drain,
                client,
                lambda a: len(a.decode_errors()) >= GARBAGE_RECORDS and len(a.readings) >= good,
            )
            assert not running.hub.failed.is_set()

    try:
        asyncio.run(scenario())
    finally:
        client.close()
    errors = got.decode_errors(meter.serial)
    assert len(errors) == len(got.decode_errors()) == GARBAGE_RECORDS
    assert all(e.raw_hex and bytes.fromhex(e.raw_hex) for e in errors)
    assert len({r.reading_id for r in got.readings}) == len(got.readings) == good
    assert sorted(r.sequence for r in got.readings) == list(
        range(GARBAGE_RECORDS + 1, len(meter.readings) + 1)
    )
