"""Ingest end to end on the real broker and database: stored once, parked, notified, measured."""

from __future__ import annotations

import datetime as dt
import json
import queue
import socket
import urllib.request
import uuid
from collections.abc import Callable

import psycopg
import pytest

from broker.topics import Channel, hub_topic
from database.migrate import migrate
from ingest import notify
from ingest.store import BatchWriter
from ingest.worker import CommittedBatch, resolve_all
from tests.conftest import ProvisionedHub
from tests.test_ingest_support import (
    BASE_TIME,
    batch_payload,
    bp_reading,
    hub_publisher,
    publish_all,
    scalar,
    seed_assignment,
    wait_for,
    worker_config,
    worker_thread,
)

pytestmark = pytest.mark.services


@pytest.fixture
def db_url(scratch_database_url: str) -> str:
    migrate(scratch_database_url)
    return scratch_database_url


def test_batch_is_stored_for_the_assigned_patient_and_notified(
    db_url: str, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    patient = seed_assignment(db_url, "SN-A")
    committed: queue.Queue[CommittedBatch] = queue.Queue()
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {notify.CHANNEL}")
        with worker_thread(worker_config(db_url, mqtt_url), on_commit=committed.put):
            pub = hub_publisher(hub)
            try:
                readings = [bp_reading("SN-A", i) for i in range(20)]
                topic = hub_topic(hub.hub_id, Channel.READINGS)
                publish_all(pub, topic, [batch_payload(hub.hub_id, readings[:10])] * 2)
                publish_all(pub, topic, [batch_payload(hub.hub_id, readings[5:])])
            finally:
                pub.close()
            wait_for(lambda: scalar(db_url, "SELECT count(*) FROM readings") == 20, "20 readings")
            hook = committed.get(timeout=10)
        notified = [notify.parse(n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
    assert hook.pairs == {(str(patient), "blood_pressure")}
    assert notified == [[(str(patient), "blood_pressure")]]
    assert (
        scalar(db_url, "SELECT count(DISTINCT patient_id) FROM readings WHERE patient_id = %s", (patient,))
        == 1
    )
    assert scalar(db_url, "SELECT count(*) FROM hubs WHERE hub_id = %s", (hub.hub_id,)) == 1


def test_unassigned_device_is_registered_parked_and_resolved_later(
    db_url: str, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    readings = [bp_reading("SN-NEW", i) for i in range(5)]
    with worker_thread(worker_config(db_url, mqtt_url)):
        pub = hub_publisher(hub)
        try:
            publish_all(pub, hub_topic(hub.hub_id, Channel.READINGS), [batch_payload(hub.hub_id, readings)])
        finally:
            pub.close()
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM parked_readings") == 5, "5 parked readings")
    assert scalar(db_url, "SELECT hub_id FROM devices WHERE device_id = 'SN-NEW'") == hub.hub_id
    assert scalar(db_url, "SELECT count(*) FROM readings") == 0
    # The assignment starts after reading 2 was taken: readings 0-2 stay parked, 3-4 are stored.
    patient = seed_assignment(db_url, "SN-NEW", valid_from=BASE_TIME + dt.timedelta(minutes=2, seconds=30))
    with psycopg.connect(db_url, autocommit=True) as conn:
        writer = BatchWriter(conn)
        assert resolve_all(writer) == 2
        assert resolve_all(writer) == 0
    assert scalar(db_url, "SELECT count(*) FROM readings WHERE patient_id = %s", (patient,)) == 2
    assert scalar(db_url, "SELECT count(*) FROM parked_readings") == 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_endpoint_serves_the_counters(
    db_url: str, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    seed_assignment(db_url, "SN-M")
    config = worker_config(db_url, mqtt_url)
    with worker_thread(config) as worker:
        port = worker.metrics.serve(_free_port())
        try:
            pub = hub_publisher(hub)
            try:
                topic = hub_topic(hub.hub_id, Channel.READINGS)
                good = batch_payload(hub.hub_id, [bp_reading("SN-M", 0), bp_reading("SN-M", 1)])
                unassigned = batch_payload(hub.hub_id, [bp_reading("SN-NONE", 0)])
                publish_all(pub, topic, [good, good, unassigned, b"not json"])
            finally:
                pub.close()
            wait_for(
                lambda: (
                    scalar(db_url, "SELECT count(*) FROM dead_letters WHERE hub_id = %s", (hub.hub_id,)) == 1
                ),
                "the dead letter",
            )
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                text = response.read().decode()
        finally:
            worker.metrics.close()
    values = _samples(text, config.worker_id)
    # The worker's group sees every hub's topics, so traffic of other hubs on the broker can only add.
    assert values['ingest_readings_total{outcome="stored"}'] == 2
    assert values['ingest_messages_total{channel="readings"}'] >= 4
    assert values['ingest_readings_total{outcome="duplicate"}'] >= 2
    assert values['ingest_readings_total{outcome="parked"}'] >= 1
    assert values['ingest_dead_letters_total{category="invalid"}'] >= 1
    assert values["ingest_batch_readings_count"] >= 1
    assert values["ingest_commit_seconds_count"] >= 1
    assert "ingest_lag_seconds" in values
    assert "ingest_queue_depth" in values
    assert "ingest_parked_readings" in values


def _samples(text: str, worker_id: str) -> dict[str, float]:
    """Prometheus text samples of one worker, keyed by name and the other labels: `name{label="v"}`."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or f'worker="{worker_id}"' not in line:
            continue
        key, value = line.rsplit(" ", 1)
        key = key.replace(f',worker="{worker_id}"', "").replace(f'worker="{worker_id}",', "")
        key = key.replace(f'{{worker="{worker_id}"}}', "")
        samples[key] = float(value)
    return samples


def test_cli_resolve_parked_stores_newly_assigned_readings(
    db_url: str,
    mqtt_url: str,
    provision_hub: Callable[..., ProvisionedHub],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rpmctl.main import main

    hub = provision_hub()
    with worker_thread(worker_config(db_url, mqtt_url)):
        pub = hub_publisher(hub)
        try:
            payload = batch_payload(hub.hub_id, [bp_reading("SN-LATE", i) for i in range(3)])
            publish_all(pub, hub_topic(hub.hub_id, Channel.READINGS), [payload])
        finally:
            pub.close()
        wait_for(lambda: scalar(db_url, "SELECT count(*) FROM parked_readings") == 3, "3 parked readings")
    seed_assignment(db_url, "SN-LATE")
    assert main(["ingest", "resolve-parked", "--database-url", db_url]) == 0
    assert "stored 3 parked reading(s)" in capsys.readouterr().out
    assert scalar(db_url, "SELECT count(*) FROM readings") == 3
    assert scalar(db_url, "SELECT count(*) FROM parked_readings") == 0


def test_notification_payloads_stay_under_the_postgres_limit() -> None:
    pairs = [(str(uuid.uuid4()), "blood_pressure") for _ in range(1000)]
    payloads = list(notify.payloads(pairs))
    assert len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)
    assert sorted(pair for p in payloads for pair in notify.parse(p)) == sorted(pairs)
    assert json.loads(payloads[0])["v"] == 1
