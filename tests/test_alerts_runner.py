"""`rpm alerts run` survives a lost database connection and catches up on what arrived meanwhile."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg

from alerts.runner import RunnerConfig, run
from tests.test_alerts_scenarios import World
from tests.test_alerts_scenarios import world as world

# Loopback round trips and one evaluation take milliseconds; 30 s only bounds a broken runner.
WAIT_S = 30.0


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _runner_backends(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    ).fetchone()
    return int(row[0]) if row else 0


def test_runner_reconnects_and_catches_up(world: World, scratch_database_url: str) -> None:
    patient = world.patient("I10")
    stop = threading.Event()
    config = RunnerConfig(scratch_database_url, tick=timedelta(seconds=1))
    runner = threading.Thread(target=run, args=(config,), kwargs={"stop": stop.is_set}, daemon=True)
    runner.start()
    try:
        _wait_for(lambda: _runner_backends(world.conn) >= 2, "the runner's two connections")
        world.conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        # Stored while the runner is disconnected: no notification reaches it.
        world.reading(patient, 0.1, "blood_pressure", ingested=datetime.now(UTC), systolic=188, diastolic=124)
        _wait_for(lambda: "bp_crisis" in world.alerts(patient), "the crisis alert after reconnecting")
        assert runner.is_alive(), "the runner died with its connection"
    finally:
        stop.set()
        runner.join(timeout=WAIT_S)
    assert world.alerts(patient)["bp_crisis"]["priority"] == "critical"
