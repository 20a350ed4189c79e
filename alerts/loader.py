"""Load what the engine needs for a set of patients: their readings window in ONE query, and their context
(practice, active conditions, care-plan overrides, practice overrides) in another.

The readings come back as binary records (alerts.records), so numpy reads the whole window without a Python
object per row or value.

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
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from alerts import records
from alerts.errors import LoadError, RuleConfigError
from alerts.readings import CUFFLESS_PROFILES, FASTING_MEALS, IMPOSSIBLE_QUALITY_FLAGS, Readings
from alerts.settings import Overrides, PatientContext, validate_overrides
from alerts.window import MAX_WINDOW_MS

LOOKBACK = timedelta(milliseconds=MAX_WINDOW_MS)
"""The window loaded per patient: the longest look-back any rule can have (alerts.window.MAX_WINDOW_MS)."""

_NO_PARALLEL = (
    "SELECT current_setting('max_parallel_workers_per_gather'),"
    " set_config('max_parallel_workers_per_gather', '0', true), statement_timestamp()"
)
"""Turns parallel plans off for the rest of the transaction; returns the setting it replaced and the
database's clock (the window query that follows sees every reading committed before it)."""


def _cuffless_devices(conn: psycopg.Connection) -> list[str]:
    if not CUFFLESS_PROFILES:
        return []
    rows = conn.execute("SELECT device_id FROM devices WHERE profile = ANY(%s)", (list(CUFFLESS_PROFILES),))
    return [row[0] for row in rows]


@dataclass(frozen=True)
class Window:
    readings: Readings
    read_at: datetime
    """The database's clock just before the query: it saw every reading committed by then."""


def read_window(
    conn: psycopg.Connection,
    patient_ids: Sequence[uuid.UUID],
    since: datetime,
    until: datetime | None,
    ingested_after: datetime | None = None,
) -> Window:
    """Readings of `patient_ids` measured in (since, until] (no upper bound when `until` is None), only
    those ingested after `ingested_after` when given; segment i = patient_ids[i]."""
    cuffless = _cuffless_devices(conn)
    params = {
        "patients": list(patient_ids),
        "since": since,
        "until": until,
        "ingested_after": ingested_after,
        "impossible": list(IMPOSSIBLE_QUALITY_FLAGS),
        "cuffless": cuffless,
        "fasting": list(FASTING_MEALS),
    }
    query = records.window_sql(
        cuffless=bool(cuffless), bounded=until is not None, delta=ingested_after is not None
    )
    in_transaction = conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    with nullcontext() if in_transaction else conn.transaction():  # SET LOCAL needs a transaction
        previous = conn.execute(_NO_PARALLEL).fetchone()
        row = conn.execute(query, params, binary=True).fetchone()
        # the caller's transaction goes on (context, alert writes) with its own setting
        conn.execute("SELECT set_config('max_parallel_workers_per_gather', %s, true)", (previous[0],))
    readings = records.parse(row or (None,) * len(records.STREAMS), patient_ids)
    return Window(readings, previous[2])


def load_readings(
    conn: psycopg.Connection,
    patient_ids: Sequence[uuid.UUID],
    until: datetime,
    lookback: timedelta = LOOKBACK,
) -> Readings:
    """Readings of `patient_ids` measured in (until - lookback, until], segment i = patient_ids[i]."""
    return read_window(conn, patient_ids, until - lookback, until).readings


def load_context(conn: psycopg.Connection, patient_ids: Sequence[uuid.UUID], on: datetime) -> PatientContext:
    """Practice, active conditions and validated overrides of each patient, in the order given. The patients
    are found through their primary key (a join with the id list made the planner hash the whole table)."""
    rows = conn.execute(
        "SELECT pt.patient_id, pt.practice_id,"
        " coalesce((SELECT array_agg(c.icd10) FROM chronic_conditions c WHERE c.patient_id = pt.patient_id"
        "   AND (c.onset IS NULL OR c.onset <= %(on)s) AND (c.resolved_on IS NULL OR c.resolved_on >"
        " %(on)s)),"
        "   '{}'),"
        " (SELECT v.alert_thresholds FROM care_plan_versions v WHERE v.patient_id = pt.patient_id"
        "   ORDER BY v.version DESC LIMIT 1),"
        " o.overrides"
        " FROM patients pt LEFT JOIN alert_rule_overrides o ON o.practice_id = pt.practice_id"
        " WHERE pt.patient_id = ANY(%(patients)b::uuid[])",
        {"patients": list(patient_ids), "on": on.date()},
    ).fetchall()
    found = {row[0]: row for row in rows}
    missing = [str(p) for p in patient_ids if p not in found]
    if missing:
        raise LoadError(f"unknown patients: {', '.join(missing)}")
    ordered = [found[p] for p in patient_ids]
    practices: dict[uuid.UUID, Overrides] = {}
    patient_overrides: list[Overrides] = []
    problems: dict[int, RuleConfigError] = {}
    for index, (patient_id, practice_id, _codes, thresholds, practice_doc) in enumerate(ordered):
        if practice_doc and practice_id not in practices:
            # Validated when written (alerts.service.set_practice_overrides); a bad row is a bug, not input.
            practices[practice_id] = validate_overrides(practice_doc, f"practice {practice_id} overrides")
        if not thresholds:
            patient_overrides.append({})
            continue
        try:
            patient_overrides.append(
                validate_overrides(thresholds, f"care plan alert_thresholds of {patient_id}")
            )
        except RuleConfigError as exc:
            problems[index] = exc
            patient_overrides.append({})
    return PatientContext(
        patient_ids=list(patient_ids),
        practice_ids=[row[1] for row in ordered],
        conditions=[frozenset(row[2]) for row in ordered],
        patient_overrides=patient_overrides,
        practice_overrides=practices,
        config_problems=problems,
    )
