"""The fleet simulator publishes contract-valid traffic as provisioned hubs, and reuses their credentials."""

from __future__ import annotations

import uuid
from pathlib import Path

from broker.admin.accounts import BrokerAdmin
from broker.contract import HubStatus, ReadingBatch, parse_hub_message
from broker.plausibility import assess
from broker.topics import Channel, shared_filter
from rpmctl.services.endpoints import Endpoints
from simulators.fleet import FleetPlan, provision, run_fleet
from tests.mqtt_helpers import WAIT_S, TestClient

HOMES = 3
READINGS = 30


def test_fleet_publishes_contract_valid_messages_a_subscriber_receives(
    services: Endpoints, broker_admin: BrokerAdmin, tmp_path: Path
) -> None:
    prefix = f"ft{uuid.uuid4().hex[:8]}"
    group = f"fleet{uuid.uuid4().hex[:8]}"
    hubs = provision(tmp_path, HOMES, admin=broker_admin, broker_url=services.mqtt_hub_url, prefix=prefix)
    subscriber = TestClient(services.mqtt_url, f"fleet-test-{group}").connect()
    try:
        for channel in (Channel.READINGS, Channel.STATUS):
            assert not subscriber.subscribe(shared_filter(group, channel), qos=1).is_failure
        plan = FleetPlan(hubs=tuple(hubs), broker_url=services.mqtt_hub_url, rate=READINGS / 1.5, seconds=1.5)
        report = run_fleet(plan)
        assert report.errors == []
        assert report.connected == HOMES
        assert report.readings == report.messages >= READINGS - 1
        assert report.statuses >= 1  # the first home at once, the others spread over status_every_s
        assert report.acknowledged == report.messages + report.statuses
        ours = {hub.hub_id for hub in hubs}
        readings, statuses, messages = 0, 0, 0
        while messages < report.messages + report.statuses:
            received = subscriber.messages.get(timeout=WAIT_S)
            _where, message = parse_hub_message(received.topic, received.payload)
            if message.hub_id not in ours:
                continue  # other tests' hubs share the broker
            messages += 1
            if isinstance(message, ReadingBatch):
                readings += len(message.readings)
                assert all(not assess(r).is_impossible for r in message.readings)
            else:
                assert isinstance(message, HubStatus)
                assert message.online
                statuses += 1
        assert (readings, statuses) == (report.readings, report.statuses)
        again = provision(
            tmp_path, HOMES, admin=broker_admin, broker_url=services.mqtt_hub_url, prefix=prefix
        )
        assert again == hubs  # reused, not provisioned again
    finally:
        subscriber.close()
        for hub in hubs:
            broker_admin.revoke_hub(hub.hub_id)
