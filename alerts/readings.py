"""The readings window as columns: one numpy array per field, sorted by (patient, time, reading id).

Values are kept in fixed point (hundredths of their canonical unit, `SCALE`): far finer than any home
device reports (1 mmHg, 1 mg/dL, 0.05 kg), and integer sums are exact, so a rolling mean gives the same
answer however it is summed (vectorized cumulative sums and the plain reference loop agree bit for bit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from broker import plausibility as limits

SCALE = 100
"""Hundredths of the canonical unit (see the module docstring)."""

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

KIND_CODES = {"blood_pressure": 0, "glucose": 1, "weight": 2}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}

# Bits of `flags`, set by the loader (SQL) or by `from_rows` (tests).
FLAG_IMPOSSIBLE = 1
"""The ingest plausibility check called a primary value impossible (alert-rules.md): never alerts."""
FLAG_PULSE_DOUBTFUL = 2
"""The pulse is implausible: the blood pressure stands, the pulse feeds no rule."""
FLAG_CUFFLESS = 4
"""Blood pressure not from a cuff (2025 AHA/ACC: cuffless BP is not for management): feeds no BP rule."""
FLAG_FASTING = 8
"""Glucose taken fasting or before a meal (the ADA preprandial target applies)."""

IMPOSSIBLE_QUALITY_FLAGS = (
    "systolic_impossible",
    "diastolic_not_below_systolic",
    "glucose_impossible",
    "weight_impossible",
)
"""broker.plausibility codes that mean 'not a measurement of a living patient'."""
FASTING_MEALS = ("preprandial", "fasting")
CUFFLESS_PROFILES: tuple[str, ...] = ()
"""Firmware profiles of cuffless BP devices. Every shipped profile speaks the Bluetooth Blood Pressure
Service,
which is defined for cuff monitors, so none is cuffless today; a wearable profile added later goes here."""

VALUE_COLUMNS = ("systolic", "diastolic", "pulse", "glucose", "weight")


def quantize(values: np.ndarray) -> np.ndarray:
    """Float values (NaN = missing) to fixed point; missing becomes 0 and is tracked by `has_*`."""
    scaled = np.rint(values * SCALE)
    scaled[np.isnan(scaled)] = 0
    return scaled.astype(np.int64)


def quantize_scalar(value: float) -> int:
    return int(np.rint(value * SCALE))


@dataclass(frozen=True)
class Readings:
    """Recent readings of `n_patients` patients (segment = patient index), sorted by patient, time, id."""

    n_patients: int
    seg: np.ndarray  # int64 patient index
    t: np.ndarray  # int64 ms since the epoch, measured_at
    ingested: np.ndarray  # int64 ms since the epoch, ingested_at
    ids: np.ndarray  # reading ids, 16 raw bytes each (dtype V16), as PostgreSQL orders uuids
    kind: np.ndarray  # int8 KIND_CODES
    flags: np.ndarray  # int16 FLAG_* bits
    raw: dict[str, np.ndarray]  # float64 canonical values, NaN = missing
    q: dict[str, np.ndarray] = field(default_factory=dict)  # fixed point (derived)
    has: dict[str, np.ndarray] = field(default_factory=dict)  # presence (derived)

    def __post_init__(self) -> None:
        for name in VALUE_COLUMNS:
            self.q[name] = quantize(self.raw[name])
            self.has[name] = ~np.isnan(self.raw[name])

    def __len__(self) -> int:
        return int(self.seg.size)

    def possible(self) -> np.ndarray:
        """Readings no impossible value disqualifies, re-checked here as well as at ingest (manual entries and
        older rows may not have been assessed)."""
        sbp, dbp, glu, wt = (self.raw[c] for c in ("systolic", "diastolic", "glucose", "weight"))
        with np.errstate(invalid="ignore"):
            bad_bp = (self.kind == 0) & (
                ~(sbp >= limits.SYSTOLIC_MIN_POSSIBLE_MMHG)
                | ~(sbp <= limits.SYSTOLIC_MAX_POSSIBLE_MMHG)
                | ~(dbp < sbp)
            )
            bad_glu = (self.kind == 1) & ~((glu > 0) & (glu <= limits.GLUCOSE_MAX_POSSIBLE_MG_DL))
            bad_wt = (self.kind == 2) & ~((wt > 0) & (wt <= limits.WEIGHT_MAX_POSSIBLE_KG))
        return ((self.flags & FLAG_IMPOSSIBLE) == 0) & ~bad_bp & ~bad_glu & ~bad_wt


def id_words(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 16-byte ids as two big-endian 64-bit words: sorting by them is sorting uuids as PostgreSQL does."""
    words = np.ascontiguousarray(ids).view(">u8").reshape(-1, 2)
    return words[:, 0], words[:, 1]


def reading_key(raw_id: np.void | bytes) -> str:
    """The evidence key of a reading: its uuid in canonical text form."""
    return str(uuid.UUID(bytes=bytes(raw_id)))


def ids_from_uuids(values: list[uuid.UUID]) -> np.ndarray:
    return np.frombuffer(b"".join(v.bytes for v in values), dtype="V16").copy()


def sort_order(seg: np.ndarray, t: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The canonical order: patient, then time, then reading id (so ties in time are deterministic).
    One argsort on (patient, time) packed into one integer; readings tied on it are then ordered by id."""
    seg, t = seg.astype(np.int64), t.astype(np.int64)
    if t.size == 0:
        return np.arange(0)
    if int(t.max() - t.min()) >= 1 << 40 or int(seg.max()) >= 1 << 22:
        hi, lo = id_words(ids)
        return np.lexsort((lo, hi, t, seg))
    packed = (seg << 40) | (t - t.min())
    order = np.argsort(packed)
    ranked = packed[order]
    tie = np.zeros(t.size, dtype=bool)
    same = ranked[1:] == ranked[:-1]
    tie[1:] |= same
    tie[:-1] |= same
    if tie.any():
        slots = np.flatnonzero(tie)  # a union of runs of equal keys: sort them among themselves
        hi, lo = id_words(ids[order[slots]])
        order[slots] = order[slots][np.lexsort((lo, hi, ranked[slots]))]
    return order


def from_columns(
    n_patients: int,
    seg: np.ndarray,
    t: np.ndarray,
    ingested: np.ndarray,
    ids: np.ndarray,
    kind: np.ndarray,
    flags: np.ndarray,
    raw: dict[str, np.ndarray],
) -> Readings:
    """Readings from unsorted columns (sorted here into the canonical order; the gather is the only copy when
    the columns already have their dtypes)."""
    order = sort_order(seg, t, ids)
    return Readings(
        n_patients=n_patients,
        seg=seg[order].astype(np.int64, copy=False),
        t=t[order].astype(np.int64, copy=False),
        ingested=ingested[order].astype(np.int64, copy=False),
        ids=ids[order],
        kind=kind[order].astype(np.int8, copy=False),
        flags=flags[order].astype(np.int16, copy=False),
        raw={name: raw[name][order].astype(np.float64, copy=False) for name in VALUE_COLUMNS},
    )
