"""Each patient's readings window, kept in memory by a long-running engine from one batch to the next.

A committed batch touches a few hundred patients whose windows (15 days, some 50 readings each) the engine
read minutes ago. With the windows kept, a batch reads only the readings ingested since (checked on the
entries of the (patient_id, measured_at, ingested_at) index, so only those rows are fetched): for a batch of
1,000 readings about 1,000 rows instead of 25,000, which was most of the batch's time (bench/README.md,
alerts).

Why nothing is missed: stored readings never change, and `ingested_at` is the start of the ingest
transaction that stored a reading. A read that began at database time T saw every reading committed before
T; a reading it did not see was committed after T by a transaction that began after T - its length, and
ingest ends every transaction within `ingest.db.TRANSACTION_TIMEOUT`. So each patient's entry is complete
for readings ingested up to T - SETTLE (SETTLE is longer than that timeout), and the next read asks for the
readings ingested after that. A reading written some other way (a manual fix, a restore) is picked up when
its patient's entry is read whole again, at most REFRESH_AFTER later. The window's edges are compared in
milliseconds, as the engine's times are: a reading within a millisecond of an edge may fall on the other side
of it than in a whole read.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg

from alerts.loader import LOOKBACK, read_window
from alerts.readings import VALUE_COLUMNS, Readings, id_words, sort_order

SETTLE = timedelta(minutes=10)
"""How far before a read its readings are known complete: longer than any ingest transaction
(ingest.db.TRANSACTION_TIMEOUT), as the runner's FRESH_MARGIN is."""
REFRESH_AFTER = timedelta(minutes=30)
"""An entry is read whole again after this long."""
MAX_PATIENTS = 20_000
"""Entries kept (least recently used go first): about 4 kB each for 50 readings."""

RECORD = np.dtype(
    [
        ("t", "i8"),
        ("ingested", "i8"),
        ("rid", "V16"),
        ("kind", "i1"),
        ("flags", "i2"),
        *((name, "f8") for name in VALUE_COLUMNS),
    ]
)
"""One reading as the cache keeps it (the columns of `Readings` without the patient)."""


@dataclass
class _Entry:
    records: bytes
    """The patient's readings measured after the last read's window start, in canonical order, as RECORDs
    (bytes: a batch joins hundreds of entries, and joining bytes costs far less than joining record arrays).
    """
    settled: datetime
    """Every reading of the patient ingested at or before this is in `records` (if it is in the window)."""
    loaded: float
    """Monotonic time of the last whole read."""


@dataclass(frozen=True)
class _Part:
    """Columns of readings of some of the batch's patients; `seg` indexes the batch's patient list."""

    seg: np.ndarray
    t: np.ndarray
    ingested: np.ndarray
    ids: np.ndarray
    kind: np.ndarray
    flags: np.ndarray
    raw: dict[str, np.ndarray]


def _from_readings(readings: Readings, positions: np.ndarray) -> _Part:
    return _Part(
        positions[readings.seg],
        readings.t,
        readings.ingested,
        readings.ids,
        readings.kind,
        readings.flags,
        readings.raw,
    )


def _from_records(records: np.ndarray, seg: np.ndarray) -> _Part:
    return _Part(
        seg,
        records["t"],
        records["ingested"],
        records["rid"],
        records["kind"],
        records["flags"],
        {name: records[name] for name in VALUE_COLUMNS},
    )


def _joined(parts: list[_Part]) -> _Part:
    def cat(get: Callable[[_Part], np.ndarray]) -> np.ndarray:
        return np.concatenate([get(p) for p in parts])

    return _Part(
        cat(lambda p: p.seg),
        cat(lambda p: p.t),
        cat(lambda p: p.ingested),
        cat(lambda p: p.ids),
        cat(lambda p: p.kind),
        cat(lambda p: p.flags),
        {name: cat(lambda p, name=name: p.raw[name]) for name in VALUE_COLUMNS},
    )


def _distinct_sorted(part: _Part, since_ms: int) -> _Part:
    """The readings measured after `since_ms`, in canonical order, each reading once (a reading read whole
    and again as ingested after the settled time is the same stored row)."""
    order = sort_order(part.seg, part.t, part.ids)
    seg, ids = part.seg[order], part.ids[order]
    hi, lo = id_words(ids)
    keep = part.t[order] > since_ms
    keep[1:] &= ~((seg[1:] == seg[:-1]) & (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1]))
    chosen = order[keep]
    return _Part(
        part.seg[chosen],
        part.t[chosen],
        part.ingested[chosen],
        part.ids[chosen],
        part.kind[chosen],
        part.flags[chosen],
        {name: part.raw[name][chosen] for name in VALUE_COLUMNS},
    )


def _records(part: _Part) -> np.ndarray:
    records = np.empty(part.t.size, dtype=RECORD)
    records["t"], records["ingested"], records["rid"] = part.t, part.ingested, part.ids
    records["kind"], records["flags"] = part.kind, part.flags
    for name in VALUE_COLUMNS:
        records[name] = part.raw[name]
    return records


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class WindowCache:
    """Readings windows of recently evaluated patients; `read` is `loader.load_readings` for a long-running
    engine. Not thread-safe: one per evaluating connection."""

    def __init__(
        self,
        max_patients: int = MAX_PATIENTS,
        settle: timedelta = SETTLE,
        refresh_after: timedelta = REFRESH_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._max = max_patients
        self._settle = settle
        self._refresh_after_s = refresh_after.total_seconds()
        self._monotonic = monotonic

    def __len__(self) -> int:
        return len(self._entries)

    def read(
        self,
        conn: psycopg.Connection,
        patient_ids: Sequence[uuid.UUID],
        until: datetime,
        lookback: timedelta = LOOKBACK,
    ) -> Readings:
        """Readings of `patient_ids` (distinct) measured in (until - lookback, until], segment i =
        patient_ids[i]: the same as `loader.load_readings`, from the kept windows and the readings ingested
        since they were read."""
        since = until - lookback
        clock = self._monotonic()
        # keyed by the ids' integers: hashing a uuid.UUID runs Python code, hashing an int does not
        keys = [patient.int for patient in patient_ids]
        found = [self._entries.get(key) for key in keys]
        warm = [i for i, entry in enumerate(found) if entry is not None and self._fresh(entry, clock)]
        cold = sorted(set(range(len(keys))) - set(warm))
        # an empty part first: there is always something to join, even for no patients
        parts = [_from_records(np.empty(0, dtype=RECORD), np.empty(0, dtype=np.int64))]
        settled: list[datetime] = [since] * len(keys)
        loaded = [clock] * len(keys)
        if cold:
            window = read_window(conn, [patient_ids[i] for i in cold], since, None)
            parts.append(_from_readings(window.readings, np.array(cold)))
            for i in cold:
                settled[i] = window.read_at - self._settle
        if warm:
            entries = [found[i] for i in warm]
            after = min(entry.settled for entry in entries)
            window = read_window(conn, [patient_ids[i] for i in warm], since, None, ingested_after=after)
            parts.append(_from_readings(window.readings, np.array(warm)))
            kept = np.frombuffer(b"".join(entry.records for entry in entries), dtype=RECORD)
            lengths = np.array([len(entry.records) for entry in entries]) // RECORD.itemsize
            parts.append(_from_records(kept, np.repeat(np.array(warm), lengths)))
            for i, entry in zip(warm, entries, strict=True):
                settled[i], loaded[i] = window.read_at - self._settle, entry.loaded
        merged = _distinct_sorted(_joined(parts), _ms(since))
        self._keep(keys, merged, settled, loaded)
        due = merged.t <= _ms(until)
        return Readings(  # already in the canonical order; the masks made the copies, astype makes none
            len(patient_ids),
            merged.seg[due].astype(np.int64, copy=False),
            merged.t[due].astype(np.int64, copy=False),
            merged.ingested[due].astype(np.int64, copy=False),
            merged.ids[due],
            merged.kind[due].astype(np.int8, copy=False),
            merged.flags[due].astype(np.int16, copy=False),
            {name: merged.raw[name][due].astype(np.float64, copy=False) for name in VALUE_COLUMNS},
        )

    def _fresh(self, entry: _Entry, clock: float) -> bool:
        return clock - entry.loaded < self._refresh_after_s

    def _keep(self, keys: list[int], merged: _Part, settled: list[datetime], loaded: list[float]) -> None:
        records = _records(merged).tobytes()
        bounds = (np.searchsorted(merged.seg, np.arange(len(keys) + 1)) * RECORD.itemsize).tolist()
        entries = self._entries
        for index, key in enumerate(keys):
            entries.pop(key, None)  # (re)inserted last: the most recently used
            entries[key] = _Entry(records[bounds[index] : bounds[index + 1]], settled[index], loaded[index])
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
