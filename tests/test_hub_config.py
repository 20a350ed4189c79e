"""The retained config topic drives the hub: applied at run time, malformed ones rejected and reported,
stale ones ignored, the last good one kept on disk for a restart without a broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from broker.contract import AssignedDevice, HubConfig, HubEvent, HubEventType, encode, parse_message
from broker.topics import Channel
from rpmctl.services.endpoints import Endpoints
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient
from tests.test_hub_support import (
    bp_reading,
    config_message,
    publish_config,
    receive,
    running_hub,
    settings_for,
    subscriber,
)

pytestmark = pytest.mark.services

KITCHEN_CUFF = AssignedDevice(device_id="SN-BP-7", profile="and-ua-651ble", address="AA:BB:CC:00:00:07")
BATHROOM_SCALE = AssignedDevice(device_id="SN-WS-7", profile="and-uc-352ble")


async def _next_event(client: TestClient, wanted: HubEventType) -> HubEvent:
    while True:
        (message,) = await receive(client, 1)
        event = parse_message(Channel.EVENTS, message.payload)
        assert isinstance(event, HubEvent)
        if event.type is wanted:
            return event


def test_configs_apply_at_run_time_and_survive_a_restart_without_broker(
    services: Endpoints, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    settings = settings_for(hub)
    events = subscriber(mqtt_url, hub.hub_id, Channel.EVENTS)
    first = config_message(hub.hub_id, 1, devices=(KITCHEN_CUFF,))
    second = config_message(hub.hub_id, 2, devices=(KITCHEN_CUFF, BATHROOM_SCALE), max_batch=7)

    async def scenario() -> list[HubConfig]:
        async with running_hub(settings) as running:
            updates = running.configs()
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, first)
            seen = [await asyncio.wait_for(anext(updates), 30)]
            await _next_event(events, HubEventType.CONFIG_APPLIED)
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, second)
            seen.append(await asyncio.wait_for(anext(updates), 30))
            applied = await _next_event(events, HubEventType.CONFIG_APPLIED)
            assert "version 2" in applied.message
            assert running.upload_settings().max_batch == 7
            return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        events.close()
    assert seen == [first, second]

    # Restarted where the broker cannot be reached: the hub still knows its devices and settings.
    offline = settings.model_copy(update={"broker_url": "mqtts://127.0.0.1:9"})

    async def restart() -> HubConfig:
        async with running_hub(offline) as running:
            return await asyncio.wait_for(anext(running.configs()), 5)

    assert asyncio.run(restart()) == second


def test_malformed_config_is_rejected_and_the_last_good_one_stays(
    services: Endpoints, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    events = subscriber(mqtt_url, hub.hub_id, Channel.EVENTS)
    good = config_message(hub.hub_id, 3, devices=(KITCHEN_CUFF,))
    bad = encode(config_message(hub.hub_id, 4)).replace(b'"version":4', b'"version":"four"')
    stale = config_message(hub.hub_id, 2, devices=(BATHROOM_SCALE,))
    newer = config_message(hub.hub_id, 5, devices=(BATHROOM_SCALE,))

    async def scenario() -> tuple[HubEvent, HubConfig | None, HubConfig]:
        async with running_hub(settings_for(hub)) as running:
            updates = running.configs()
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, good)
            await asyncio.wait_for(anext(updates), 30)
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, bad)
            rejected = await _next_event(events, HubEventType.CONFIG_REJECTED)
            kept = running.config.current
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, stale)
            await asyncio.to_thread(publish_config, services.mqtt_admin_url, hub.hub_id, newer)
            latest = await asyncio.wait_for(anext(updates), 30)  # the stale one never shows up
            # The hub still uploads with the good config in force.
            await running.on_reading(bp_reading("SN-BP-7", 1))
            return rejected, kept, latest

    try:
        rejected, kept, latest = asyncio.run(scenario())
    finally:
        events.close()
    assert "version" in rejected.message
    assert "keeping version 3" in rejected.message
    assert kept == good
    assert latest == newer
