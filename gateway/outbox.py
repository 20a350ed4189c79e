"""The durable outbox, for the asyncio hub: every call runs on one dedicated SQLite thread.

`await add(reading)` returns only after the row is committed (WAL, `synchronous=FULL`): that is the moment
the BLE layer may let the device consider the reading delivered. One thread owns the connection, so calls are
serialised without locks and the event loop never waits on disk.

Full-disk policy (see `outbox_db`): acknowledged rows are evicted oldest first, reported with one
`outbox_evicted` event per eviction round; unsent readings are never evicted. When only unsent rows are left
a new reading is refused with `OutboxFull` (so the device keeps it) and an `outbox_full` event is recorded
once per episode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from broker.contract import BaseReading, HubEvent, HubEventType, encode
from gateway.errors import OutboxFull
from gateway.events import hub_event
from gateway.outbox_db import AddOutcome, AddResult, Channel, OutboxDb, OutboxStats, Row, wall_clock

log = logging.getLogger(__name__)

T = TypeVar("T")


def reading_payload(reading: BaseReading) -> bytes:
    """A reading's JSON as it appears inside a batch (aliases, no nulls: the contract's `encode` rules)."""
    return reading.model_dump_json(by_alias=True, exclude_none=True).encode()


class Outbox:
    """Async face of `OutboxDb`; `changed` is set whenever a row is stored (the uploader waits on it)."""

    def __init__(self, path: Path, *, hub_id: str, limit_bytes: int, clock: Callable[[], float] = wall_clock):
        self.path = path
        self.hub_id = hub_id
        self.limit_bytes = limit_bytes
        self.clock = clock
        self.changed = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: OutboxDb | None = None
        self._full_reported = False

    async def open(self) -> Outbox:
        self._db = await self._run(lambda: OutboxDb(self.path, limit_bytes=self.limit_bytes))
        return self

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await self._run(db.close)
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> Outbox:
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    @property
    def db(self) -> OutboxDb:
        if self._db is None:
            raise RuntimeError("the outbox is not open")
        return self._db

    # --- ingestion -------------------------------------------------------------------------------
    async def add(self, reading: BaseReading) -> AddResult:
        """Store a reading durably; returns once committed. Raises `OutboxFull` if it could not be stored."""
        payload = reading_payload(reading)
        db = self.db
        try:
            outcome = await self._run(
                lambda: db.add(Channel.READINGS, reading.reading_id, payload, self.clock())
            )
        except OutboxFull as exc:
            log.error(
                "outbox full: reading %s refused", reading.reading_id, extra={"stored": exc.stored_bytes}
            )
            if not self._full_reported:
                self._full_reported = True
                await self.add_event(
                    hub_event(
                        self.hub_id,
                        HubEventType.OUTBOX_FULL,
                        f"outbox full ({exc.stored_bytes} of {exc.limit_bytes} bytes, all unsent): "
                        "new readings are refused and stay on their devices until the upload resumes",
                    )
                )
            raise
        if outcome.result is AddResult.STORED:
            self._full_reported = False  # the episode is over: report the next one
        await self._after(outcome)
        return outcome.result

    async def add_event(self, event: HubEvent) -> AddResult:
        """Store an event durably, keyed by `event_id`; events past the headroom are dropped and logged."""
        payload = encode(event)
        db = self.db
        outcome = await self._run(lambda: db.add(Channel.EVENTS, event.event_id, payload, self.clock()))
        if outcome.result is AddResult.DROPPED:
            log.error("outbox full: event dropped", extra={"event_type": event.type.value})
        await self._after(outcome)
        return outcome.result

    async def _after(self, outcome: AddOutcome) -> None:
        if outcome.result is AddResult.STORED:
            self.changed.set()
        if outcome.evicted:
            log.warning("outbox evicted %d acknowledged rows", outcome.evicted)
            await self.add_event(
                hub_event(
                    self.hub_id,
                    HubEventType.OUTBOX_EVICTED,
                    f"outbox at its limit ({self.limit_bytes} bytes): evicted the {outcome.evicted} oldest "
                    "acknowledged readings (already delivered; their ids are still remembered); no unsent "
                    "reading was dropped",
                )
            )

    # --- upload side -----------------------------------------------------------------------------
    async def unsent(self, after_seq: int, limit: int) -> list[Row]:
        db = self.db
        return await self._run(lambda: db.unsent(after_seq, limit))

    async def mark_acked(self, seqs: Sequence[int]) -> int:
        db = self.db
        return await self._run(lambda: db.mark_acked(seqs, self.clock()))

    async def note_refusal(self, reason: str) -> None:
        db = self.db
        await self._run(lambda: db.note_refusal(reason, self.clock()))

    async def requeue_acked(self, since: float) -> int:
        db = self.db
        count = await self._run(lambda: db.requeue_acked(since))
        self.changed.set()
        return count

    async def stats(self) -> OutboxStats:
        return await self._run(self.db.stats)

    async def prune(self) -> tuple[int, int]:
        db = self.db
        return await self._run(lambda: db.prune(self.clock()))
