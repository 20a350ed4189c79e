"""Per-device memory (last RACP sequence, cached Device Information...): a small SQLite key-value store.

`synchronous=NORMAL` is enough here, unlike the outbox: the BLE layer advances a device's sequence only after
the outbox committed the reading, so losing the last write to a power cut can only make the hub read a record
again, and a re-read record has the same `reading_id` and is dropped by the outbox.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from gateway.errors import StateError

T = TypeVar("T")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_state (
    device_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (device_id, key)
) WITHOUT ROWID;
"""


def open_db(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open (and on first use create) the store; read-only for `rpm hub status` while the hub runs."""
    try:
        if read_only:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 5000")
            return conn
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    except sqlite3.Error as exc:
        raise StateError(f"cannot open the device state {path}: {exc}", fix="check state_dir") from exc
    return conn


def read_all(conn: sqlite3.Connection, key: str) -> dict[str, str]:
    """`device_id -> value` of one key for every device."""
    rows = conn.execute("SELECT device_id, value FROM device_state WHERE key = ?", (key,)).fetchall()
    return dict(rows)


class DeviceStateStore:
    """`await get(device_id, key)` / `await set(device_id, key, value)` on one SQLite thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="device-state")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                self._conn = open_db(self.path)
            return fn(self._conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def get(self, device_id: str, key: str) -> str | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT value FROM device_state WHERE device_id = ? AND key = ?", (device_id, key)
            ).fetchone()
        )
        return None if row is None else row[0]

    async def set(self, device_id: str, key: str, value: str) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO device_state VALUES (?, ?, ?, ?)",
                (device_id, key, value, time.time()),
            )
        )

    async def all(self, key: str) -> dict[str, str]:
        return await self._run(lambda c: read_all(c, key))

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)
