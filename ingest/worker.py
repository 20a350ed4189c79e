"""One ingest worker: receive, decode, write in one transaction, then acknowledge. Never crashes on input.

Order of effects per batch: (1) the transaction commits readings, dead letters, statuses, events and the
`readings_committed` notification together; (2) the MQTT messages are acknowledged, in arrival order;
(3) the optional in-process hook is called. A crash before (2) makes the broker redeliver, and the second
write is a no-op, so each reading's effect happens exactly once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from broker.errors import TopicError
from broker.topics import parse_hub_topic
from ingest import db, parked
from ingest.batcher import Batch, BatchLimits, Item, collect, prepare
from ingest.config import DB_RETRY_MAX_S, IngestConfig
from ingest.errors import BatchRefused, DatabaseUnavailable, IngestError, TransientConflict
from ingest.messages import DeadLetter, DeadLetterCategory, Decoded, Delivery, message_digest
from ingest.metrics import IngestMetrics
from ingest.mqtt import Subscriber
from ingest.store import BatchWriter, WriteResult

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.2
"""How long the loop waits for a first message before it checks timers and the stop flag."""


@dataclass(frozen=True)
class CommittedBatch:
    """What the commit hook receives: the (patient_id, kind) pairs that gained readings."""

    worker_id: str
    pairs: frozenset[tuple[str, str]]
    readings_inserted: int
    messages: int


CommitHook = Callable[[CommittedBatch], None]


class Stopped(IngestError):
    """The worker was asked to stop while a batch waited for the database; the batch stays unacknowledged."""


class Worker:
    """Runs until `stop()`; `run()` raises only for what no retry can fix (schema mismatch, bad settings)."""

    def __init__(
        self,
        config: IngestConfig,
        *,
        on_commit: CommitHook | None = None,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.config = config
        self.on_commit = on_commit
        self.metrics = metrics or IngestMetrics(config.worker_id)
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        self.subscriber = Subscriber(config, self.deliveries)
        self.limits = BatchLimits(config.max_batch_messages, config.max_batch_readings, config.max_delay_s)
        self._stop = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._writer: BatchWriter | None = None
        self._next_resolve = 0.0

    def stop(self) -> None:
        self._stop.set()

    # --- main loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        self._writer_or_wait()
        self.subscriber.start()
        try:
            while not self._stop.is_set():
                items = collect(self.deliveries, self.limits, IDLE_WAIT_S)
                self.metrics.queue_depth.set(self.deliveries.qsize())
                if items:
                    self._commit(prepare(items))
                if time.monotonic() >= self._next_resolve:
                    self._resolve_parked()
        except Stopped:
            log.info("stopped while the database was unavailable; pending messages stay with the broker")
        finally:
            self.subscriber.stop()
            self._close_db()

    def _commit(self, batch: Batch) -> None:
        items, merged = batch.items, batch.merged
        started = time.perf_counter()
        try:
            result = self._write(merged, rows=batch.rows)
        except BatchRefused as exc:
            log.warning("a batch of %d messages was refused (%s); isolating the bad message", len(items), exc)
            result = self._isolate(items)
        commit_s = time.perf_counter() - started
        for item in items:
            self.subscriber.ack(item.delivery)
        self._record(batch, result, commit_s)
        self._call_hook(result, len(items))

    def _resolved(self, result: WriteResult) -> None:
        self.metrics.readings.labels(self.config.worker_id, "stored").inc(result.inserted)
        self._call_hook(result, 0)

    def _call_hook(self, result: WriteResult, messages: int) -> None:
        if self.on_commit is None or not result.pairs:
            return
        batch = CommittedBatch(self.config.worker_id, frozenset(result.pairs), result.inserted, messages)
        try:
            self.on_commit(batch)
        except Exception:  # the data is committed; a failing hook must not stop ingest
            self.metrics.hook_errors.inc()
            log.exception("the commit hook raised")

    def _isolate(self, items: list[Item]) -> WriteResult:
        """Write message by message; a message the database refuses on its own becomes a dead letter."""
        total = WriteResult()
        for item in items:
            try:
                result = self._write(item.decoded)
            except BatchRefused as exc:
                result = self._write(Decoded(dead_letters=[_refused(item.delivery, exc.reason)]))
            total.inserted += result.inserted
            total.staged += result.staged
            total.parked += result.parked
            total.dead_letters += result.dead_letters
            total.pairs |= result.pairs
        return total

    # --- database ------------------------------------------------------------------------------------
    def _write(
        self, decoded: Decoded, *, unpark: bool = False, rows: list[tuple[Any, ...]] | None = None
    ) -> WriteResult:
        """Write in one transaction, retrying while the database is away or two workers collide."""
        delay = 0.1
        while True:
            try:
                writer = self._writer_or_wait()
                with db.translated_errors(), writer.conn.transaction():
                    result = writer.write(
                        decoded.readings,
                        decoded.statuses,
                        decoded.events,
                        decoded.dead_letters,
                        unpark=unpark,
                        rows=rows,
                    )
                writer.committed(result)
                return result
            except TransientConflict:
                self.metrics.db_retries.labels(self.config.worker_id, "conflict").inc()
            except DatabaseUnavailable as exc:
                self.metrics.db_retries.labels(self.config.worker_id, "unavailable").inc()
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                self._close_db()
                if self._stop.wait(delay):
                    raise Stopped() from exc
                delay = min(delay * 2, DB_RETRY_MAX_S)

    def _writer_or_wait(self) -> BatchWriter:
        delay = 0.1
        while self._writer is None:
            try:
                conn = db.connect(self.config.database_url, f"ingest-{self.config.worker_id}")
                with db.translated_errors():
                    self._writer = BatchWriter(conn)
                self._conn = conn
            except DatabaseUnavailable as exc:
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                if self._stop.wait(delay):
                    raise Stopped() from exc
                delay = min(delay * 2, DB_RETRY_MAX_S)
        return self._writer

    def _close_db(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                log.debug("closing a broken connection failed", exc_info=True)
        self._conn = None
        self._writer = None

    def _resolve_parked(self) -> None:
        self._next_resolve = time.monotonic() + self.config.resolve_interval_s
        try:
            resolved = resolve_all(self._writer_or_wait(), on_result=self._resolved)
            self.metrics.parked_resolved.inc(resolved)
            with db.translated_errors():
                self.metrics.parked.set(parked.parked_count(self._writer_or_wait().conn))
        except DatabaseUnavailable as exc:
            log.warning("resolving parked readings skipped: %s", exc)
            self._close_db()

    def _record(self, batch: Batch, result: WriteResult, commit_s: float) -> None:
        m, worker, merged = self.metrics, self.config.worker_id, batch.merged
        for channel, messages in batch.channels.items():
            m.messages.labels(worker, channel).inc(messages)
        m.readings.labels(worker, "stored").inc(result.inserted)
        m.readings.labels(worker, "parked").inc(result.parked)
        m.readings.labels(worker, "duplicate").inc(max(0, result.staged - result.inserted - result.parked))
        for letter in merged.dead_letters:
            m.dead_letters.labels(worker, letter.category).inc()
        m.batch_messages.observe(len(batch.items))
        m.batch_readings.observe(len(merged.readings))
        m.commit_seconds.observe(commit_s)
        if merged.oldest_sent_at is not None:
            m.lag_seconds.set(max(0.0, time.time() - merged.oldest_sent_at.timestamp()))


def _refused(delivery: Delivery, reason: str) -> DeadLetter:
    try:
        hub_id: str | None = parse_hub_topic(delivery.topic).hub_id
    except TopicError:
        hub_id = None
    return DeadLetter(
        delivery.topic,
        hub_id,
        delivery.payload,
        f"database refused the message: {reason}",
        DeadLetterCategory.DATABASE_REFUSED,
        message_digest(delivery.topic, delivery.payload),
    )


def resolve_all(
    writer: BatchWriter,
    chunk: int = parked.RESOLVE_CHUNK,
    on_result: Callable[[WriteResult], None] | None = None,
) -> int:
    """Store every parked reading an assignment now covers, one transaction per chunk; returns how many.

    Idempotent: a reading already stored (say, redelivered after its assignment appeared) only loses its
    parked copy. Workers running this at once split the parked rows (SKIP LOCKED) instead of waiting.
    """
    total = 0
    while True:
        with db.translated_errors(), writer.conn.transaction():
            result = parked.resolve_chunk(writer, chunk)
        writer.committed(result)
        total += result.unparked
        if on_result is not None:
            on_result(result)
        if result.staged < chunk or result.unparked == 0:
            return total
