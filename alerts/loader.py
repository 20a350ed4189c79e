"""Load what the engine needs for a set of patients: their readings window in ONE query, and their context
(practice, active conditions, care-plan overrides, practice overrides) in another.

The readings come back as a single bytea of fixed-size binary records (NULL values become NaN in SQL), so
numpy reads the whole window with one `np.frombuffer`, without a Python object per row or value.

The window query runs without parallel workers: it reads a few dozen rows per patient through the
(patient_id, measured_at) index, and for 1,000 patients the planner otherwise chose parallel sequential
scans of whole chunks (EXPLAIN ANALYZE, 48,000 rows of 1,000,000: 0.79 s with a parallel plan, 0.37 s with
bitmap index scans, on a loaded two-core machine). Times are sent as raw timestamptz (microseconds since
2000-01-01) and converted to epoch milliseconds in numpy, instead of arithmetic per row in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta

import numpy as np
import psycopg

from alerts.errors import LoadError, RuleConfigError
from alerts.readings import (
    CUFFLESS_PROFILES,
    FASTING_MEALS,
    FLAG_CUFFLESS,
    FLAG_FASTING,
    FLAG_IMPOSSIBLE,
    FLAG_PULSE_DOUBTFUL,
    IMPOSSIBLE_QUALITY_FLAGS,
    VALUE_COLUMNS,
    Readings,
    from_columns,
)
from alerts.settings import Overrides, PatientContext, validate_overrides
from alerts.window import MAX_WINDOW_MS

LOOKBACK = timedelta(milliseconds=MAX_WINDOW_MS)
"""The window loaded per patient: the longest look-back any rule can have (alerts.window.MAX_WINDOW_MS)."""

_WINDOW_SQL = f"""
SELECT coalesce(string_agg(
         uuid_send(r.patient_id)
         || timestamptz_send(r.measured_at)
         || timestamptz_send(r.ingested_at)
         || uuid_send(r.reading_id)
         || int2send((CASE r.kind WHEN 'blood_pressure' THEN 0 WHEN 'glucose' THEN 1 ELSE 2 END)::int2)
         || int2send((CASE WHEN cardinality(r.quality_flags) = 0 THEN 0 ELSE
               (CASE WHEN r.quality_flags && %(impossible)s::text[] THEN {FLAG_IMPOSSIBLE} ELSE 0 END)
             + (CASE WHEN 'pulse_implausible' = ANY(r.quality_flags) THEN {FLAG_PULSE_DOUBTFUL} ELSE 0 END)
           END
           + CASE WHEN r.meal IS NULL THEN 0
               WHEN r.meal = ANY(%(fasting)s::text[]) THEN {FLAG_FASTING} ELSE 0 END
           {{cuffless}})::int2)
         || float8send(coalesce(r.systolic_mmhg, 'NaN')) || float8send(coalesce(r.diastolic_mmhg, 'NaN'))
         || float8send(coalesce(r.pulse_bpm, 'NaN')) || float8send(coalesce(r.glucose_mg_dl, 'NaN'))
         || float8send(coalesce(r.weight_kg, 'NaN')),
         ''::bytea), ''::bytea)
FROM readings r
WHERE r.patient_id = ANY(%(patients)s::uuid[]) AND r.measured_at > %(since)s AND r.measured_at <= %(until)s
"""
"""The window as ONE value: fixed-size big-endian records (the *send functions), concatenated; the patient
is mapped to its segment in numpy (a join in SQL made the planner leave the patient index). Building the
records is most of the query's time, so the flags skip their array tests for the usual reading (no quality
flags, no meal) and the cuffless test is left out while no device is cuffless (measured: 44 -> 36 ms for
the 24,000-row window of 500 patients)."""
_CUFFLESS_TERM = f"+ CASE WHEN r.device_id = ANY(%(cuffless)s::text[]) THEN {FLAG_CUFFLESS} ELSE 0 END"
_WINDOW_SQL_CUFFLESS = _WINDOW_SQL.replace("{cuffless}", _CUFFLESS_TERM)
_WINDOW_SQL = _WINDOW_SQL.replace("{cuffless}", "")

_ROW = np.dtype(
    [("patient", "V16"), ("t", ">i8"), ("ingested", ">i8"), ("rid", "V16"), ("kind", ">i2"), ("flags", ">i2")]
    + [(name, ">f8") for name in VALUE_COLUMNS]
)
_PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01T00:00:00Z, the origin of PostgreSQL's binary timestamps, in microseconds since 1970."""
_NO_PARALLEL = (
    "SELECT current_setting('max_parallel_workers_per_gather'),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)
"""Turns parallel plans off for the rest of the transaction; returns the setting it replaced."""


def _epoch_ms(pg_us: np.ndarray) -> np.ndarray:
    """PostgreSQL binary timestamps to epoch milliseconds, exactly as `(date_part('epoch', t) * 1000)::int8`
    computes them: seconds as float8, times 1000, rounded to the nearest (ties to even)."""
    seconds = (pg_us.astype(np.int64) + _PG_EPOCH_US).astype(np.float64) / 1_000_000.0
    return np.rint(seconds * 1000.0).astype(np.int64)


def _segments(patients: np.ndarray, patient_ids: Sequence[uuid.UUID]) -> np.ndarray:
    """Each record's patient as its index in `patient_ids`: a binary search over the sorted ids' two 64-bit
    words (exact: both words are compared)."""
    if patients.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = sorted(range(len(patient_ids)), key=lambda i: patient_ids[i].int)
    known_hi = np.array([patient_ids[i].int >> 64 for i in order], dtype=np.uint64)
    known_lo = np.array([patient_ids[i].int & 0xFFFFFFFFFFFFFFFF for i in order], dtype=np.uint64)
    words = np.ascontiguousarray(patients).view(">u8").reshape(-1, 2).astype(np.uint64)
    # position of (hi, lo) among the sorted (hi, lo) pairs: search hi, then lo within equal hi
    lo_bound = np.searchsorted(known_hi, words[:, 0], side="left")
    hi_bound = np.searchsorted(known_hi, words[:, 0], side="right")
    found = lo_bound.copy()
    ties = np.flatnonzero(hi_bound - lo_bound > 1)
    for j in ties:  # only when two patients share the first 64 bits
        a, b = lo_bound[j], hi_bound[j]
        found[j] = a + np.searchsorted(known_lo[a:b], words[j, 1])
    found = np.minimum(found, len(order) - 1)
    if np.any(known_hi[found] != words[:, 0]) or np.any(known_lo[found] != words[:, 1]):
        raise LoadError("the readings window holds a patient that was not asked for")
    return np.asarray(order, dtype=np.int64)[found]


def _cuffless_devices(conn: psycopg.Connection) -> list[str]:
    if not CUFFLESS_PROFILES:
        return []
    rows = conn.execute("SELECT device_id FROM devices WHERE profile = ANY(%s)", (list(CUFFLESS_PROFILES),))
    return [row[0] for row in rows]


def _parse(data: bytes, patient_ids: Sequence[uuid.UUID]) -> Readings:
    if len(data) % _ROW.itemsize:
        raise LoadError(f"the readings window is not a whole number of {_ROW.itemsize}-byte records")
    rows = np.frombuffer(data, dtype=_ROW)
    return from_columns(
        len(patient_ids),
        _segments(rows["patient"], patient_ids),
        _epoch_ms(rows["t"]),
        _epoch_ms(rows["ingested"]),
        rows["rid"].copy(),
        rows["kind"].astype(np.int8),
        rows["flags"].astype(np.int16),
        {name: rows[name].astype(np.float64) for name in VALUE_COLUMNS},
    )


def load_readings(
    conn: psycopg.Connection,
    patient_ids: Sequence[uuid.UUID],
    until: datetime,
    lookback: timedelta = LOOKBACK,
) -> Readings:
    """Readings of `patient_ids` measured in (until - lookback, until], segment i = patient_ids[i]."""
    cuffless = _cuffless_devices(conn)
    params = {
        "patients": list(patient_ids),
        "since": until - lookback,
        "until": until,
        "impossible": list(IMPOSSIBLE_QUALITY_FLAGS),
        "cuffless": cuffless,
        "fasting": list(FASTING_MEALS),
    }
    in_transaction = conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    with nullcontext() if in_transaction else conn.transaction():  # SET LOCAL needs a transaction
        previous = conn.execute(_NO_PARALLEL).fetchone()
        row = conn.execute(_WINDOW_SQL_CUFFLESS if cuffless else _WINDOW_SQL, params, binary=True).fetchone()
        # the caller's transaction goes on (context, alert writes) with its own setting
        conn.execute("SELECT set_config('max_parallel_workers_per_gather', %s, true)", (previous[0],))
    return _parse(bytes(row[0]) if row else b"", patient_ids)


def load_context(conn: psycopg.Connection, patient_ids: Sequence[uuid.UUID], on: datetime) -> PatientContext:
    """Practice, active conditions and validated overrides of each patient, in the order given."""
    rows = conn.execute(
        "SELECT p.ord, pt.practice_id,"
        " coalesce((SELECT array_agg(c.icd10) FROM chronic_conditions c WHERE c.patient_id = pt.patient_id"
        "   AND (c.onset IS NULL OR c.onset <= %(on)s) AND (c.resolved_on IS NULL OR c.resolved_on >"
        " %(on)s)),"
        "   '{}'),"
        " (SELECT v.alert_thresholds FROM care_plan_versions v WHERE v.patient_id = pt.patient_id"
        "   ORDER BY v.version DESC LIMIT 1),"
        " o.overrides"
        " FROM unnest(%(patients)s::uuid[]) WITH ORDINALITY AS p(patient_id, ord)"
        " JOIN patients pt ON pt.patient_id = p.patient_id"
        " LEFT JOIN alert_rule_overrides o ON o.practice_id = pt.practice_id"
        " ORDER BY p.ord",
        {"patients": list(patient_ids), "on": on.date()},
    ).fetchall()
    if len(rows) != len(patient_ids):
        known = {row[0] - 1 for row in rows}
        missing = [str(patient_ids[i]) for i in range(len(patient_ids)) if i not in known]
        raise LoadError(f"unknown patients: {', '.join(missing)}")
    practices: dict[uuid.UUID, Overrides] = {}
    patient_overrides: list[Overrides] = []
    problems: dict[int, RuleConfigError] = {}
    for index, (_, practice_id, _codes, thresholds, practice_doc) in enumerate(rows):
        if practice_doc and practice_id not in practices:
            # Validated when written (alerts.service.set_practice_overrides); a bad row is a bug, not input.
            practices[practice_id] = validate_overrides(practice_doc, f"practice {practice_id} overrides")
        try:
            patient_overrides.append(
                validate_overrides(thresholds or {}, f"care plan alert_thresholds of {patient_ids[index]}")
            )
        except RuleConfigError as exc:
            problems[index] = exc
            patient_overrides.append({})
    return PatientContext(
        patient_ids=list(patient_ids),
        practice_ids=[row[1] for row in rows],
        conditions=[frozenset(row[2]) for row in rows],
        patient_overrides=patient_overrides,
        practice_overrides=practices,
        config_problems=problems,
    )
