"""Collect received messages into a batch bounded by message count, reading count and delay, and prepare it.

Messages are decoded while they are collected (decoding is pure), which both counts readings against the
limit and uses the time spent waiting for the batch to fill. Under load the delay has long passed when the
previous commit returns, so a batch is simply everything already waiting, up to the limits. `prepare` then
does the rest of the batch's Python work (merging, staging rows, per-channel counts) before the transaction
opens, so the transaction only talks to the database.
"""

from __future__ import annotations

import functools
import queue
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from broker.errors import TopicError
from broker.topics import parse_hub_topic
from ingest.decode import decode
from ingest.messages import Decoded, Delivery
from ingest.rows import stage_rows

CHANNEL_CACHE_SIZE = 65536
"""Topics whose channel label is remembered: each hub publishes on three topics, so this covers 20,000 hubs
per worker in about 10 MiB; a topic outside it is parsed again (microseconds), never mislabelled."""


@dataclass(frozen=True)
class BatchLimits:
    max_messages: int
    max_readings: int
    max_delay_s: float


@dataclass(frozen=True)
class Item:
    """One delivery and what it decoded to."""

    delivery: Delivery
    decoded: Decoded


@dataclass(frozen=True)
class Batch:
    """Messages to commit in one transaction, in arrival order, with everything the transaction needs."""

    items: list[Item]
    merged: Decoded
    rows: list[tuple[Any, ...]]
    """Staging rows of `merged.readings`, in order."""
    channels: Counter[str]
    """Messages per topic channel (readings, status, events; `unknown` for a topic that is no hub topic)."""


def collect(deliveries: queue.Queue[Delivery], limits: BatchLimits, wait_s: float) -> list[Item]:
    """Block up to `wait_s` for a first message, then gather more until a limit is reached."""
    try:
        first = deliveries.get(timeout=wait_s)
    except queue.Empty:
        return []
    items = [Item(first, decode(first.topic, first.payload))]
    readings = len(items[0].decoded.readings)
    deadline = first.received_at + limits.max_delay_s
    while len(items) < limits.max_messages and readings < limits.max_readings:
        try:
            delivery = deliveries.get_nowait()
        except queue.Empty:
            remaining = deadline - time.time()
            if remaining <= 0:
                break
            try:
                delivery = deliveries.get(timeout=remaining)
            except queue.Empty:
                break
        item = Item(delivery, decode(delivery.topic, delivery.payload))
        items.append(item)
        readings += len(item.decoded.readings)
    return items


@functools.lru_cache(maxsize=CHANNEL_CACHE_SIZE)
def _channel(topic: str) -> str:
    """The channel label of a topic for metrics; `unknown` for a topic that is no hub topic."""
    try:
        return parse_hub_topic(topic).channel.value
    except TopicError:
        return "unknown"


def prepare(items: list[Item]) -> Batch:
    """Merge the items' decoded content and build the staging rows of their readings."""
    merged = Decoded()
    for item in items:
        merged.extend(item.decoded)
    channels = Counter(_channel(item.delivery.topic) for item in items)
    return Batch(items, merged, stage_rows(merged.readings), channels)
