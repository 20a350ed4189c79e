"""Care managers in separate processes (as several API server processes serve them) work the same queue at
once: every round they all read the queue, wait for each other, and claim its top alert together. Exactly
one claim wins each alert, and no alert is ever claimed twice."""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

import psycopg

from alerts.errors import AlreadyClaimed
from alerts.service import AlertService
from careteam_api.program import team
from tests.test_alerts_scenarios import World
from tests.test_alerts_scenarios import world as world  # the fixture

PROCESSES = 4
ALERTS = 6
WAIT_S = 60.0
"""Bounds a barrier wait: a process that died must fail the test, not hang it."""


def _work_the_queue(url: str, user_id: uuid.UUID, barrier: Any, results: Any) -> None:
    """Each round: read the open queue, wait for the others, claim its top alert. Reports
    (round, alert, won) per round."""
    outcomes = []
    with psycopg.connect(url, autocommit=True) as conn:
        service = AlertService(conn)
        for round_ in range(ALERTS):
            with conn.transaction():
                queue = service.list_queue(user_id, states=("open",))
            top = queue[0]["alert_id"]
            barrier.wait(WAIT_S)
            try:
                with conn.transaction():
                    service.claim(user_id, top)
                outcomes.append((round_, top, True))
            except AlreadyClaimed:
                outcomes.append((round_, top, False))
            barrier.wait(WAIT_S)  # every claim of this round is done before anyone reads the queue again
    results.put((user_id, outcomes))


def test_processes_claiming_the_same_queue_never_claim_an_alert_twice(
    world: World, scratch_database_url: str
) -> None:
    for _ in range(ALERTS):
        patient = world.patient()
        world.reading(patient, 0.1, "glucose", glucose=45.0)
        world.evaluate(patient)
    alert_ids = {r[0] for r in world.conn.execute("SELECT alert_id FROM alerts WHERE state = 'open'")}
    assert len(alert_ids) == ALERTS
    users = [world.cm1, world.cm2]
    for n in range(PROCESSES - len(users)):
        user = team.create_user(
            world.conn, world.practice, f"cm{n + 3}@example.org", f"Care Manager {n + 3}", "care_manager"
        )
        users.append(user.user_id)

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    results = spawn.Queue()
    workers = [
        spawn.Process(target=_work_the_queue, args=(scratch_database_url, user, barrier, results))
        for user in users
    ]
    for worker in workers:
        worker.start()
    reports = dict(results.get(timeout=WAIT_S * ALERTS) for _ in workers)
    for worker in workers:
        worker.join(WAIT_S)
        assert worker.exitcode == 0

    winners: dict[int, list[uuid.UUID]] = {}
    for round_ in range(ALERTS):
        contested = {reports[user][round_][1] for user in users}
        assert len(contested) == 1, f"round {round_}: the processes saw different tops {contested}"
        won = [user for user in users if reports[user][round_][2]]
        assert len(won) == 1, f"round {round_}: {len(won)} claims won alert {contested}"
        winners.setdefault(contested.pop(), []).extend(won)
    assert set(winners) == alert_ids
    assert all(len(who) == 1 for who in winners.values())
    rows = world.conn.execute(
        "SELECT a.alert_id, a.state, a.claimed_by, count(e.event_id) FROM alerts a"
        " JOIN alert_events e ON e.alert_id = a.alert_id AND e.action = 'claimed' GROUP BY a.alert_id"
    ).fetchall()
    assert {r[0]: (r[1], r[2], r[3]) for r in rows} == {
        alert_id: ("claimed", who[0], 1) for alert_id, who in winners.items()
    }
