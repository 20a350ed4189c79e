"""The running hub uploads its outbox to the real broker: exactly as sent, batched only when there is a
backlog, through a broker outage, and never counting a refused PUBACK as delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable

import pytest

from broker.contract import DeviceSeen, HubStatus, ReadingBatch, parse_message
from broker.topics import Channel, hub_topic
from gateway.outbox import Outbox
from gateway.settings import HubSettings
from gateway.state import DeviceStateStore
from gateway.status import SEEN_KEY, seen_json
from rpmctl.services.stack import LocalStack
from tests.conftest import ProvisionedHub
from tests.test_hub_support import (
    BASE_TIME,
    batches,
    bp_reading,
    collect_readings,
    eventually,
    glucose_reading,
    receive,
    reconnect,
    running_hub,
    settings_for,
    subscriber,
    wait_connected,
    weight_reading,
)

pytestmark = pytest.mark.services


def test_readings_arrive_exactly_as_sent_one_message_each(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    client = subscriber(mqtt_url, hub.hub_id)
    sent = [
        bp_reading("SN-BP-1", 1),
        glucose_reading("SN-GL-1", 1),
        weight_reading("SN-WS-1", BASE_TIME + dt.timedelta(hours=3)),
    ]

    async def scenario() -> list[ReadingBatch]:
        async with running_hub(settings_for(hub)) as running:
            await wait_connected(running)
            found = []
            for reading in sent:  # the steady state: one reading at a time
                await running.on_reading(reading)
                found += batches(await receive(client, 1))
            return found

    try:
        received = asyncio.run(scenario())
    finally:
        client.close()
    assert [len(batch.readings) for batch in received] == [1, 1, 1]
    assert [batch.readings[0] for batch in received] == sent
    assert {batch.hub_id for batch in received} == {hub.hub_id}
    glucose, weight = received[1].readings[0], received[2].readings[0]
    assert glucose.glucose_mg_dl == pytest.approx(99.088)  # shown as 5.5 mmol/L, sent in mg/dL
    assert weight.weight_kg == pytest.approx(81.6466266)  # shown as 180 lb, sent in kg


async def _prefill(settings: HubSettings, readings: list) -> None:
    """Readings stored while the hub was not running: a backlog waiting for the next start."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    async with Outbox(
        settings.outbox_path, hub_id=settings.hub_id, limit_bytes=settings.outbox_max_bytes
    ) as box:
        for reading in readings:
            await box.add(reading)


def test_a_backlog_goes_in_batches_in_order(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    settings = settings_for(hub)
    sent = [bp_reading("SN-BP-2", n) for n in range(1, 251)]
    asyncio.run(_prefill(settings, sent))
    client = subscriber(mqtt_url, hub.hub_id)

    async def scenario() -> list[ReadingBatch]:
        async with running_hub(settings):
            return batches(await receive(client, 3))

    try:
        received = asyncio.run(scenario())
    finally:
        client.close()
    assert [len(b.readings) for b in received] == [100, 100, 50]  # UploadSettings.max_batch default
    assert [r for b in received for r in b.readings] == sent


def test_broker_outage_delivers_everything_once(
    local_stack: LocalStack, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    client = subscriber(mqtt_url, hub.hub_id, persistent=True)
    before = [bp_reading("SN-BP-3", n) for n in range(1, 6)]
    during = [bp_reading("SN-BP-3", n) for n in range(6, 106)]

    async def scenario() -> tuple[list, int]:
        nonlocal client
        async with running_hub(settings_for(hub)) as running:
            await wait_connected(running)
            for reading in before:
                await running.on_reading(reading)
            await receive(client, len(before))
            client.close()  # the persistent session queues what arrives while we are away
            await asyncio.to_thread(local_stack.mosquitto.down)
            try:
                for reading in during:
                    await running.on_reading(reading)
                assert (await running.outbox.stats()).depth == len(during)
            finally:
                await asyncio.to_thread(local_stack.mosquitto.up)
            client = await asyncio.to_thread(reconnect, client, mqtt_url)
            expected = {r.reading_id for r in during}
            return await asyncio.to_thread(collect_readings, client, expected, quiet_s=1.5)

    try:
        ids, messages = asyncio.run(scenario())
    finally:
        client.close()
    assert Counter(ids) == Counter(r.reading_id for r in during)  # all of them, none twice
    assert messages == 1  # the backlog went as one batch


def test_a_refused_puback_is_not_delivery(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    """The broker answers a publish outside the hub's ACL with PUBACK 0x87: the reading must stay."""
    hub = provision_hub()
    client = subscriber(mqtt_url, hub.hub_id)
    reading = bp_reading("SN-BP-4", 1)

    async def scenario() -> tuple[int, str | None, list[ReadingBatch]]:
        async with running_hub(settings_for(hub)) as running:
            await wait_connected(running)
            link = running.link
            assert link is not None
            real_publish = link.publish
            forbidden = hub_topic("someone-else", Channel.READINGS)

            def misdirected(topic: str, payload: bytes, *, retain: bool = False) -> int:
                return real_publish(
                    forbidden if topic.endswith("/readings") else topic, payload, retain=retain
                )

            link.publish = misdirected  # type: ignore[method-assign]
            await running.on_reading(reading)
            await eventually(lambda: running.uploader.counters.refusals >= 1)
            stats = await running.outbox.stats()
            del link.publish  # the ACL is "fixed": the next retry goes through
            return stats.depth, stats.last_refusal, batches(await receive(client, 1))

    try:
        depth, refusal, received = asyncio.run(scenario())
    finally:
        client.close()
    assert depth == 1
    assert refusal is not None
    assert "Not authorized" in refusal
    assert received[0].readings == (reading,)


def test_status_is_retained_online_with_devices_then_offline(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    settings = settings_for(hub)
    seen = DeviceSeen(
        device_id="SN-BP-5", battery_pct=12, rssi_dbm=-80, last_seen=BASE_TIME, clock_offset_s=-3.5
    )
    client = subscriber(mqtt_url, hub.hub_id, Channel.STATUS)

    async def scenario() -> list[HubStatus]:
        store = DeviceStateStore(settings.devices_path)  # what the BLE layer reported before a restart
        await store.set(seen.device_id, SEEN_KEY, seen_json(seen))
        await store.close()
        await _prefill(settings, [bp_reading("SN-BP-5", 1)])
        async with running_hub(settings):
            (online,) = await receive(client, 1)
        (offline,) = await receive(client, 1)
        return [parse_message(Channel.STATUS, m.payload) for m in (online, offline)]  # type: ignore[misc]

    try:
        online, offline = asyncio.run(scenario())
    finally:
        client.close()
    assert online.online
    assert online.outbox_depth in (0, 1)  # the status may go before or after the reading's PUBACK
    assert online.devices == (seen,)
    assert online.uptime_s is not None
    assert not offline.online
    assert offline.outbox_depth is None
