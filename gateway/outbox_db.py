"""The outbox on disk: SQLite in WAL mode with `synchronous=FULL`, so a committed row survives power loss.

Synchronous on purpose: `gateway.outbox` runs every call on one dedicated thread, and `rpm hub status` opens
the same file read-only while the hub runs (WAL lets readers and the writer proceed together).

Rows are keyed by their id (a reading's deterministic `reading_id`, an event's `event_id`), so adding the same
record twice stores it once and keeps the first copy. A row stays until the broker acknowledged it; after that
its payload is kept for `ACKED_RETENTION_S` (so an operator can resend what a broker lost) and its id in the
compact `delivered` table for `DELIVERED_RETENTION_S` (so a record re-read after delivery is not sent again).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gateway.errors import OutboxFull, StateError

SCHEMA_VERSION = 1
"""`PRAGMA user_version` of this layout; a file with another version is refused, never guessed at."""

BUSY_TIMEOUT_MS = 5000
"""Another process (`rpm hub status`, a resend) holds the write lock for milliseconds; 5 s is generous."""

LOW_WATERMARK = 0.9
"""Eviction frees acknowledged rows down to 90 % of the limit, so a full outbox evicts (and reports) once per
~10 % of the budget instead of once per reading."""

EVENT_HEADROOM_BYTES = 64 * 1024
"""Events may exceed the limit by this much (~100 events), so `outbox_full` can always be reported even when
unsent readings fill the budget; events past it are dropped and logged (operator data, not patient data)."""

ACKED_RETENTION_S = 7 * 86_400
"""Payloads of acknowledged readings are kept a week (space permitting): Mosquitto persists by snapshot, so a
broker killed between snapshots loses what it acknowledged; a week covers noticing and resending."""

DELIVERED_RETENTION_S = 180 * 86_400
"""Delivered ids are remembered 180 days: a glucose meter holds a few hundred records, about four months of
four tests a day, so a full memory re-read (after a reset RACP cursor) is recognised as already sent."""

MAX_DELIVERED_IDS = 200_000
"""~40 bytes each, at most ~8 MB: far above 64 devices x 4 months of readings, a bound against floods."""


class Channel(StrEnum):
    """Which topic a row is published on (the values are the contract's channel names)."""

    READINGS = "readings"
    EVENTS = "events"


class AddResult(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    """The id is already in the outbox (unsent or acknowledged): the first copy is kept."""
    DELIVERED = "delivered"
    """The id was acknowledged earlier (payload since evicted or pruned): nothing to send."""
    DROPPED = "dropped"
    """An event did not fit even in the headroom."""


@dataclass(frozen=True)
class AddOutcome:
    result: AddResult
    evicted: int = 0
    """Acknowledged rows evicted to make room."""


@dataclass(frozen=True)
class Row:
    seq: int
    channel: Channel
    item_id: str
    payload: bytes
    added_at: float


@dataclass(frozen=True)
class OutboxStats:
    depth: int
    """Readings stored and not yet acknowledged."""
    events_pending: int
    oldest_unsent_at: float | None
    acked_held: int
    stored_bytes: int
    limit_bytes: int
    delivered_ids: int
    last_upload_at: float | None
    last_refusal_at: float | None = None
    last_refusal: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL CHECK (channel IN ('readings', 'events')),
    item_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    added_at REAL NOT NULL,
    acked_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE acked_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_acked ON outbox (seq) WHERE acked_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS delivered (item_id BLOB PRIMARY KEY, acked_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivered_age ON delivered (acked_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO counters VALUES ('stored_bytes', 0);
CREATE TRIGGER IF NOT EXISTS outbox_bytes_in AFTER INSERT ON outbox BEGIN
    UPDATE counters SET value = value + length(NEW.payload) WHERE name = 'stored_bytes';
END;
CREATE TRIGGER IF NOT EXISTS outbox_bytes_out AFTER DELETE ON outbox BEGIN
    UPDATE counters SET value = value - length(OLD.payload) WHERE name = 'stored_bytes';
END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    try:
        if read_only:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise StateError(
            f"cannot open the outbox {path}: {exc}", fix="check the state_dir permissions"
        ) from exc
    return conn


class OutboxDb:
    """One connection to the outbox file; every method is one transaction. Not thread-safe by design."""

    def __init__(self, path: Path, *, limit_bytes: int, read_only: bool = False) -> None:
        self.path = path
        self.limit_bytes = limit_bytes
        self.conn = _connect(path, read_only=read_only)
        try:
            self._prepare(read_only)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StateError(
                f"the outbox {path} is not usable: {exc}", fix="move the file aside and restart the hub"
            ) from exc

    def _prepare(self, read_only: bool) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION) or (read_only and version != SCHEMA_VERSION):
            raise StateError(
                f"the outbox {self.path} has layout {version}, this build reads {SCHEMA_VERSION}"
            )
        if read_only:
            return
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: the lock is taken at BEGIN, so two writers never deadlock on an upgrade."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- writes ---------------------------------------------------------------------------------
    def add(self, channel: Channel, item_id: uuid.UUID, payload: bytes, now: float) -> AddOutcome:
        """Store one row (unless its id is known), evicting acknowledged rows if the budget needs it.

        Raises `OutboxFull` for a reading that does not fit once every acknowledged row is gone.
        """
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM outbox WHERE item_id = ?", (str(item_id),)).fetchone():
                return AddOutcome(AddResult.DUPLICATE)
            if (
                channel is Channel.READINGS
                and conn.execute("SELECT 1 FROM delivered WHERE item_id = ?", (item_id.bytes,)).fetchone()
            ):
                return AddOutcome(AddResult.DELIVERED)
            evicted = 0
            if self._stored_bytes() + len(payload) > self.limit_bytes:
                evicted = self._evict_acked(target=int(self.limit_bytes * LOW_WATERMARK) - len(payload))
            stored = self._stored_bytes()
            headroom = EVENT_HEADROOM_BYTES if channel is Channel.EVENTS else 0
            if stored + len(payload) > self.limit_bytes + headroom:
                if channel is Channel.READINGS:
                    raise OutboxFull(stored, self.limit_bytes)  # rolls back: nothing changed
                return AddOutcome(AddResult.DROPPED, evicted)
            conn.execute(
                "INSERT INTO outbox (channel, item_id, payload, added_at) VALUES (?, ?, ?, ?)",
                (channel.value, str(item_id), payload, now),
            )
        return AddOutcome(AddResult.STORED, evicted)

    def _stored_bytes(self) -> int:
        return int(self.conn.execute("SELECT value FROM counters WHERE name = 'stored_bytes'").fetchone()[0])

    def _evict_acked(self, target: int) -> int:
        """Delete the oldest acknowledged rows until the stored bytes reach `target` (or none are left)."""
        excess = self._stored_bytes() - max(target, 0)
        if excess <= 0:
            return 0
        rows = self.conn.execute(
            "SELECT seq, length(payload) FROM outbox WHERE acked_at IS NOT NULL ORDER BY seq"
        )
        doomed: list[int] = []
        for seq, size in rows:
            if excess <= 0:
                break
            doomed.append(seq)
            excess -= size
        self._delete(doomed)
        return len(doomed)

    def _delete(self, seqs: Sequence[int]) -> None:
        self.conn.executemany("DELETE FROM outbox WHERE seq = ?", ((s,) for s in seqs))

    def mark_acked(self, seqs: Sequence[int], now: float) -> int:
        """Record the broker's acknowledgement of these rows; remember reading ids as delivered."""
        with self._transaction() as conn:
            marks = ",".join("?" * len(seqs))
            rows = conn.execute(
                f"SELECT seq, channel, item_id FROM outbox WHERE acked_at IS NULL AND seq IN ({marks})",
                tuple(seqs),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET acked_at = ? WHERE seq = ?", ((now, seq) for seq, _, _ in rows)
            )
            conn.executemany(
                "INSERT OR REPLACE INTO delivered (item_id, acked_at) VALUES (?, ?)",
                ((uuid.UUID(item).bytes, now) for _, channel, item in rows if channel == Channel.READINGS),
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_upload_at', ?)", (repr(now),))
        return len(rows)

    def prune(
        self,
        now: float,
        *,
        acked_retention_s: float = ACKED_RETENTION_S,
        delivered_retention_s: float = DELIVERED_RETENTION_S,
        max_delivered: int = MAX_DELIVERED_IDS,
    ) -> tuple[int, int]:
        """Drop acknowledged payloads and delivered ids past their retention; return both counts."""
        with self._transaction() as conn:
            acked = conn.execute(
                "DELETE FROM outbox WHERE acked_at IS NOT NULL AND acked_at < ?", (now - acked_retention_s,)
            ).rowcount
            ids = conn.execute(
                "DELETE FROM delivered WHERE acked_at < ?", (now - delivered_retention_s,)
            ).rowcount
            ids += conn.execute(
                "DELETE FROM delivered WHERE item_id IN (SELECT item_id FROM delivered "
                "ORDER BY acked_at DESC LIMIT -1 OFFSET ?)",
                (max_delivered,),
            ).rowcount
        return acked, ids

    def note_refusal(self, reason: str, now: float) -> None:
        """Remember the broker's last refusal, for `rpm hub status` (the broker may refuse the event too)."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_refusal_at', ?)", (repr(now),))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_refusal', ?)", (reason,))

    def requeue_acked(self, since: float) -> int:
        """Make readings acknowledged at or after `since` unsent again (after a broker lost them)."""
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE outbox SET acked_at = NULL WHERE acked_at >= ? AND channel = 'readings'", (since,)
            ).rowcount

    # --- reads ----------------------------------------------------------------------------------
    def unsent(self, after_seq: int, limit: int) -> list[Row]:
        """Unsent rows in the order they were added, starting after `after_seq`."""
        rows = self.conn.execute(
            "SELECT seq, channel, item_id, payload, added_at FROM outbox "
            "WHERE acked_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [Row(seq, Channel(ch), item, bytes(payload), added) for seq, ch, item, payload, added in rows]

    def stats(self) -> OutboxStats:
        conn = self.conn
        depth, oldest = conn.execute(
            "SELECT count(*), min(added_at) FROM outbox WHERE acked_at IS NULL AND channel = 'readings'"
        ).fetchone()
        events = conn.execute(
            "SELECT count(*) FROM outbox WHERE acked_at IS NULL AND channel = 'events'"
        ).fetchone()[0]
        held = conn.execute("SELECT count(*) FROM outbox WHERE acked_at IS NOT NULL").fetchone()[0]
        delivered = conn.execute("SELECT count(*) FROM delivered").fetchone()[0]
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        return OutboxStats(
            depth=depth,
            events_pending=events,
            oldest_unsent_at=oldest,
            acked_held=held,
            stored_bytes=self._stored_bytes(),
            limit_bytes=self.limit_bytes,
            delivered_ids=delivered,
            last_upload_at=_float(meta.get("last_upload_at")),
            last_refusal_at=_float(meta.get("last_refusal_at")),
            last_refusal=meta.get("last_refusal"),
        )


def _float(value: str | None) -> float | None:
    return None if value is None else float(value)


def wall_clock() -> float:
    """Unix time of the hub clock (stored times are wall-clock: they are shown to people)."""
    return time.time()
