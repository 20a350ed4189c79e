"""Exactly-once effect: duplicates, redeliveries, killed workers and a database restart store each reading
once.

CI publishes RPM_INGEST_SOAK_READINGS distinct readings (20,000 by default, to stay within the suite's time
budget); the soak run uses 100,000:
`RPM_INGEST_SOAK_READINGS=100000 .venv/bin/pytest tests/test_ingest_exactly_once.py -k kills`.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import uuid
from collections.abc import Callable

import psycopg
import pytest

from broker.topics import Channel, hub_topic
from database.migrate import migrate
from rpmctl.services.progress import Progress
from rpmctl.services.stack import LocalStack
from tests.conftest import ProvisionedHub
from tests.test_ingest_support import (
    BASE_TIME,
    WorkerProcess,
    batch_payload,
    bp_reading,
    forget_sessions,
    hub_publisher,
    iso,
    prepare_session,
    publish_all,
    scalar,
    seed_assignment,
    unique,
    wait_for,
    worker_config,
    worker_thread,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

SOAK_READINGS = int(os.environ.get("RPM_INGEST_SOAK_READINGS", "20000"))
DEVICES = 20
DUPLICATE_SHARE = 0.1
"""A tenth of the messages is published twice, and a tenth of the readings travels again in a later batch
(a hub re-reading a device's stored records), on top of the redeliveries the kills cause."""


def _messages(hub_id: str, total: int, rng: random.Random) -> tuple[list[bytes], set[uuid.UUID]]:
    """Batches of 1-50 readings over DEVICES devices, with duplicates; returns payloads and distinct ids."""
    readings = [bp_reading(f"EO-{i % DEVICES:02d}", i // DEVICES) for i in range(total)]
    expected = {uuid.UUID(r["reading_id"]) for r in readings}
    payloads: list[bytes] = []
    position = 0
    while position < total:
        size = rng.choice((1, 1, 5, 20, 50))
        chunk = readings[position : position + size]
        position += size
        if rng.random() < DUPLICATE_SHARE and position > 100:
            chunk = [*chunk, readings[rng.randrange(position - 100)]]  # a re-read of an older record
        sent_at = BASE_TIME + dt.timedelta(days=1, seconds=position)
        payload = batch_payload(hub_id, chunk, sent_at=iso(sent_at))
        payloads.append(payload)
        if rng.random() < DUPLICATE_SHARE:
            payloads.append(payload)
    return payloads, expected


def _stored(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM readings"))


def test_kills_redeliveries_and_a_database_restart_store_each_reading_once(
    scratch_database_url: str, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    url, hub = scratch_database_url, provision_hub()
    migrate(url)
    for device in range(DEVICES):
        seed_assignment(url, f"EO-{device:02d}")
    payloads, expected = _messages(hub.hub_id, SOAK_READINGS, random.Random(7))
    worker = WorkerProcess(url, mqtt_url, unique("w"), unique("g"), "--max-delay-ms", "20")
    publisher = hub_publisher(hub)
    publishing = threading.Thread(
        target=publish_all, args=(publisher, hub_topic(hub.hub_id, Channel.READINGS), payloads), daemon=True
    )
    prepare_session(mqtt_url, worker.client_id, worker.share_group)
    worker.start()
    try:
        publishing.start()
        # SIGKILL at 1/5, 3/5 and 4/5 of the readings stored; the database restarts under the running
        # worker at 2/5, so its transaction in flight fails and it reconnects and retries.
        for step, action in enumerate(("kill", "restart database", "kill", "kill"), start=1):
            wait_for(
                lambda s=step: _stored(url) >= len(expected) * s // 5, f"progress before {action} {step}"
            )
            if action == "kill":
                worker.kill()
                worker.start()
            else:
                _restart_database()
        publishing.join(120)
        assert not publishing.is_alive()
        wait_for(lambda: _stored(url) >= len(expected), "every distinct reading", timeout=120)
        worker.stop()
    finally:
        publisher.close()
        if worker.process is not None and worker.process.poll() is None:
            worker.kill()
        forget_sessions(mqtt_url, [worker.client_id])
    with psycopg.connect(url, autocommit=True) as conn:
        stored = [row[0] for row in conn.execute("SELECT reading_id FROM readings")]
        letters = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE hub_id = %s", (hub.hub_id,)
        ).fetchone()[0]
    assert len(stored) == len(expected)
    assert set(stored) == expected
    assert letters == 0


def _restart_database() -> None:
    """Stop and start only TimescaleDB (the broker and the worker keep running)."""
    timescale = LocalStack(progress=Progress(quiet=True)).timescale
    timescale.down()
    timescale.up()


def test_two_workers_share_the_load_and_store_each_reading_once(
    scratch_database_url: str, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    url, hub = scratch_database_url, provision_hub()
    migrate(url)
    for device in range(DEVICES):
        seed_assignment(url, f"EO-{device:02d}")
    payloads, expected = _messages(hub.hub_id, 4000, random.Random(11))
    group = unique("g")
    first = worker_config(url, mqtt_url, worker_id=unique("a"), share_group=group)
    second = worker_config(url, mqtt_url, worker_id=unique("b"), share_group=group)
    with worker_thread(first) as a, worker_thread(second) as b:
        publisher = hub_publisher(hub)
        try:
            publish_all(publisher, hub_topic(hub.hub_id, Channel.READINGS), payloads)
        finally:
            publisher.close()

        def shares() -> list[float]:
            return [
                w.metrics.registry.get_sample_value(
                    "ingest_messages_total", {"worker": w.config.worker_id, "channel": "readings"}
                )
                or 0.0
                for w in (a, b)
            ]

        wait_for(lambda: sum(shares()) >= len(payloads), "every message to be committed")
        split = shares()
    assert sum(split) >= len(payloads)  # other hubs' traffic on the shared broker can only add
    assert min(split) >= len(payloads) * 0.2, split
    assert _stored(url) == len(expected)
    assert scalar(url, "SELECT count(DISTINCT reading_id) FROM readings") == len(expected)
