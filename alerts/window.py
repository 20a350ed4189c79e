"""Vectorized window primitives over readings grouped by patient and sorted by time.

A reading's search key is `segment << SEGMENT_SHIFT | time offset`: one `np.searchsorted` over the keys
finds, for every reading at once, where its time window starts, and a window can never reach into the
previous patient because offsets start above the longest window (`MAX_WINDOW_MS`). Sums come from
cumulative sums, minima and maxima from `ufunc.reduceat`, runs from `np.maximum.accumulate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alerts.errors import WindowError
from alerts.readings import MS_PER_DAY, Readings

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
    cache: dict[tuple[int, str], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return int(self.seg.size)


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


def _search(s: Series, width_ms: np.ndarray | int, side: str) -> np.ndarray:
    width = np.asarray(width_ms)
    if width.ndim:
        return np.searchsorted(s.key, s.key - width, side=side)
    cache_key = (int(width), side)
    if cache_key not in s.cache:  # rules sharing a window width share the search
        s.cache[cache_key] = np.searchsorted(s.key, s.key - width, side=side)
    return s.cache[cache_key]


def window_start(s: Series, width_ms: np.ndarray | int, *, closed: bool) -> np.ndarray:
    """Index of the first reading j with t_j >= t_i - width (closed) or t_j > t_i - width (open)."""
    return _search(s, width_ms, "left" if closed else "right")


def window_end_before(s: Series, width_ms: np.ndarray | int) -> np.ndarray:
    """Index after the last reading j with t_j <= t_i - width (end of an earlier window, exclusive)."""
    return _search(s, width_ms, "right")


def window_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of values[lo:hi] for every (lo, hi) pair (integer values: exact)."""
    csum = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
    return csum[hi] - csum[lo]


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
    first = np.searchsorted(s.seg, s.seg, side="left")
    reset = np.where(flag, first - 1, idx)
    return idx - np.maximum.accumulate(reset) if n else idx


def last_of_patient(s: Series) -> np.ndarray:
    """True at the latest reading of each patient in the series."""
    last = np.ones(s.seg.size, dtype=bool)
    if s.seg.size:
        last[:-1] = s.seg[1:] != s.seg[:-1]
    return last
