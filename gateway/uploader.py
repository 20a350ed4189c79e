"""Drains the outbox to the broker: a bounded window of QoS 1 publishes, rows leave only on a good PUBACK.

A PUBACK carrying a failure reason code (e.g. 0x87 not authorized, 0x97 quota exceeded) is not delivery:
the rows stay unsent, the refusal is logged and noted in the outbox (for `rpm hub status`), and the rows are
tried again after a backoff, so a misconfigured ACL costs a retry every few minutes, not a hot loop.

The window (`UploadSettings.max_inflight` messages, at most 100) also keeps paho far below its 65,535
message ids: an id is never reused while its message is unacknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from broker.contract import UploadSettings
from broker.topics import hub_topic
from gateway.backoff import Backoff
from gateway.batches import ENVELOPE_BYTES, MAX_PAYLOAD_BYTES, Outgoing, next_message
from gateway.events import utc_now
from gateway.mqtt_link import LinkError
from gateway.outbox import Outbox

log = logging.getLogger(__name__)

POLL_S = 60.0
"""Without a new row the uploader still looks again once a minute, for rows made unsent by another process
(`rpm hub resend`)."""

REFUSAL_BASE_S = 5.0
REFUSAL_CAP_S = 600.0
"""A refused publish is retried after 0-5 s, doubling to at most 10 min: a broker that refuses does so
until someone fixes its ACL or quota, and the rows are safe on disk meanwhile."""


class Publisher(Protocol):
    """The part of the link the uploader needs."""

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int: ...


@dataclass
class UploadCounters:
    messages: int = 0
    acked_rows: int = 0
    refusals: int = 0
    last_refusal: str | None = None


class Uploader:
    """Owns the in-flight window; `acked()` is fed with every PUBACK the link reports."""

    def __init__(
        self,
        outbox: Outbox,
        link: Publisher,
        hub_id: str,
        settings: Callable[[], UploadSettings],
    ) -> None:
        self.outbox = outbox
        self.link = link
        self.hub_id = hub_id
        self.settings = settings
        self.counters = UploadCounters()
        self.inflight: dict[int, Outgoing] = {}
        self._inflight_seqs: set[int] = set()
        self._cursor = 0
        self._online = asyncio.Event()
        self._wake = asyncio.Event()
        self._refusals = Backoff(REFUSAL_BASE_S, REFUSAL_CAP_S)
        self._retry_at = 0.0
        self.max_payload_bytes = MAX_PAYLOAD_BYTES
        self._acks: asyncio.Queue[tuple[Outgoing, bool, str]] = asyncio.Queue()

    # --- link events (asyncio loop) ------------------------------------------------------------------
    def online(self, max_packet_size: int | None) -> None:
        if max_packet_size:
            self.max_payload_bytes = min(MAX_PAYLOAD_BYTES, max_packet_size - ENVELOPE_BYTES)
        self._online.set()
        self._wake.set()

    def offline(self) -> None:
        self._online.clear()

    def acked(self, mid: int, ok: bool, reason: str) -> bool:
        """Take a PUBACK; False if `mid` is not one of the uploader's messages."""
        message = self.inflight.get(mid)
        if message is None:
            return False
        self._acks.put_nowait((message, ok, reason))
        del self.inflight[mid]
        return True

    # --- tasks -------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Send while connected and the window has room; sleep on `outbox.changed` when nothing is unsent."""
        loop = asyncio.get_running_loop()
        while True:
            await self._online.wait()
            settings = self.settings()
            if len(self.inflight) >= settings.max_inflight:
                await self._sleep(POLL_S)
                continue
            if loop.time() < self._retry_at:
                await self._sleep(self._retry_at - loop.time())
                continue
            self.outbox.changed.clear()  # before the query: a row added after it wakes the next wait
            rows = await self.outbox.unsent(self._cursor, settings.max_batch + len(self._inflight_seqs))
            rows = [row for row in rows if row.seq not in self._inflight_seqs]
            message = next_message(
                rows,
                hub_id=self.hub_id,
                max_batch=settings.max_batch,
                max_bytes=self.max_payload_bytes,
                sent_at=utc_now(),
            )
            if message is None:
                if await self._sleep(POLL_S, on_change=True) is False and not self.inflight:
                    self._cursor = 0  # a quiet minute: look again from the start
                continue
            await self._send(message)

    async def _send(self, message: Outgoing) -> None:
        topic = hub_topic(self.hub_id, message.channel)
        try:
            mid = self.link.publish(topic, message.payload)
        except LinkError as exc:
            await self._refused(message, str(exc))
            return
        self.inflight[mid] = message
        self._inflight_seqs.update(message.seqs)
        self._cursor = max(self._cursor, *message.seqs)
        self.counters.messages += 1

    async def _sleep(self, timeout_s: float, *, on_change: bool = False) -> bool:
        """Wait for a PUBACK (or a new row); False if the time ran out."""
        waits = [asyncio.ensure_future(self._wake.wait())]
        if on_change:
            waits.append(asyncio.ensure_future(self.outbox.changed.wait()))
        done, pending = await asyncio.wait(
            waits, timeout=max(timeout_s, 0), return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        self._wake.clear()
        return bool(done)

    async def settle(self) -> None:
        """Record PUBACKs on disk in the order they arrive, several per transaction when they queue up."""
        while True:
            batch = [await self._acks.get()]
            while not self._acks.empty():
                batch.append(self._acks.get_nowait())
            good = [seq for message, ok, _ in batch if ok for seq in message.seqs]
            if good:
                await self.outbox.mark_acked(good)
                self.counters.acked_rows += len(good)
                self._refusals.reset()
            for message, ok, reason in batch:
                self._inflight_seqs.difference_update(message.seqs)
                if not ok:
                    await self._refused(message, reason)
            self._wake.set()

    async def _refused(self, message: Outgoing, reason: str) -> None:
        delay = self._refusals.next_delay_s()
        self.counters.refusals += 1
        self.counters.last_refusal = reason
        self._retry_at = asyncio.get_running_loop().time() + delay
        self._cursor = min(self._cursor, min(message.seqs) - 1)
        log.error(
            "broker refused a %s message (%d rows): %s; kept, retrying in %.0f s",
            message.channel.value,
            len(message.seqs),
            reason,
            delay,
            extra={"reason": reason, "rows": len(message.seqs)},
        )
        await self.outbox.note_refusal(f"{message.channel.value}: {reason}")
