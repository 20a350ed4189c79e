"""`rpm alerts run`: a LISTEN loop on readings_committed plus a ticker for the time-based checks.

Any number may run at once: evaluations take the patients' advisory locks, each periodic job runs under its
own try-lock, escalation and snoozes use FOR UPDATE SKIP LOCKED, and evidence keys make a repeated
evaluation a no-op. After a restart the catch-up finds batches whose notification nobody heard.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from alerts.checks import adherence, devices, upkeep
from alerts.clock import Clock, SystemClock
from alerts.locks import try_job_lock
from alerts.pipeline import catch_up, evaluate_patients
from alerts.window_cache import WindowCache
from ingest.notify import CHANNEL, parse

log = logging.getLogger(__name__)

FRESH_MARGIN = timedelta(minutes=10)
"""Evidence counts from readings ingested this long before a notification is handled: covers a long ingest
transaction (ingested_at is its start) and a busy runner; older readings were evaluated when they came."""


@dataclass(frozen=True)
class RunnerConfig:
    database_url: str
    tick: timedelta = timedelta(seconds=60)
    escalate_after: timedelta = upkeep.ESCALATE_AFTER
    retention: timedelta | None = None


def run_checks(conn: psycopg.Connection, now: datetime, config: RunnerConfig) -> dict[str, Any]:
    """One tick: every periodic job, each in its own transaction and under its own lock."""
    jobs: dict[str, Callable[[], Any]] = {
        "catch_up": lambda: catch_up(conn, now, FRESH_MARGIN),
        "no_data": lambda: adherence.no_data(conn, now),
        "rpm_days": lambda: adherence.rpm_days(conn, now),
        "hub_offline": lambda: devices.hub_offline(conn, now),
        "battery_low": lambda: devices.battery_low(conn, now),
        "escalation": lambda: upkeep.escalate_unacknowledged(conn, now, config.escalate_after),
        "snoozes": lambda: upkeep.reraise_snoozed(conn, now),
        "retention": lambda: upkeep.retention(conn, config.retention),
    }
    results: dict[str, Any] = {}
    for name, job in jobs.items():
        try:
            with conn.transaction():
                if name == "catch_up" or try_job_lock(conn, name):
                    results[name] = job()
        except psycopg.Error:
            log.exception("alert job %s failed; it runs again at the next tick", name)
            results[name] = "failed"
    return results


def handle(
    conn: psycopg.Connection, payloads: list[str], now: datetime, windows: WindowCache | None = None
) -> int:
    """Evaluate the patients of some notifications in one transaction."""
    patients: set[uuid.UUID] = set()
    for payload in payloads:
        try:
            patients |= {uuid.UUID(patient) for patient, _kind in parse(payload)}
        except ValueError:
            log.exception("unreadable %s payload %r", CHANNEL, payload[:200])
    with conn.transaction():
        result = evaluate_patients(conn, patients, now, now - FRESH_MARGIN, windows=windows)
    if result.failures:
        log.error("alert rules failed: %s", "; ".join(result.failures))
    return result.patients


# A database restart or failover takes seconds; retrying from 1 s and doubling to 30 s rejoins it quickly
# without hammering a server that is still recovering.
RECONNECT_FIRST_S = 1.0
# After the first notification, 10 ms collects the rest of a burst (ingest commits several batches a second
# under load) without adding noticeable latency; 1,000 bounds one evaluation's input.
BURST_WAIT_S = 0.01
BURST_MAX = 1000
RECONNECT_MAX_S = 30.0
STOP_POLL_S = 1.0
"""How often the loops look at `stop()` while idle: the longest a shutdown waits."""


def run(config: RunnerConfig, clock: Clock | None = None, stop: Callable[[], bool] = lambda: False) -> None:
    """Listen and tick until `stop()`; a lost database connection is re-opened, never fatal.

    The ticker runs in a thread of its own, on its own connection: with thousands of patients a tick takes
    seconds, and readings must not wait for it to be evaluated. Notifications sent while the listener was
    disconnected are lost by PostgreSQL; each (re)connection starts with the catch-up pass, which evaluates
    every reading that arrived meanwhile.
    """
    clock = clock or SystemClock()
    ticker = threading.Thread(
        target=_reconnecting, args=(_tick, config, clock, stop), name="alert-ticker", daemon=True
    )
    ticker.start()
    _reconnecting(_listen, config, clock, stop)
    ticker.join()


def _reconnecting(
    serve: Callable[[RunnerConfig, Clock, Callable[[], bool]], None],
    config: RunnerConfig,
    clock: Clock,
    stop: Callable[[], bool],
) -> None:
    delay = RECONNECT_FIRST_S
    while not stop():
        try:
            serve(config, clock, stop)
        except psycopg.OperationalError as exc:
            log.warning("lost the database (%s); reconnecting in %.0f s", str(exc).strip(), delay)
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)
        else:
            return


def _tick(config: RunnerConfig, clock: Clock, stop: Callable[[], bool]) -> None:
    with psycopg.connect(config.database_url, autocommit=True) as conn:
        while not stop():
            began = clock.now()
            log.info("tick: %s", run_checks(conn, began, config))
            next_tick = began + config.tick
            while not stop() and clock.now() < next_tick:
                time.sleep(min(STOP_POLL_S, max(0.0, (next_tick - clock.now()).total_seconds())))


def _listen(config: RunnerConfig, clock: Clock, stop: Callable[[], bool]) -> None:
    with (
        psycopg.connect(config.database_url, autocommit=True) as listen,
        psycopg.connect(config.database_url, autocommit=True) as work,
    ):
        listen.execute(f"LISTEN {CHANNEL}")
        windows = WindowCache()  # kept while this connection lasts
        with work.transaction():
            catch_up(work, clock.now(), FRESH_MARGIN, windows)
        while not stop():
            # Wake on the first notification (psycopg would otherwise wait out the whole timeout), then
            # take whatever else is already queued so a burst is evaluated in one transaction.
            payloads = [n.payload for n in listen.notifies(timeout=STOP_POLL_S, stop_after=1)]
            if payloads:
                payloads += [n.payload for n in listen.notifies(timeout=BURST_WAIT_S, stop_after=BURST_MAX)]
                handle(work, payloads, clock.now(), windows)
