"""A real publish and subscribe through the project's Mosquitto, hub (TLS) to ingest (loopback)."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable

import pytest

from broker.topics import Channel, hub_topic
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient


def test_hub_publishes_and_ingest_receives_qos1(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    topic = hub_topic(hub.hub_id, Channel.READINGS)
    sub = TestClient(mqtt_url, f"ingest-{uuid.uuid4().hex[:8]}").connect()
    pub = hub.client().connect()
    try:
        sub.subscribe(topic)
        payloads = [f"reading {i}".encode() for i in range(100)]
        for payload in payloads:
            pub.publish(topic, payload)
        received = sub.receive(len(payloads))
    finally:
        sub.close()
        pub.close()
    assert [m.payload for m in received] == payloads
    assert {m.qos for m in received} == {1}


def test_persistent_session_gets_messages_published_while_offline(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    topic = hub_topic(hub.hub_id, Channel.READINGS)
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    consumer = TestClient(mqtt_url, client_id, clean_start=False, session_expiry_s=3600).connect()
    consumer.subscribe(topic)
    consumer.close()

    pub = hub.client().connect()
    try:
        for i in range(2_000):  # above Mosquitto's default queue limit of 1,000
            pub.publish(topic, str(i).encode())
    finally:
        pub.close()

    back = TestClient(mqtt_url, client_id, clean_start=False, session_expiry_s=3600).connect()
    try:
        assert back.session_present is True
        received = back.receive(2_000)
        with pytest.raises(queue.Empty):
            back.messages.get(timeout=0.2)
    finally:
        back.close()
    assert [int(m.payload) for m in received] == list(range(2_000))


def test_ingest_workers_split_a_shared_subscription(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    group = f"ingest-{uuid.uuid4().hex[:6]}"
    workers = [TestClient(mqtt_url, f"{group}-w{i}").connect() for i in range(2)]
    pub = hub.client().connect()
    try:
        for worker in workers:
            granted = worker.subscribe(f"$share/{group}/rpm/v1/hubs/+/readings")
            assert not granted.is_failure, str(granted)
        for i in range(200):
            pub.publish(hub_topic(hub.hub_id, Channel.READINGS), str(i).encode())
        counts = [0, 0]
        received: list[int] = []
        deadline = time.monotonic() + 30
        while len(received) < 200 and time.monotonic() < deadline:
            for index, worker in enumerate(workers):
                try:
                    message = worker.messages.get(timeout=0.05)
                except queue.Empty:
                    continue
                counts[index] += 1
                received.append(int(message.payload))
    finally:
        pub.close()
        for worker in workers:
            worker.close()
    assert sorted(received) == list(range(200)), "each message reaches exactly one worker of the group"
    assert min(counts) > 0, f"the load was not shared: {counts}"
