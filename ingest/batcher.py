"""Collect received messages into a batch bounded by message count, reading count and delay.

Messages are decoded while they are collected (decoding is pure), which both counts readings against the
limit and uses the time spent waiting for the batch to fill. Under load the delay has long passed when the
previous commit returns, so a batch is simply everything already waiting, up to the limits.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from ingest.decode import decode
from ingest.messages import Decoded, Delivery


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
