"""One process's share of a fleet: many paho clients driven from one thread with `selectors`.

paho's own network thread per client does not scale to thousands of homes, so the clients run without it
(paho's external-loop API: `loop_read` when the socket is readable, `loop_write` when paho wants to write,
`loop_misc` for keepalives). Publishing from this same thread writes at once. Connecting is blocking (TCP and
the TLS handshake with the hub's certificate), paced by `connect_rate`.
"""

from __future__ import annotations

import datetime as dt
import selectors
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from broker.contract import MAX_BATCH_READINGS
from broker.topics import Channel, hub_topic
from simulators.fleet.hubs import FleetHub
from simulators.fleet.traffic import Home

INFLIGHT = 20
"""QoS 1 publishes a home keeps unacknowledged: a real hub keeps at most 10 (the contract's upload window); a
backlog flush at 20 fills a loopback or LAN round trip without buffering a whole backlog in paho."""

KEEPALIVE_S = 60
"""As the hub's own link (`gateway.mqtt_link`)."""

TICK_S = 0.005
"""Longest the loop blocks in select(): paced publishing is due at most 5 ms late."""

CONNECT_TIMEOUT_S = 30.0
"""A home whose CONNACK has not arrived by then counts as failed; the rest of the fleet runs on."""


@dataclass(frozen=True)
class ShardPlan:
    hubs: tuple[FleetHub, ...]
    broker_url: str
    rate: float = 0.0
    """Readings per second across this shard's homes (0 with a backlog)."""
    backlog: int = 0
    """Readings each home flushes as fast as the broker acknowledges (0 with a rate)."""
    per_message: int = 1
    seconds: float = 10.0
    status_every_s: float = 60.0
    connect_rate: float = 200.0
    seed: int = 0


@dataclass
class ShardReport:
    homes: int = 0
    connected: int = 0
    messages: int = 0
    readings: int = 0
    statuses: int = 0
    acknowledged: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class _Link:
    """One home's client and what it still has to do."""

    def __init__(self, hub: FleetHub, plan: ShardPlan, report: ShardReport) -> None:
        self.hub = hub
        self.home = Home(hub.hub_id, plan.seed)
        self.topic = hub_topic(hub.hub_id, Channel.READINGS)
        self.status_topic = hub_topic(hub.hub_id, Channel.STATUS)
        self.left = plan.backlog
        self.connected = False
        self.started = time.monotonic()
        self.next_status = 0.0
        self.unacked = 0
        self.dirty: set[_Link] | None = None
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=hub.hub_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(hub.hub_id, hub.password)
        client.tls_set(ca_certs=str(hub.ca_file), certfile=str(hub.cert_file), keyfile=str(hub.key_file))
        client.max_inflight_messages_set(INFLIGHT)
        client.max_queued_messages_set(0)

        def on_connect(*_args: object) -> None:
            self.connected = True

        def on_publish(*_args: object) -> None:
            self.unacked -= 1
            report.acknowledged += 1

        client.on_connect = on_connect
        client.on_publish = on_publish
        self.client = client

    def publish(self, payload: bytes, *, status: bool = False) -> None:
        self.unacked += 1
        self.client.publish(self.status_topic if status else self.topic, payload, qos=1, retain=status)
        if self.dirty is not None:
            self.dirty.add(self)


class _Loop:
    """The shard's event loop: writes for clients that published, reads for sockets that are readable."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.links: list[_Link] = []
        self.dirty: set[_Link] = set()
        self._misc_at = 0.0

    def add(self, link: _Link) -> None:
        link.dirty = self.dirty
        self.selector.register(link.client.socket(), selectors.EVENT_READ, link)
        self.links.append(link)
        self.dirty.add(link)

    def pump(self, timeout: float) -> None:
        """Write what paho still holds, read what arrived, and once a second keep connections alive."""
        for link in list(self.dirty):
            if link.client.want_write():
                link.client.loop_write()
            else:
                self.dirty.discard(link)
        for key, _mask in self.selector.select(0 if self.dirty else timeout):
            link = key.data
            link.client.loop_read()
            self.dirty.add(link)  # a PUBACK may release queued publishes
        now = time.monotonic()
        if now - self._misc_at >= 1.0:
            self._misc_at = now
            for link in self.links:
                link.client.loop_misc()

    def close(self) -> None:
        self.selector.close()


def run_shard(plan: ShardPlan) -> ShardReport:
    """Connect the homes, publish for `plan.seconds` (or until backlogs are acknowledged), disconnect."""
    report = ShardReport(homes=len(plan.hubs))
    parts = urlsplit(plan.broker_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 8883
    loop = _Loop()
    began = time.monotonic()
    for i, hub in enumerate(plan.hubs):
        link = _Link(hub, plan, report)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        try:
            link.client.connect(host, port, keepalive=KEEPALIVE_S, clean_start=True, properties=props)
        except OSError as exc:
            report.errors.append(f"{hub.hub_id}: {exc}")
            continue
        loop.add(link)
        loop.pump(0)
        if plan.connect_rate > 0:
            time.sleep(max(0.0, (i + 1) / plan.connect_rate - (time.monotonic() - began)))
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while any(not link.connected for link in loop.links) and time.monotonic() < deadline:
        loop.pump(TICK_S)
    live = [link for link in loop.links if link.connected]
    report.connected = len(live)
    report.errors += [f"{link.hub.hub_id}: no CONNACK" for link in loop.links if not link.connected]
    started = time.monotonic()
    spacing = plan.status_every_s / max(1, len(live))
    for n, link in enumerate(live):
        link.next_status = started + n * spacing  # the first status soon after connecting, then spread out
    _publish(loop, live, plan, report, started)
    report.seconds = time.monotonic() - started
    for link in loop.links:
        link.client.disconnect()
    loop.pump(0)
    loop.close()
    return report


def _publish(loop: _Loop, live: list[_Link], plan: ShardPlan, report: ShardReport, started: float) -> None:
    end = started + plan.seconds
    cursor = 0
    per_message = max(1, min(plan.per_message, MAX_BATCH_READINGS))
    while live and time.monotonic() < end:
        now = time.monotonic()
        wall = dt.datetime.now(dt.UTC)
        if plan.status_every_s > 0:
            for link in live:
                if now >= link.next_status:
                    link.next_status = now + plan.status_every_s
                    link.publish(link.home.status(int(now - link.started)), status=True)
                    report.statuses += 1
        if plan.backlog:
            pending = False
            for link in live:
                while link.left > 0 and link.unacked < INFLIGHT:
                    count = min(per_message, link.left)
                    link.publish(link.home.batch([link.home.reading(wall) for _ in range(count)], wall))
                    link.left -= count
                    report.messages += 1
                    report.readings += count
                pending = pending or link.left > 0 or link.unacked > 0
            if not pending:
                break
        else:
            due = int((now - started) * plan.rate) - report.readings
            while due > 0:
                link = live[cursor % len(live)]
                cursor += 1
                count = min(per_message, due)
                link.publish(link.home.batch([link.home.reading(wall) for _ in range(count)], wall))
                report.messages += 1
                report.readings += count
                due -= count
        loop.pump(TICK_S)
    drain_until = time.monotonic() + CONNECT_TIMEOUT_S
    while any(link.unacked > 0 for link in live) and time.monotonic() < drain_until:
        loop.pump(TICK_S)
