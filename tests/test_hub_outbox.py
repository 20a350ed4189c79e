"""The outbox on its own (no broker): durable adds, one row per reading id, remembered deliveries, the
full-disk policy, batches as the contract encodes them, and adds that survive `kill -9`."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from broker.contract import HubEvent, HubEventType, ReadingBatch, encode, parse_message
from broker.topics import Channel as TopicChannel
from gateway.batches import batch_payload, next_message
from gateway.errors import OutboxFull
from gateway.events import hub_event
from gateway.outbox import Outbox, reading_payload
from gateway.outbox_db import AddResult, Channel, OutboxDb
from tests.test_hub_support import BASE_TIME, ROOT, bp_reading

HUB = "hub-outbox-test"
ROOMY = 1 << 20


def _run(coro):
    return asyncio.run(coro)


async def _acknowledge_all(box: Outbox) -> int:
    rows = await box.unsent(0, 10_000)
    return await box.mark_acked([row.seq for row in rows if row.channel is Channel.READINGS])


def test_add_commits_and_a_record_read_twice_is_one_row_with_its_first_time(tmp_path: Path) -> None:
    first = bp_reading("SN-1", 7)
    again = first.model_copy(update={"measured_at": first.measured_at + dt.timedelta(minutes=5)})

    async def scenario() -> list[AddResult]:
        async with Outbox(tmp_path / "o.db", hub_id=HUB, limit_bytes=ROOMY) as box:
            return [await box.add(first), await box.add(again)]

    assert _run(scenario()) == [AddResult.STORED, AddResult.DUPLICATE]
    db = OutboxDb(tmp_path / "o.db", limit_bytes=ROOMY, read_only=True)  # another connection sees it
    try:
        (row,) = db.unsent(0, 10)
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert row.payload == reading_payload(first)  # the first measured_at is kept


def test_a_reading_delivered_before_is_not_sent_again(tmp_path: Path) -> None:
    reading = bp_reading("SN-2", 1)

    now = [BASE_TIME.timestamp()]

    async def scenario() -> tuple[AddResult, AddResult, int]:
        async with Outbox(tmp_path / "o.db", hub_id=HUB, limit_bytes=ROOMY, clock=lambda: now[0]) as box:
            await box.add(reading)
            await _acknowledge_all(box)
            kept = await box.add(reading)  # payload still held: a plain duplicate
            now[0] += 8 * 86_400
            assert await box.prune() == (1, 0)  # a week later the payload is gone, the id is not
            later = await box.add(reading)
            return kept, later, (await box.stats()).depth

    assert _run(scenario()) == (AddResult.DUPLICATE, AddResult.DELIVERED, 0)


def test_full_outbox_evicts_acknowledged_first_and_never_drops_unsent(tmp_path: Path) -> None:
    size = len(reading_payload(bp_reading("SN-3", 1)))
    limit = 40 * size

    async def scenario() -> tuple[list[HubEvent], int, int]:
        async with Outbox(tmp_path / "o.db", hub_id=HUB, limit_bytes=limit) as box:
            for n in range(30):
                await box.add(bp_reading("SN-3", n))
            await _acknowledge_all(box)  # 30 delivered rows held for their retention
            for n in range(30, 60):  # 30 unsent: room only by evicting delivered rows
                await box.add(bp_reading("SN-3", n))
            refused_at = None
            for n in range(60, 200):  # now only unsent rows are left
                try:
                    await box.add(bp_reading("SN-3", n))
                except OutboxFull:
                    refused_at = n
                    break
            assert refused_at is not None
            with pytest.raises(OutboxFull):  # refused again, reported once
                await box.add(bp_reading("SN-3", 999))
            stats = await box.stats()
            events = [
                parse_message(TopicChannel.EVENTS, row.payload)
                for row in await box.unsent(0, 10_000)
                if row.channel is Channel.EVENTS
            ]
            return events, stats.depth, stats.acked_held  # type: ignore[return-value]

    events, depth, held = _run(scenario())
    types = [event.type for event in events]
    assert types.count(HubEventType.OUTBOX_EVICTED) >= 1
    assert types.count(HubEventType.OUTBOX_FULL) == 1
    assert types.index(HubEventType.OUTBOX_EVICTED) < types.index(HubEventType.OUTBOX_FULL)
    assert held == 0  # every delivered row went before any unsent one was refused
    assert 30 < depth <= 40  # every reading accepted is still there, unsent
    assert "no unsent reading was dropped" in events[types.index(HubEventType.OUTBOX_EVICTED)].message


def test_unsent_readings_all_survive_the_full_outbox(tmp_path: Path) -> None:
    """Whatever `add` accepted is still there after refusals; nothing accepted is ever dropped."""
    size = len(reading_payload(bp_reading("SN-4", 1)))

    async def scenario() -> tuple[set[str], set[str]]:
        accepted: set[str] = set()
        async with Outbox(tmp_path / "o.db", hub_id=HUB, limit_bytes=25 * size) as box:
            for n in range(60):
                reading = bp_reading("SN-4", n)
                try:
                    await box.add(reading)
                except OutboxFull:
                    continue
                accepted.add(str(reading.reading_id))
            stored = {row.item_id for row in await box.unsent(0, 1000) if row.channel is Channel.READINGS}
        return accepted, stored

    accepted, stored = _run(scenario())
    assert accepted == stored
    assert len(accepted) >= 20


def test_spliced_batch_is_exactly_what_the_contract_encodes() -> None:
    readings = tuple(bp_reading("SN-5", n) for n in range(3))
    sent_at = BASE_TIME + dt.timedelta(days=1)
    spliced = batch_payload(HUB, sent_at, [reading_payload(r) for r in readings])
    assert spliced == encode(ReadingBatch(hub_id=HUB, sent_at=sent_at, readings=readings))


def test_messages_batch_runs_of_readings_and_send_events_alone() -> None:
    from gateway.outbox_db import Row

    def row(seq: int, channel: Channel) -> Row:
        payload = b"{}" if channel is Channel.EVENTS else reading_payload(bp_reading("SN-6", seq))
        return Row(seq, channel, str(uuid.uuid4()), payload, 0.0)

    rows = [
        row(1, Channel.READINGS),
        row(2, Channel.READINGS),
        row(3, Channel.EVENTS),
        row(4, Channel.READINGS),
    ]
    make = dict(hub_id=HUB, max_batch=100, max_bytes=1 << 20, sent_at=BASE_TIME)
    assert next_message(rows, **make).seqs == (1, 2)  # type: ignore[arg-type, union-attr]
    assert next_message(rows[2:], **make).channel is Channel.EVENTS  # type: ignore[arg-type, union-attr]
    assert next_message(rows, **{**make, "max_batch": 1}).seqs == (1,)  # type: ignore[arg-type, union-attr]
    assert next_message([], **make) is None  # type: ignore[arg-type]


def test_events_are_durable_and_keyed_by_event_id(tmp_path: Path) -> None:
    event = hub_event(HUB, HubEventType.DECODE_ERROR, "bad record", device_id="SN-7", raw_hex="1E7800")

    async def scenario() -> list[AddResult]:
        async with Outbox(tmp_path / "o.db", hub_id=HUB, limit_bytes=ROOMY) as box:
            return [await box.add_event(event), await box.add_event(event)]

    assert _run(scenario()) == [AddResult.STORED, AddResult.DUPLICATE]


_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from gateway.outbox import Outbox
    from tests.test_hub_support import bp_reading

    async def main():
        async with Outbox(Path(sys.argv[1]), hub_id="hub-outbox-test", limit_bytes=1 << 24) as box:
            for n in range(int(sys.argv[2]), 10**6):
                reading = bp_reading("SN-8", n)
                await box.add(reading)
                print(reading.reading_id, flush=True)  # only after the commit returned

    asyncio.run(main())
    """
)


def test_kill_9_during_adds_loses_no_acknowledged_add(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    confirmed: list[str] = []
    rng = random.Random(7)
    for round_ in range(4):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(round_ * 100_000)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        for _ in range(rng.randint(20, 200)):
            line = writer.stdout.readline().strip()
            assert line, "the writer died before it was killed"
            confirmed.append(line)
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        writer.stdout.close()
    db = OutboxDb(path, limit_bytes=1 << 24)
    try:
        stored = {row.item_id for row in db.unsent(0, 10**6)}
    finally:
        db.close()
    assert set(confirmed) <= stored
