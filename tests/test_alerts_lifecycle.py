"""The alert lifecycle on a real TimescaleDB: de-duplication, auto-resolution, escalation timing, snoozes,
concurrent claims, review time, tenancy, visible rule failures, override validation, the LISTEN path."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import psycopg
import pytest

import alerts.pipeline
from alerts.checks import devices, upkeep
from alerts.clock import ManualClock
from alerts.engine import evaluate
from alerts.errors import AlreadyClaimed, NotFound, RuleConfigError
from alerts.rules import READING_RULES
from alerts.rules.base import NoParams, ReadingRule
from alerts.runner import handle
from alerts.service import AlertService
from alerts.settings import validate_overrides
from careteam_api.program import care_plans, episodes
from ingest.notify import payloads
from tests.test_alerts_scenarios import NOW, World, _bp
from tests.test_alerts_scenarios import world as world  # the fixture


def test_confirmed_repeat_attaches_to_one_alert_and_re_evaluation_changes_nothing(world: World) -> None:
    patient = world.patient()
    world.reading(patient, 0.2, "blood_pressure", **_bp(184, 100))
    world.evaluate(patient)
    world.reading(patient, 0.1, "blood_pressure", **_bp(192, 104))  # the repeat 5 min later
    world.evaluate(patient)
    world.evaluate(patient)
    alerts = world.alerts(patient)
    assert list(alerts) == ["bp_crisis"]
    assert alerts["bp_crisis"]["count"] == 2
    assert alerts["bp_crisis"]["worst"] == 192
    actions = [
        r[0]
        for r in world.conn.execute(
            "SELECT action FROM alert_events WHERE alert_id = %s ORDER BY event_id",
            (alerts["bp_crisis"]["id"],),
        )
    ]
    assert actions == ["opened", "evidence_added"]


def test_trend_alert_auto_resolves_when_the_mean_recovers(world: World) -> None:
    patient = world.patient()
    for hours in (140, 120, 96, 72, 48, 24):
        world.reading(patient, hours, "blood_pressure", **_bp(138, 86))
    world.evaluate(patient)
    assert world.alerts(patient)["bp_mean_7d_high"]["state"] == "open"
    for hours in (3, 2, 1, 0.5):
        world.reading(patient, hours, "blood_pressure", **_bp(118, 72))
    world.evaluate(patient)
    alerts = world.alerts(patient)
    assert alerts["bp_mean_7d_high"]["state"] == "auto_resolved"


def _critical(world: World) -> tuple[uuid.UUID, int]:
    patient = world.patient()
    world.reading(patient, 0.1, "glucose", glucose=45.0)
    world.evaluate(patient)
    return patient, world.alerts(patient)["glucose_hypo_level2"]["id"]


def test_unacknowledged_critical_escalates_to_second_care_manager_then_clinician_on_call(
    world: World,
) -> None:
    _, alert_id = _critical(world)
    service = AlertService(world.conn, ManualClock(NOW))
    service.claim(world.cm1, alert_id)
    for minutes, level, who in (
        (29, 0, None),
        (31, 1, world.cm2),
        (45, 1, world.cm2),
        (62, 2, world.clinician),
    ):
        with world.conn.transaction():
            upkeep.escalate_unacknowledged(world.conn, NOW + timedelta(minutes=minutes))
        row = world.conn.execute(
            "SELECT escalation_level, assigned_to FROM alerts WHERE alert_id = %s", (alert_id,)
        ).fetchone()
        assert row == (level, who), minutes
    service.acknowledge(world.cm1, alert_id, "called patient, ate 15 g carbohydrate")
    with world.conn.transaction():
        assert upkeep.escalate_unacknowledged(world.conn, NOW + timedelta(hours=5)) == []


def test_snoozed_alert_is_reraised_when_the_preset_runs_out(world: World) -> None:
    patient = world.patient()
    world.reading(patient, 1, "blood_pressure", **_bp(165, 95))
    world.evaluate(patient)
    alert_id = world.alerts(patient)["bp_single_high"]["id"]
    AlertService(world.conn, ManualClock(NOW)).snooze(world.cm1, alert_id, "1h")
    with world.conn.transaction():
        assert upkeep.reraise_snoozed(world.conn, NOW + timedelta(minutes=59)) == []
    with world.conn.transaction():
        assert upkeep.reraise_snoozed(world.conn, NOW + timedelta(minutes=61)) == [alert_id]
    assert world.alerts(patient)["bp_single_high"]["state"] == "open"


def test_concurrent_claims_have_exactly_one_winner(world: World) -> None:
    _, alert_id = _critical(world)
    url = world.conn.info.dsn
    password = world.conn.info.password
    barrier = threading.Barrier(8)
    results: list[str] = []

    def claim() -> None:
        with psycopg.connect(url, password=password) as conn:
            barrier.wait()
            try:
                AlertService(conn).claim(world.cm1 if len(results) % 2 else world.cm2, alert_id)
                results.append("won")
            except AlreadyClaimed:
                results.append("lost")

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]
    events = world.conn.execute("SELECT count(*) FROM alert_events WHERE action = 'claimed'").fetchone()[0]
    assert events == 1


def test_review_time_becomes_one_time_entry_capped_and_editable(world: World) -> None:
    patient, alert_id = _critical(world)
    episodes.start_episode(world.conn, patient, (NOW - timedelta(days=10)).date())
    clock = ManualClock(NOW)
    service = AlertService(world.conn, clock)
    service.claim(world.cm1, alert_id)
    clock.advance(timedelta(minutes=7, seconds=10))
    service.acknowledge(world.cm1, alert_id, "called patient")
    clock.advance(timedelta(minutes=3))
    service.resolve(world.cm1, alert_id, "glucose back to 110")  # no new session: nothing more credited
    rows = world.conn.execute(
        "SELECT entry_id, minutes, program, activity, alert_id, role, interactive FROM time_entries"
    ).fetchall()
    assert [r[1:] for r in rows] == [(7, "rpm", "alert_review", alert_id, "clinical_staff", False)]

    patient2 = world.patient()
    world.reading(patient2, 0.1, "blood_pressure", **_bp(85, 50))
    world.evaluate(patient2)
    second = world.alerts(patient2)["bp_hypotension"]["id"]
    service.get_alert(world.cm2, second)  # opening starts the session
    clock.advance(timedelta(minutes=55))
    service.resolve(world.cm2, second, "orthostatic, advised fluids")
    entry_id, minutes, program = world.conn.execute(
        "SELECT entry_id, minutes, program FROM time_entries WHERE alert_id = %s", (second,)
    ).fetchone()
    assert (minutes, program) == (30, "ccm")
    corrected = service.edit_review_time(world.cm2, entry_id, 45, "long call with the caregiver")
    current = world.conn.execute(
        "SELECT minutes FROM time_entries_current WHERE alert_id = %s", (second,)
    ).fetchall()
    assert current == [(45,)]
    assert corrected != entry_id


def test_tenancy_hides_other_practices_alerts(world: World) -> None:
    _, alert_id = _critical(world)
    service = AlertService(world.conn, ManualClock(NOW))
    with pytest.raises(NotFound):
        service.get_alert(world.other_practice_user, alert_id)
    with pytest.raises(NotFound):
        service.claim(world.other_practice_user, alert_id)
    assert service.list_queue(world.other_practice_user) == []
    queue = service.list_queue(world.cm1, care_team_id=world.team)
    assert [a["alert_id"] for a in queue] == [alert_id]


def test_queue_orders_by_priority_then_age(world: World) -> None:
    patient = world.patient()
    world.reading(patient, 2, "blood_pressure", **_bp(165, 95))
    world.evaluate(patient, now=NOW - timedelta(hours=1))
    world.reading(patient, 0.1, "glucose", glucose=45.0)
    world.evaluate(patient)
    queue = AlertService(world.conn, ManualClock(NOW)).list_queue(world.cm1)
    assert [a["rule"] for a in queue] == ["glucose_hypo_level2", "bp_single_high"]


def _broken(r: object, s: object, p: object) -> object:
    raise ZeroDivisionError("division by zero in a new rule")


BROKEN = ReadingRule(
    name="broken_rule",
    summary="broken",
    source="test",
    priority="low",
    category="clinical",
    params=NoParams,
    select="bp",
    evaluate=_broken,
)


def test_failing_rule_raises_a_visible_engine_error_alert(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts.pipeline, "evaluate", lambda r, c: evaluate(r, c, (*READING_RULES, BROKEN)))
    patient = world.patient()
    world.reading(patient, 0.1, "blood_pressure", **_bp(186, 96))
    result = world.evaluate(patient)
    assert result.failures == ["broken_rule: ZeroDivisionError: division by zero in a new rule"]
    assert "bp_crisis" in world.alerts(patient)  # the other rules still ran
    engine = world.alerts(None)["engine_error"]
    assert engine["state"] == "open"
    assert engine["priority"] == "high"


def test_overrides_are_validated_with_every_problem_listed() -> None:
    with pytest.raises(RuleConfigError) as caught:
        validate_overrides(
            {
                "bp_single_hihg": {},
                "bp_crisis": {"systolic_mmhg": "high", "sistolic": 1},
                "pulse_out_of_range": {"below_bpm": 90, "above_bpm": 80},
            },
            "care plan",
        )
    text = str(caught.value)
    assert "bp_single_hihg: no such rule" in text
    assert "bp_crisis.systolic_mmhg" in text
    assert "bp_crisis.sistolic" in text
    assert "below_bpm (90) must be lower than above_bpm (80)" in text
    assert validate_overrides({"bp_crisis": {"systolic_mmhg": 170, "enabled": True}}, "ok")


def test_care_plan_overrides_apply_and_bad_ones_raise_a_config_alert(world: World) -> None:
    patient = world.patient()
    care_plans.add_version(
        world.conn,
        patient,
        problems=[],
        goals=[],
        medications=[],
        alert_thresholds={"bp_single_high": {"systolic_mmhg": 150}},
    )
    world.reading(patient, 0.5, "blood_pressure", **_bp(152, 80))
    world.evaluate(patient)
    assert set(world.alerts(patient)) == {"bp_single_high"}
    bad = world.patient()
    care_plans.add_version(
        world.conn,
        bad,
        problems=[],
        goals=[],
        medications=[],
        alert_thresholds={"bp_single_high": {"systolic_mmhg": -3}},
    )
    world.reading(bad, 0.5, "blood_pressure", **_bp(186, 80))
    world.evaluate(bad)
    assert set(world.alerts(bad)) == {"bp_crisis", "rule_config_error"}


def test_notification_payload_drives_evaluation_and_battery_check(world: World) -> None:
    patient = world.patient()
    world.device(patient)
    world.reading(patient, 0.1, "glucose", glucose=450.0)
    pairs = [(str(patient), "glucose")]
    assert handle(world.conn, list(payloads(pairs)), NOW) == 1
    assert set(world.alerts(patient)) == {"glucose_very_high"}
    world.conn.execute(
        "INSERT INTO hub_status (hub_id, online, sent_at, software_version, devices) VALUES"
        " ('hub-1', true, %s,"
        ' \'1.0\', \'[{"device_id": "dev-1", "battery_pct": 12}]\')',
        (NOW - timedelta(hours=30),),
    )
    with world.conn.transaction():
        devices.battery_low(world.conn, NOW)
        devices.hub_offline(world.conn, NOW)
    assert {"device_battery_low", "hub_offline"} <= set(world.alerts(patient))
