"""Vectorized window primitives over readings grouped by patient and sorted by time.

A reading's search key is `segment << SEGMENT_SHIFT | time offset`: one `np.searchsorted` over the keys
finds, for every reading at once, where its time window starts, and a window can never reach into the
previous patient because offsets start above the longest window (`MAX_WINDOW_MS`). Sums come from
cumulative sums, minima and maxima from `ufunc.reduceat`, runs from `np.maximum.accumulate`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from alerts.errors import WindowError
from alerts.readings import MS_PER_DAY, Readings

T = TypeVar("T")

MAX_WINDOW_MS = 15 * MS_PER_DAY
"""The longest look-back any rule may use: the 7-day mean rise compares two 7-day windows (14 days), plus a
day of slack. Parameter models cap their windows so that this holds."""
SEGMENT_SHIFT = 36
"""2^36 ms is 795 days: room for a window of readings plus MAX_WINDOW_MS; leaves 27 bits (134 million)
for patient segments."""


@dataclass(frozen=True)
class Series:
    """A subset of a `Readings` window (one kind, eligible readings), still in canonical order."""

    seg: np.ndarray
    t: np.ndarray
    key: np.ndarray
    pos: np.ndarray  # index of each reading in the parent `Readings`
    n_patients: int
    cache: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)
    """Work shared by the rules of one series: gathered columns, window searches, window sums."""

    def __len__(self) -> int:
        return int(self.seg.size)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()` once per series and key (rules sharing a column or a window share the work)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def column(self, readings: Readings, name: str) -> np.ndarray:
        """The fixed-point values of `name` for the readings of this series."""
        return self.memo(("q", name), lambda: readings.q[name][self.pos])

    def subset(self, keep: np.ndarray) -> Series:
        """The readings of this series where `keep` is true (whole patients: windows stay the same)."""
        idx = np.flatnonzero(keep)
        return Series(self.seg[idx], self.t[idx], self.key[idx], self.pos[idx], self.n_patients)


def series(readings: Readings, mask: np.ndarray) -> Series:
    """The readings selected by `mask`, with their search keys."""
    pos = np.flatnonzero(mask)
    seg, t = readings.seg[pos], readings.t[pos]
    if t.size == 0:
        return Series(seg, t, t.copy(), pos, readings.n_patients)
    origin = int(readings.t.min()) - MAX_WINDOW_MS
    offset = t - origin
    if int(readings.t.max()) - origin >= 1 << SEGMENT_SHIFT:
        raise WindowError("the readings window spans more than two years; evaluate a shorter window")
    return Series(seg, t, (seg << SEGMENT_SHIFT) | offset, pos, readings.n_patients)


def no_readings(n_patients: int) -> Series:
    """An empty series (a rule enabled for nobody)."""
    return Series(*(np.zeros(0, dtype=np.int64) for _ in range(4)), n_patients)


def _search(s: Series, width_ms: np.ndarray | int, side: str) -> np.ndarray:
    width = np.asarray(width_ms)
    if width.ndim:
        return np.searchsorted(s.key, s.key - width, side=side)
    # rules sharing a window width share the search
    return s.memo(("search", int(width), side), lambda: np.searchsorted(s.key, s.key - width, side=side))


def window_start(s: Series, width_ms: np.ndarray | int, *, closed: bool) -> np.ndarray:
    """Index of the first reading j with t_j >= t_i - width (closed) or t_j > t_i - width (open)."""
    return _search(s, width_ms, "left" if closed else "right")


def window_end_before(s: Series, width_ms: np.ndarray | int) -> np.ndarray:
    """Index after the last reading j with t_j <= t_i - width (end of an earlier window, exclusive)."""
    return _search(s, width_ms, "right")


def prefix_sum(values: np.ndarray) -> np.ndarray:
    """[0, v0, v0 + v1, ...]: the sum of values[lo:hi] is csum[hi] - csum[lo] (integer values: exact)."""
    csum = np.empty(values.size + 1, dtype=np.int64)
    csum[0] = 0
    np.cumsum(values, dtype=np.int64, out=csum[1:])
    return csum


def window_sum(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray | None = None, csum: np.ndarray | None = None
) -> np.ndarray:
    """Sum of values[lo:hi] for every (lo, hi) pair (integer values: exact). hi=None: up to and including
    each reading (the `upto` ends, without a gather); `csum` = prefix_sum(values) if the caller has it."""
    if csum is None:
        csum = prefix_sum(values)
    return (csum[1:] if hi is None else csum[hi]) - csum[lo]


def column_sum(
    s: Series, readings: Readings, name: str, lo: np.ndarray, hi: np.ndarray | None = None
) -> np.ndarray:
    """window_sum of a fixed-point column of the series; its prefix sums are shared by the rules of the
    series (the two 7-day BP mean rules and the mean-rise rule all sum systolic)."""
    csum = s.memo(("csum", name), lambda: prefix_sum(s.column(readings, name)))
    return window_sum(s.column(readings, name), lo, hi, csum)


def upto(s: Series) -> np.ndarray:
    """1, 2, ..., len(s): the exclusive end of the window that closes at each reading."""
    return s.memo("upto", lambda: np.arange(1, len(s) + 1))


def window_extreme(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, ufunc: np.ufunc, empty: int
) -> np.ndarray:
    """ufunc (np.minimum or np.maximum) over values[lo:hi]; `empty` where the window holds nothing."""
    if values.size == 0:
        return np.full(lo.shape, empty, dtype=np.int64)
    padded = np.concatenate((values, [empty])).astype(np.int64)
    bounds = np.empty(2 * lo.size, dtype=np.intp)
    bounds[0::2] = lo
    bounds[1::2] = hi
    reduced = ufunc.reduceat(padded, bounds)[0::2]
    return np.where(hi > lo, reduced, empty)


def run_length(flag: np.ndarray, s: Series) -> np.ndarray:
    """How many consecutive readings up to and including each one have `flag` (within its patient)."""
    n = flag.size
    idx = np.arange(n)
    if not n:
        return idx
    reset = np.where(flag, first_of_patient(s) - 1, idx)
    return idx - np.maximum.accumulate(reset)


def first_of_patient(s: Series) -> np.ndarray:
    """For each reading, the index of its patient's first reading in the series."""

    def compute() -> np.ndarray:
        ends = last_index(s) + 1
        starts = np.concatenate(([0], ends[:-1]))
        return np.repeat(starts, ends - starts)

    return s.memo("first", compute)


def last_of_patient(s: Series) -> np.ndarray:
    """True at the latest reading of each patient in the series."""
    last = np.ones(s.seg.size, dtype=bool)
    if s.seg.size:
        last[:-1] = s.seg[1:] != s.seg[:-1]
    return last


def last_index(s: Series) -> np.ndarray:
    """Index of the latest reading of each patient present in the series (patients in segment order)."""
    return s.memo("last", lambda: np.flatnonzero(last_of_patient(s)))
