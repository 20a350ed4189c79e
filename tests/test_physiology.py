"""Simulated patients: each scenario gives what its alert rule (alert-rules.md) needs, the same per seed."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broker.contract.readings import ReadingKind
from simulators.home.spec import load_spec
from simulators.physiology import DeviceIdentity, Scenario, SimulatedPatient, home_spec, simulate, to_toml

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
SEEDS = (0, 1, 2, 3, 7)
PATIENT = SimulatedPatient("MRN-1", ("I10", "E11.9", "I50.9"))
BP, GLU, WT = ReadingKind.BLOOD_PRESSURE, ReadingKind.GLUCOSE, ReadingKind.WEIGHT


def run(scenario: Scenario, seed: int, patient: SimulatedPatient = PATIENT):
    return simulate(patient, scenario, now=NOW, seed=seed)


def weight_days_before(weights, last, days):
    """The weigh-in taken `days` days before `last` (within the rule's +/- 6 h slack)."""
    target = last.at - timedelta(days=days)
    [found] = [w for w in weights if abs(w.at - target) <= timedelta(hours=6)]
    return found


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
class TestScenariosMeetTheirRules:
    def test_hypertensive_crisis_ends_at_or_above_180(self, seed: int) -> None:
        bp = run(Scenario.HYPERTENSIVE_CRISIS, seed).history[BP]
        assert bp[-2].systolic_mmhg >= 180
        assert bp[-2].diastolic_mmhg >= 120
        assert bp[-1].systolic_mmhg >= 180

    def test_hypotension_ends_below_90(self, seed: int) -> None:
        assert run(Scenario.HYPOTENSION, seed).history[BP][-1].systolic_mmhg < 90

    def test_uncontrolled_hypertension_7_day_mean_and_three_in_a_row(self, seed: int) -> None:
        bp = run(Scenario.UNCONTROLLED_HYPERTENSION, seed).history[BP]
        week = [m for m in bp if m.at > bp[-1].at - timedelta(days=7)]
        assert len(week) >= 6
        mean_s = statistics.mean(m.systolic_mmhg for m in week)
        mean_d = statistics.mean(m.diastolic_mmhg for m in week)
        assert mean_s >= 135 or mean_d >= 85
        assert all(m.systolic_mmhg >= 140 or m.diastolic_mmhg >= 90 for m in bp[-3:])

    def test_heart_failure_gains_per_day_and_per_week(self, seed: int) -> None:
        weights = run(Scenario.HEART_FAILURE_DECOMPENSATION, seed).history[WT]
        last = weights[-1]
        assert last.weight_kg - weight_days_before(weights, last, 1).weight_kg >= 1.4
        assert last.weight_kg - weight_days_before(weights, last, 7).weight_kg >= 2.3
        earlier = weights[-2]
        assert earlier.weight_kg - weight_days_before(weights, earlier, 1).weight_kg < 1.4

    def test_hypoglycaemia_level_1_then_level_2(self, seed: int) -> None:
        glucose = run(Scenario.HYPOGLYCAEMIA, seed).history[GLU]
        assert 54 <= glucose[-2].glucose_mg_dl < 70
        assert glucose[-1].glucose_mg_dl < 54

    def test_hyperglycaemia_above_300_and_two_above_250_in_24_h(self, seed: int) -> None:
        glucose = run(Scenario.HYPERGLYCAEMIA, seed).history[GLU]
        assert glucose[-1].glucose_mg_dl > 300
        day = [g for g in glucose if g.at >= glucose[-1].at - timedelta(hours=24) and g.glucose_mg_dl > 250]
        assert len(day) >= 2

    def test_non_adherence_leaves_three_days_without_a_reading(self, seed: int) -> None:
        sim = run(Scenario.NON_ADHERENCE, seed)
        assert max(m.at for m in sim.all_history()) < NOW - timedelta(days=3)
        assert not any(sim.scheduled.values())

    def test_stable_patient_crosses_no_single_reading_limit(self, seed: int) -> None:
        sim = run(Scenario.STABLE, seed)
        assert all(90 <= m.systolic_mmhg < 160 and m.diastolic_mmhg < 100 for m in sim.history[BP])
        assert all(70 <= m.glucose_mg_dl <= 250 for m in sim.history[GLU])


def test_device_faults_become_home_options() -> None:
    battery = run(Scenario.DEAD_BATTERY, 0)
    assert battery.faults[BP].battery_pct < 20
    assert max(m.at for m in battery.history[BP]) < NOW - timedelta(hours=24)
    assert battery.scheduled[BP] == ()
    reset = run(Scenario.CLOCK_RESET, 0)
    shown = reset.now + timedelta(seconds=reset.faults[BP].clock_offset_s)
    assert shown.astimezone(ZoneInfo(PATIENT.timezone)).year == 2000
    assert run(Scenario.GARBAGE_BYTES, 0).faults[BP].garbage_records > 0


def test_hub_offline_for_a_day_then_flushing() -> None:
    sim = run(Scenario.HUB_OFFLINE_THEN_BACKLOG, 0)
    outage = sim.hub_outage
    assert outage is not None
    assert outage.duration >= timedelta(days=1)
    assert outage.end > NOW
    held = [m for m in sim.all_history() if outage.delivered_at(m) != m.at]
    assert held
    assert all(outage.delivered_at(m) == outage.end for m in held)


def test_home_blood_pressure_protocol_pairs_and_circadian_shape() -> None:
    bp = run(Scenario.STABLE, 0).history[BP]
    gaps = {(b.at - a.at).total_seconds() for a, b in zip(bp[::2], bp[1::2], strict=False)}
    assert gaps == {60.0}
    zone = ZoneInfo(PATIENT.timezone)
    morning = [m.systolic_mmhg for m in bp if m.at.astimezone(zone).hour < 12]
    evening = [m.systolic_mmhg for m in bp if m.at.astimezone(zone).hour >= 12]
    assert statistics.mean(morning) > statistics.mean(evening) + 4


def test_history_spans_the_days_and_schedule_follows_now() -> None:
    sim = run(Scenario.STABLE, 0)
    times = [m.at for m in sim.all_history()]
    assert NOW - timedelta(days=30) < min(times) < NOW - timedelta(days=29)
    assert max(times) <= NOW
    scheduled = [m for ms in sim.scheduled.values() for m in ms]
    assert scheduled
    assert all(NOW < m.at <= NOW + timedelta(minutes=10) for m in scheduled)


def test_same_seed_same_patient_other_seed_other_values() -> None:
    for scenario in Scenario:
        assert run(scenario, 4) == run(scenario, 4)
    assert run(Scenario.STABLE, 4).history != run(Scenario.STABLE, 5).history


def test_scenario_without_its_device_is_refused() -> None:
    with pytest.raises(ValueError, match="weight device"):
        run(Scenario.HEART_FAILURE_DECOMPENSATION, 0, SimulatedPatient("MRN-2", ("I10", "J44.9")))


def test_devices_file_round_trips_through_the_home_simulator(tmp_path: Path) -> None:
    sim = run(Scenario.CLOCK_RESET, 0)
    devices = [
        DeviceIdentity(BP, "omron-bp7250", "C0:DE:00:01:00:01", "SN-BP"),
        DeviceIdentity(GLU, "accu-chek-guide", "C0:DE:00:01:00:02", "SN-GL"),
        DeviceIdentity(WT, "and-uc-352ble", "C0:DE:00:01:00:03", "SN-WS"),
    ]
    path = tmp_path / "devices.toml"
    path.write_text(to_toml(home_spec(sim, devices), header="test"), encoding="utf-8")
    spec = load_spec(path)
    by_serial = {d.serial: d for d in spec.devices}
    assert len(by_serial["SN-GL"].readings) == len(sim.history[GLU])
    assert by_serial["SN-BP"].clock_offset_s == sim.faults[BP].clock_offset_s
    assert by_serial["SN-BP"].readings[-1].at == sim.history[BP][-1].at
    assert [s.after_s for s in by_serial["SN-BP"].schedule] == [120.0, 180.0]


def test_garbage_records_reach_the_devices_file(tmp_path: Path) -> None:
    sim = run(Scenario.GARBAGE_BYTES, 0)
    devices = [DeviceIdentity(BP, "omron-bp7250", "C0:DE:00:01:00:01", "SN-BP")]
    path = tmp_path / "devices.toml"
    path.write_text(to_toml(home_spec(sim, devices)), encoding="utf-8")
    [cuff] = load_spec(path).devices
    assert cuff.garbage_records == sim.faults[BP].garbage_records > 0
