"""Benchmark of the alert engine (not a test): `.venv/bin/python bench/bench_alerts.py`.

1. In memory: 1,000,000 readings of 10,000 patients over 30 days, every reading rule, vectorized engine vs
   the plain reference loop of tests/test_alerts_reference.py. The reference is timed on a subset of patients
   and scaled linearly by readings (said so in the output); medians of several runs.
2. Database: the same population in TimescaleDB (a scratch database on the local stack); one committed
batch of
   1,000 readings evaluated end to end (advisory locks, ONE readings query, context query, rules, alert
   writes), for a batch spread over 1,000 patients and one over 100 patients. Also the time-based queries that
   decide whether rollups are needed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.engine import evaluate
from alerts.loader import load_readings
from alerts.pipeline import evaluate_patients
from alerts.readings import MS_PER_DAY, Readings, from_columns
from alerts.settings import default_context
from tests.test_alerts_reference import reference

PATIENTS = 10_000
PER_PATIENT = 100
NOW = datetime.now(UTC).replace(microsecond=0)


def synthetic(patients: int, per_patient: int, seed: int = 7) -> Readings:
    rng = np.random.default_rng(seed)
    n = patients * per_patient
    seg = np.repeat(np.arange(patients), per_patient)
    t = int(NOW.timestamp() * 1000) - rng.integers(0, 30 * MS_PER_DAY, n)
    kind = rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2])
    drift = rng.normal(0, 1, patients)[seg]
    raw = {
        "systolic": np.round(rng.normal(132 + 8 * drift, 14, n)),
        "diastolic": np.round(rng.normal(82 + 4 * drift, 9, n)),
        "pulse": np.round(rng.normal(74, 12, n)),
        "glucose": np.round(rng.normal(140 + 20 * drift, 45, n)),
        "weight": np.round(rng.normal(85 + 10 * drift, 0.8, n), 1),
    }
    for name, k in (("systolic", 0), ("diastolic", 0), ("pulse", 0), ("glucose", 1), ("weight", 2)):
        raw[name][kind != k] = np.nan
    ids = np.frombuffer(rng.bytes(16 * n), dtype="V16").copy()
    return from_columns(patients, seg, t, t, ids, kind, rng.choice([0, 8], n, p=[0.7, 0.3]), raw)


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_memory(runs: int, subset: int) -> None:
    readings = synthetic(PATIENTS, PER_PATIENT)
    context = default_context([uuid.uuid4() for _ in range(PATIENTS)], uuid.uuid4())
    vec = median_time(lambda: evaluate(readings, context), runs)
    small = synthetic(subset, PER_PATIENT, seed=11)
    small_context = default_context(context.patient_ids[:subset], context.practice_ids[0])
    ref_small = median_time(lambda: reference(small, small_context), max(1, runs // 2))
    ref = ref_small * len(readings) / len(small)
    print(
        f"\nIn memory: {len(readings):,} readings, {PATIENTS:,} patients, 30-day windows, all 19"
        f" reading rules"
    )
    print("| implementation | median time | readings/s |")
    print("|---|---|---|")
    print(f"| vectorized (numpy), {runs} runs | {vec * 1000:,.0f} ms | {len(readings) / vec:,.0f} |")
    print(
        f"| reference loop, {subset} patients ({len(small):,} readings)"
        f" scaled x{len(readings) / len(small):.0f}"
        f" | {ref:,.1f} s | {len(readings) / ref:,.0f} |"
    )
    print(f"ratio: {ref / vec:,.0f}x")


def _scratch(url: str) -> tuple[str, str]:
    name = f"bench_alerts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _populate(conn: psycopg.Connection) -> list[uuid.UUID]:
    practice = conn.execute("INSERT INTO practices (name) VALUES ('Bench') RETURNING practice_id").fetchone()[
        0
    ]
    conn.execute(
        "INSERT INTO patients (practice_id, mrn, given_name, family_name, timezone)"
        " SELECT %s, g::text, 'B', 'P', 'America/Chicago' FROM generate_series(1, %s) g",
        (practice, PATIENTS),
    )
    patients = [r[0] for r in conn.execute("SELECT patient_id FROM patients ORDER BY mrn::int")]
    conn.execute(
        "INSERT INTO readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source,"
        " systolic_mmhg, diastolic_mmhg, pulse_bpm, glucose_mg_dl, weight_kg, device_unit, time_source,"
        " received_at, ingested_at, meal)"
        " SELECT at, gen_random_uuid(), p.patient_id, 'd', 'h', k,"
        "  'ble', CASE WHEN k = 'blood_pressure' THEN round(120 + random() * 40) END,"
        "  CASE WHEN k = 'blood_pressure' THEN round(70 + random() * 25) END,"
        "  CASE WHEN k = 'blood_pressure' THEN round(60 + random() * 30) END,"
        "  CASE WHEN k = 'glucose' THEN round(90 + random() * 120) END,"
        "  CASE WHEN k = 'weight' THEN round((80 + random())::numeric, 1) END, 'x', 'device', at, %s"
        " - interval '1 hour',"
        "  CASE WHEN k = 'glucose' AND random() < 0.4 THEN 'preprandial' END"
        " FROM patients p, generate_series(1, %s) g,"
        " LATERAL (SELECT %s - random() * interval '30 days' AS at,"
        "  (ARRAY['blood_pressure', 'blood_pressure', 'glucose', 'weight'])[1 + (g %% 4)] AS k) x",
        (NOW, PER_PATIENT, NOW),
    )
    conn.execute("ANALYZE readings")
    return patients


def _batch(conn: psycopg.Connection, patients: list[uuid.UUID], at: datetime) -> None:
    per = 1000 // len(patients)
    with conn.cursor().copy(
        "COPY readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source, systolic_mmhg,"
        " diastolic_mmhg, pulse_bpm, device_unit, time_source, received_at, ingested_at) FROM STDIN"
    ) as copy:
        for patient in patients:
            for i in range(per):
                t = at - timedelta(minutes=i)
                copy.write_row(
                    (
                        t,
                        uuid.uuid4(),
                        patient,
                        "d",
                        "h",
                        "blood_pressure",
                        "ble",
                        150 + i % 40,
                        95,
                        70,
                        "x",
                        "device",
                        t,
                        at,
                    )
                )


def database(url: str, runs: int) -> None:
    name, scratch = _scratch(url)
    try:
        from database.migrate import migrate

        migrate(scratch)
        with psycopg.connect(scratch, autocommit=True) as conn:
            start = time.perf_counter()
            patients = _populate(conn)
            print(
                f"\nDatabase: {PATIENTS * PER_PATIENT:,} readings loaded"
                f" in {time.perf_counter() - start:.0f} s"
            )
            print("| batch of 1,000 readings | rows in window | load only (median) | end to end (median) |")
            print("|---|---|---|---|")
            for spread in (1000, 100):
                loads, totals, rows = [], [], 0
                for run in range(runs):
                    chosen = patients[run * spread : (run + 1) * spread]
                    now = NOW + timedelta(seconds=run + 1)
                    with conn.transaction():
                        _batch(conn, chosen, now)
                    t0 = time.perf_counter()
                    rows = len(load_readings(conn, sorted(chosen), now))
                    loads.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    with conn.transaction():
                        evaluate_patients(conn, chosen, now, now)
                    totals.append(time.perf_counter() - t0)
                print(
                    f"| {spread} patients | {rows:,} | {statistics.median(loads) * 1000:.1f} ms |"
                    f" {statistics.median(totals) * 1000:.1f} ms |"
                )
            q = median_time(
                lambda: conn.execute(
                    "SELECT p.id, (SELECT max(measured_at) FROM readings r WHERE r.patient_id = p.id)"
                    " FROM unnest(%s::uuid[]) p(id)",
                    (patients,),
                ).fetchall(),
                runs,
            )
            print(f"latest reading of {PATIENTS:,} patients (no_data check): {q * 1000:.0f} ms")
            q = median_time(
                lambda: conn.execute(
                    "SELECT p.id, (SELECT count(DISTINCT (measured_at AT TIME ZONE 'America/Chicago')::date)"
                    " FROM readings r WHERE r.patient_id = p.id AND r.measured_at > %s - interval '30 days')"
                    " FROM unnest(%s::uuid[]) p(id)",
                    (NOW, patients),
                ).fetchall(),
                runs,
            )
            print(f"30-day data days of {PATIENTS:,} patients (RPM projection): {q * 1000:.0f} ms")
    finally:
        _drop(url, name)


def _drop(url: str, name: str) -> None:
    """Drop the scratch database; an autovacuum worker still in it (after a million inserts) is waited for."""
    for _ in range(60):
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(1)
    print(f"could not drop scratch database {name}; drop it by hand")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--subset", type=int, default=100, help="patients for the reference loop")
    parser.add_argument("--database-url", help="default: the local stack's")
    parser.add_argument("--skip-database", action="store_true")
    args = parser.parse_args()
    in_memory(args.runs, args.subset)
    if not args.skip_database:
        url = args.database_url
        if url is None:
            from rpmctl.services.endpoints import resolve
            from rpmctl.services.layout import StateLayout

            url = resolve(StateLayout.from_environment()).database_url
        database(url, args.runs)


if __name__ == "__main__":
    main()
