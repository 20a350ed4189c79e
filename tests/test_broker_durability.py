"""The broker loses nothing: a long consumer outage and a broker restart, with the real config."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable

import pytest

from broker.topics import Channel, hub_topic
from rpmctl.services.stack import LocalStack
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient

# Mosquitto's default would silently drop everything past 1,000 queued messages per client.
OUTAGE_MESSAGES = 50_000


def _publish_all(hub: ProvisionedHub, count: int) -> None:
    """Publish `count` QoS 1 messages as fast as the broker acknowledges them."""
    publisher = hub.client()
    publisher.client.max_inflight_messages_set(500)
    publisher.connect()
    topic = hub_topic(hub.hub_id, Channel.READINGS)
    try:
        infos = [publisher.client.publish(topic, str(i).encode(), qos=1) for i in range(count)]
        deadline = time.monotonic() + 120
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        failures = [r for r in publisher.puback_reasons.values() if r.is_failure]
    finally:
        publisher.close()
    assert all(info.is_published() for info in infos)
    assert failures == []


def _drain(client: TestClient, count: int) -> list[int]:
    received = [int(m.payload) for m in client.receive(count, timeout=30)]
    with pytest.raises(queue.Empty):
        client.messages.get(timeout=0.3)
    return received


def test_consumer_offline_during_50k_messages_gets_all(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    consumer = TestClient(mqtt_url, client_id, clean_start=False, session_expiry_s=86_400).connect()
    consumer.subscribe(hub_topic(hub.hub_id, Channel.READINGS))
    consumer.close()

    _publish_all(hub, OUTAGE_MESSAGES)

    back = TestClient(mqtt_url, client_id, clean_start=False, session_expiry_s=86_400).connect()
    try:
        assert back.session_present
        received = _drain(back, OUTAGE_MESSAGES)
    finally:
        back.close()
    assert sorted(received) == list(range(OUTAGE_MESSAGES))


def test_queued_messages_survive_a_broker_restart(
    local_stack: LocalStack, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    consumer = TestClient(mqtt_url, client_id, clean_start=False, session_expiry_s=86_400).connect()
    consumer.subscribe(hub_topic(hub.hub_id, Channel.READINGS))
    consumer.close()
    _publish_all(hub, 1_000)

    local_stack.mosquitto.down()
    assert not local_stack.mosquitto.status().running
    local_stack.mosquitto.up()

    back = TestClient(mqtt_url, client_id, clean_start=False, session_expiry_s=86_400).connect()
    try:
        assert back.session_present, "the persistent session did not survive the restart"
        received = _drain(back, 1_000)
    finally:
        back.close()
    assert received == list(range(1_000))
