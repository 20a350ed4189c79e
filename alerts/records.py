"""The readings window as binary records: the SQL that builds them and the numpy that reads them.

The window comes back as a few bytea values of fixed-size big-endian records (the *send functions,
concatenated by string_agg), so numpy reads it with `np.frombuffer`, without a Python object per row or value.
There is one stream per kind, holding only the values that kind carries, and one mixed stream for a reading
that holds a value of another kind (ingest never writes one; it is read whole all the same). A record costs
the server about one function call per field, so a blood-pressure record with three values instead of five,
and a glucose or weight record with one, is what makes the query cheaper: 25,000 rows of 500 patients went
from 33 to 28 ms of server CPU, the scan alone being 12 (bench/README.md, alerts).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence

import numpy as np

from alerts.errors import LoadError
from alerts.readings import (
    FLAG_CUFFLESS,
    FLAG_FASTING,
    FLAG_IMPOSSIBLE,
    FLAG_PULSE_DOUBTFUL,
    KIND_CODES,
    VALUE_COLUMNS,
    Readings,
    from_columns,
)

KIND_VALUES: dict[str, tuple[str, ...]] = {
    "blood_pressure": ("systolic", "diastolic", "pulse"),
    "glucose": ("glucose",),
    "weight": ("weight",),
}
"""The value columns each kind of reading carries; ingest leaves the others NULL (ingest/rows.py)."""
SQL_COLUMNS = {
    "systolic": "systolic_mmhg",
    "diastolic": "diastolic_mmhg",
    "pulse": "pulse_bpm",
    "glucose": "glucose_mg_dl",
    "weight": "weight_kg",
}
MIXED = "mixed"
"""The stream of readings holding a value outside their kind's columns: kind code and all five values."""
STREAMS: tuple[str, ...] = (*KIND_VALUES, MIXED)

_HEAD = (
    "uuid_send(r.patient_id) || timestamptz_send(r.measured_at) || timestamptz_send(r.ingested_at)"
    " || uuid_send(r.reading_id)"
)
_FLAGS = f"""int2send((CASE WHEN cardinality(r.quality_flags) = 0 THEN 0 ELSE
    (CASE WHEN r.quality_flags && %(impossible)s::text[] THEN {FLAG_IMPOSSIBLE} ELSE 0 END)
    + (CASE WHEN 'pulse_implausible' = ANY(r.quality_flags) THEN {FLAG_PULSE_DOUBTFUL} ELSE 0 END) END
  + CASE WHEN r.meal IS NULL THEN 0 WHEN r.meal = ANY(%(fasting)s::text[]) THEN {FLAG_FASTING} ELSE 0 END
  {{cuffless}})::int2)"""
"""The FLAG_* bits; the array tests are skipped for the usual reading (no quality flags, no meal)."""
_CUFFLESS = f"+ CASE WHEN r.device_id = ANY(%(cuffless)s::text[]) THEN {FLAG_CUFFLESS} ELSE 0 END"
_KIND_CODE = (
    "int2send((CASE r.kind "
    + " ".join(f"WHEN '{kind}' THEN {code}" for kind, code in list(KIND_CODES.items())[:-1])
    + f" ELSE {list(KIND_CODES.values())[-1]} END)::int2)"
)
"""The kind's code (KIND_CODES); the table's CHECK allows no other kind."""


def _value(name: str) -> str:
    return f"float8send(coalesce(r.{SQL_COLUMNS[name]}, 'NaN'))"


def _only_its_own(kind: str) -> str:
    """The reading holds no value of another kind."""
    return " AND ".join(
        f"r.{SQL_COLUMNS[name]} IS NULL" for name in VALUE_COLUMNS if name not in KIND_VALUES[kind]
    )


def _aggregate(record: str, where: str) -> str:
    return f"string_agg({record}, ''::bytea) FILTER (WHERE {where})"


@functools.cache
def window_sql(*, cuffless: bool, bounded: bool = True, delta: bool = False) -> str:
    """The window as one row of bytea values, one per stream (STREAMS); parameters: patients, since, until
    (when `bounded`), impossible and fasting (quality-flag codes and meal values), cuffless (device ids; the
    test is left out while no device is cuffless), ingested_after (when `delta`: only readings ingested
    later). The patient is mapped to its segment in numpy (a join in SQL made the planner leave the patient
    index)."""
    flags = _FLAGS.replace("{cuffless}", _CUFFLESS if cuffless else "")
    columns = [
        _aggregate(
            " || ".join([_HEAD, flags, *(_value(name) for name in values)]),
            f"r.kind = '{kind}' AND {_only_its_own(kind)}",
        )
        for kind, values in KIND_VALUES.items()
    ]
    own = " ".join(f"WHEN '{kind}' THEN {_only_its_own(kind)}" for kind in KIND_VALUES)
    columns.append(
        _aggregate(
            " || ".join([_HEAD, flags, _KIND_CODE, *(_value(name) for name in VALUE_COLUMNS)]),
            f"NOT CASE r.kind {own} ELSE false END",
        )
    )
    return (
        "SELECT " + ",\n  ".join(columns) + "\nFROM readings r WHERE r.patient_id = ANY(%(patients)b::uuid[])"
        " AND r.measured_at > %(since)s"
        + (" AND r.measured_at <= %(until)s" if bounded else "")
        + (" AND r.ingested_at > %(ingested_after)s" if delta else "")
    )


def _dtype(stream: str) -> np.dtype:
    fields = [("patient", "V16"), ("t", ">i8"), ("ingested", ">i8"), ("rid", "V16"), ("flags", ">i2")]
    if stream == MIXED:
        fields.append(("kind", ">i2"))
    values = VALUE_COLUMNS if stream == MIXED else KIND_VALUES[stream]
    return np.dtype(fields + [(name, ">f8") for name in values])


_DTYPES = {stream: _dtype(stream) for stream in STREAMS}
_PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01T00:00:00Z, the origin of PostgreSQL's binary timestamps, in microseconds since 1970."""


def epoch_ms(pg_us: np.ndarray) -> np.ndarray:
    """PostgreSQL binary timestamps to epoch milliseconds, exactly as `(date_part('epoch', t) * 1000)::int8`
    computes them: seconds as float8, times 1000, rounded to the nearest (ties to even)."""
    seconds = (pg_us.astype(np.int64) + _PG_EPOCH_US).astype(np.float64) / 1_000_000.0
    return np.rint(seconds * 1000.0).astype(np.int64)


def segments(patients: np.ndarray, patient_ids: Sequence[uuid.UUID]) -> np.ndarray:
    """Each record's patient as its index in `patient_ids`: a binary search over the sorted ids' two 64-bit
    words (exact: both words are compared)."""
    if patients.size == 0:
        return np.zeros(0, dtype=np.int64)
    packed = b"".join(p.bytes for p in patient_ids)
    known = np.frombuffer(packed, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    order = np.lexsort((known[:, 1], known[:, 0]))
    known_hi, known_lo = known[order, 0], known[order, 1]
    words = np.ascontiguousarray(patients).view(">u8").reshape(-1, 2).astype(np.uint64)
    found = np.searchsorted(known_hi, words[:, 0])
    if np.any(known_hi[1:] == known_hi[:-1]):  # two patients share the first 64 bits: search lo among them
        ends = np.searchsorted(known_hi, words[:, 0], side="right")
        for j in np.flatnonzero(ends - found > 1):
            a, b = found[j], ends[j]
            found[j] = a + np.searchsorted(known_lo[a:b], words[j, 1])
    found = np.minimum(found, len(order) - 1)
    if np.any(known_hi[found] != words[:, 0]) or np.any(known_lo[found] != words[:, 1]):
        raise LoadError("the readings window holds a patient that was not asked for")
    return order[found].astype(np.int64)


def parse(row: Sequence[bytes | None], patient_ids: Sequence[uuid.UUID]) -> Readings:
    """The Readings of one window_sql row (one bytea per stream, None for an empty stream)."""
    streams = []
    for stream, data in zip(STREAMS, row, strict=True):
        dtype = _DTYPES[stream]
        if data and len(data) % dtype.itemsize:
            raise LoadError(f"the {stream} stream is not a whole number of {dtype.itemsize}-byte records")
        streams.append((stream, np.frombuffer(data or b"", dtype=dtype)))

    def joined(field: str, native: str) -> np.ndarray:
        """One field of every stream, in native byte order (numpy gathers big-endian arrays slowly)."""
        return np.concatenate(
            [
                records[field]
                if field in records.dtype.names
                else np.full(records.size, KIND_CODES[stream] if field == "kind" else np.nan)
                for stream, records in streams
            ],
            dtype=native,
            casting="same_kind",
        )

    return from_columns(
        len(patient_ids),
        segments(joined("patient", "V16"), patient_ids),
        epoch_ms(joined("t", "i8")),
        epoch_ms(joined("ingested", "i8")),
        joined("rid", "V16"),
        joined("kind", "i1"),
        joined("flags", "i2"),
        {name: joined(name, "f8") for name in VALUE_COLUMNS},
    )
