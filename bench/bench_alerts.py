"""Benchmark of the alert engine (not a test): `.venv/bin/python bench/bench_alerts.py`.

1. In memory: 1,000,000 readings of 10,000 patients over 30 days, every reading rule, vectorized engine vs
   the plain reference loop of tests/test_alerts_reference.py. The reference is timed on a subset of patients
   and scaled linearly by readings (said so in the output); medians of several runs. Two populations: no
   conditions (the rules for diabetes and heart failure apply to nobody, so neither implementation runs
   them) and a mix of conditions (every rule runs for some patients).
2. Database: the same population in TimescaleDB (a scratch database on the local stack), stored patient by
   patient or, with `--layout arrival`, in the order readings arrive; one committed batch of 1,000 readings
   evaluated by `alerts.pipeline.evaluate_patients`, timed by phase: lock (advisory locks), read (the readings
   window and the context), evaluate (rules and alert requests), write (alert writes and auto-resolution).
   "lock + read + evaluate" is what the < 50 ms target covers; it is also given in CPU time of this process
   and of its database server process (as many batches again), which other workloads on the machine inflate
   far less than the wall clock. Batches: realistic (1,000 readings over 500 patients, mixed kinds, mostly
   normal values) and worst case (1,000 patients, every reading an elevated blood pressure, so every reading
   is evidence). Also the time-based queries that decide whether rollups are needed.

The machine's load average is printed beside each figure: other workloads on a small machine skew them.
`--skip-memory` runs the database part only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
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
from alerts.settings import PatientContext, default_context
from alerts.window_cache import WindowCache
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


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


CONDITION_MIX = (
    (0.45, frozenset()),
    (0.25, frozenset({"E11.9", "I10"})),
    (0.15, frozenset({"I50.9"})),
    (0.15, frozenset({"I50.22", "E11.65"})),
)
"""Conditions of the mixed population: diabetes (glucose_high, repeat and fasting-mean rules) and heart
failure (weight-gain rules)."""


def with_conditions(context: PatientContext, seed: int = 3) -> PatientContext:
    rng = np.random.default_rng(seed)
    shares = [share for share, _ in CONDITION_MIX]
    picks = rng.choice(len(CONDITION_MIX), len(context), p=shares)
    return PatientContext(
        context.patient_ids,
        context.practice_ids,
        [CONDITION_MIX[i][1] for i in picks],
        context.patient_overrides,
    )


def in_memory(runs: int, subset: int) -> None:
    readings = synthetic(PATIENTS, PER_PATIENT)
    small = synthetic(subset, PER_PATIENT, seed=11)
    plain = default_context([uuid.uuid4() for _ in range(PATIENTS)], uuid.uuid4())
    print(
        f"\nIn memory: {len(readings):,} readings, {PATIENTS:,} patients, 30-day windows, all 19"
        f" reading rules; reference loop on {subset} patients ({len(small):,} readings),"
        f" scaled x{len(readings) / len(small):.0f}"
    )
    print("| population | vectorized (median) | readings/s | reference loop (scaled) | ratio | load |")
    print("|---|---|---|---|---|---|")
    for name, context in (("no conditions", plain), ("mixed conditions", with_conditions(plain))):
        evaluate(readings, context)  # warm up
        vec = median_time(lambda c=context: evaluate(readings, c), runs)
        small_context = PatientContext(
            context.patient_ids[:subset],
            context.practice_ids[:subset],
            context.conditions[:subset],
            context.patient_overrides[:subset],
        )
        ref_small = median_time(lambda c=small_context: reference(small, c), runs)
        ref = ref_small * len(readings) / len(small)
        print(
            f"| {name} | {vec * 1000:,.0f} ms | {len(readings) / vec:,.0f} | {ref:,.1f} s"
            f" | {ref / vec:,.0f}x | {load()} |"
        )


def _scratch(url: str) -> tuple[str, str]:
    name = f"bench_alerts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


LAYOUTS = {"patient": "x.n, x.g", "arrival": "x.at"}
"""How the population is stored: patient by patient (each patient's readings on a few pages: the cheapest
window to read), or in the order readings arrive (by time, patients interleaved, as ingest writes them:
about one page per reading of the window)."""


def _populate(conn: psycopg.Connection, layout: str) -> list[uuid.UUID]:
    """PER_PATIENT readings over 30 days for each of PATIENTS patients, at times drawn per reading, stored in
    the `layout` order. The first half has home blood pressure around 127/78 (the realistic batches use them),
    the second half around 140/82, above the 7-day mean targets (the worst-case batches use them)."""
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
        " SELECT x.at, gen_random_uuid(), x.patient_id, 'd', 'h', x.k, 'ble',"
        "  CASE WHEN x.k = 'blood_pressure' THEN round(CASE WHEN x.n <= %(half)s THEN 112 + random() * 30"
        "   ELSE 120 + random() * 40 END) END,"
        "  CASE WHEN x.k = 'blood_pressure' THEN round(CASE WHEN x.n <= %(half)s THEN 68 + random() * 20"
        "   ELSE 70 + random() * 25 END) END,"
        "  CASE WHEN x.k = 'blood_pressure' THEN round(60 + random() * 30) END,"
        "  CASE WHEN x.k = 'glucose' THEN round(90 + random() * 120) END,"
        "  CASE WHEN x.k = 'weight' THEN round((80 + random())::numeric, 1) END, 'x', 'device', x.at,"
        "  %(now)s - interval '1 hour',"
        "  CASE WHEN x.k = 'glucose' AND random() < 0.4 THEN 'preprandial' END"
        " FROM (SELECT p.patient_id, p.mrn::int AS n, g, %(now)s - random() * interval '30 days' AS at,"
        "  (ARRAY['blood_pressure', 'blood_pressure', 'glucose', 'weight'])[1 + (g %% 4)] AS k"
        "  FROM patients p, generate_series(1, %(per)s) g) x"
        f" ORDER BY {LAYOUTS[layout]}",
        {"half": PATIENTS // 2, "now": NOW, "per": PER_PATIENT},
    )
    conn.execute("ANALYZE readings")
    return patients


_COPY_BATCH = (
    "COPY readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source, systolic_mmhg,"
    " diastolic_mmhg, pulse_bpm, glucose_mg_dl, weight_kg, meal, device_unit, time_source, received_at,"
    " ingested_at) FROM STDIN"
)


def _batch(conn: psycopg.Connection, patients: list[uuid.UUID], at: datetime, worst: bool, seed: int) -> None:
    """1,000 readings for `patients`, committed. Realistic: half blood pressure, a quarter each glucose and
    weight, values drawn around normal (a few percent out of range). Worst case: every reading an elevated
    blood pressure."""
    rng = np.random.default_rng(seed)
    per = 1000 // len(patients)
    with conn.transaction(), conn.cursor().copy(_COPY_BATCH) as copy:
        for patient in patients:
            for i in range(per):
                t = at - timedelta(minutes=i)
                kind = (
                    "blood_pressure"
                    if worst
                    else str(rng.choice(["blood_pressure", "glucose", "weight"], p=[0.5, 0.25, 0.25]))
                )
                sbp = dbp = pulse = glucose = weight = meal = None
                if worst:
                    sbp, dbp, pulse = 150 + i % 40, 95, 70
                elif kind == "blood_pressure":
                    sbp, dbp, pulse = (
                        round(rng.normal(126, 10)),
                        round(rng.normal(78, 6)),
                        round(rng.normal(72, 8)),
                    )
                elif kind == "glucose":
                    glucose, meal = round(rng.normal(125, 30)), "preprandial" if rng.random() < 0.4 else None
                else:
                    weight = round(float(rng.normal(80.5, 0.4)), 1)
                copy.write_row(
                    (
                        t,
                        uuid.uuid4(),
                        patient,
                        "d",
                        "h",
                        kind,
                        "ble",
                        sbp,
                        dbp,
                        pulse,
                        glucose,
                        weight,
                        meal,
                        "x",
                        "device",
                        t,
                        at,
                    )
                )


PHASES = ("lock", "read", "evaluate", "write")


def _cpu_timer(conn: psycopg.Connection) -> Callable[[], float] | None:
    """CPU seconds of this process plus the server process of `conn` (Linux schedstat, when the server runs
    on this machine): work done, whatever else the machine is running."""
    path = Path(f"/proc/{conn.info.backend_pid}/schedstat")
    try:
        path.read_text()
    except OSError:
        return None
    return lambda: time.process_time() + int(path.read_text().split()[0]) / 1e9


MODES = ("read whole", "kept windows")
"""How the batch's readings windows are read: whole from the database (`rpm alerts evaluate`, the catch-up
after a start), or from the windows a running `rpm alerts run` kept from the patients' earlier batches and
the readings ingested since (alerts/window_cache.py)."""


@dataclass
class _Figures:
    phases: dict[str, list[float]] = field(default_factory=lambda: {phase: [] for phase in PHASES})
    before_write: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rows: int = 0
    alerts: int = 0


def _evaluate(
    conn: psycopg.Connection,
    chosen: list[uuid.UUID],
    now: datetime,
    windows: WindowCache | None,
    figures: _Figures,
    cpu_timer: Callable[[], float] | None,
) -> None:
    """One evaluation of the committed batch, rolled back (both modes evaluate the same state)."""
    with conn.transaction(force_rollback=True):
        if cpu_timer is not None:
            result = evaluate_patients(conn, chosen, now, now, timer=cpu_timer, windows=windows)
            figures.cpu.append(sum(result.seconds[p] for p in ("lock", "read", "evaluate")))
            return
        t0 = time.perf_counter()
        result = evaluate_patients(conn, chosen, now, now, windows=windows)
        figures.totals.append(time.perf_counter() - t0)
    for phase in PHASES:
        figures.phases[phase].append(result.seconds[phase])
    figures.before_write.append(sum(result.seconds[p] for p in ("lock", "read", "evaluate")))
    figures.rows = result.readings
    figures.alerts = len(result.outcome.opened) + len(result.outcome.updated)


def _scenario(
    conn: psycopg.Connection, patients: list[uuid.UUID], spread: int, worst: bool, runs: int, offset: int
) -> None:
    """`runs` batches timed by the wall clock, then `runs` more by CPU time (fresh patients each batch while
    the half of the population lasts, then again from its start). Each batch is evaluated in both MODES, in
    alternating order; the kept windows were read before the batch was committed."""
    figures = {mode: _Figures() for mode in MODES}
    loads: list[float] = []
    cpu_timer = _cpu_timer(conn)
    for run in range(2 * runs if cpu_timer else runs):
        start = offset + (run * spread) % (PATIENTS // 2 - spread + 1)
        chosen = patients[start : start + spread]
        now = NOW + timedelta(seconds=offset + run + 1)
        windows = WindowCache()
        with conn.transaction():
            windows.read(conn, sorted(chosen), now - timedelta(minutes=5))
        _batch(conn, chosen, now, worst, seed=offset + run)
        timer = cpu_timer if run >= runs else None
        for mode in MODES if run % 2 else reversed(MODES):
            kept = windows if mode == "kept windows" else None
            _evaluate(conn, chosen, now, kept, figures[mode], timer)
        if timer is None:
            t0 = time.perf_counter()
            load_readings(conn, sorted(chosen), now)  # the window again, warm: the query alone
            loads.append(time.perf_counter() - t0)
    for mode, f in figures.items():
        ms = {phase: statistics.median(values) * 1000 for phase, values in f.phases.items()}
        target = statistics.median(f.before_write) * 1000
        cpu_ms = f"{statistics.median(f.cpu) * 1000:.1f}" if f.cpu else "n/a"
        name = ("worst case" if worst else "realistic") + f", {mode}"
        print(
            f"| {name}: {spread:,} patients | {f.rows:,} | {f.alerts:,} | {ms['lock']:.1f} | {ms['read']:.1f}"
            f" ({statistics.median(loads) * 1000:.1f}) | {ms['evaluate']:.1f} | **{target:.1f}**"
            f" {'<' if target < 50 else '>='} 50 | {cpu_ms} | {ms['write']:.1f}"
            f" | {statistics.median(f.totals) * 1000:.1f} | {load()} |"
        )


def database(url: str, runs: int, layout: str) -> None:
    name, scratch = _scratch(url)
    try:
        from database.migrate import migrate

        migrate(scratch)
        with psycopg.connect(scratch, autocommit=True) as conn:
            start = time.perf_counter()
            patients = _populate(conn, layout)
            stored = "patient by patient" if layout == "patient" else "in arrival order"
            print(
                f"\nDatabase: {PATIENTS * PER_PATIENT:,} readings stored {stored}, loaded in"
                f" {time.perf_counter() - start:.0f} s; one committed batch of 1,000 readings,"
                f" medians of {runs} runs (ms)"
            )
            print(
                "| batch | rows in window | alerts opened or updated (last run) | lock | read (query alone,"
                " warm) | evaluate | lock + read + evaluate, target < 50 | the same in CPU time (client +"
                " server) | write | end to end | load |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            _scenario(conn, patients, 500, False, runs, 0)
            _scenario(conn, patients, 1000, True, runs, PATIENTS // 2)
            q = median_time(
                lambda: conn.execute(
                    "SELECT p.id, (SELECT max(measured_at) FROM readings r WHERE r.patient_id = p.id)"
                    " FROM unnest(%s::uuid[]) p(id)",
                    (patients,),
                ).fetchall(),
                runs,
            )
            print(f"latest reading of {PATIENTS:,} patients (no_data check): {q * 1000:.0f} ms ({load()})")
            q = median_time(
                lambda: conn.execute(
                    "SELECT p.id, (SELECT count(DISTINCT (measured_at AT TIME ZONE 'America/Chicago')::date)"
                    " FROM readings r WHERE r.patient_id = p.id AND r.measured_at > %s - interval '30 days')"
                    " FROM unnest(%s::uuid[]) p(id)",
                    (NOW, patients),
                ).fetchall(),
                runs,
            )
            print(f"30-day data days of {PATIENTS:,} patients (RPM projection): {q * 1000:.0f} ms ({load()})")
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
    parser.add_argument("--skip-memory", action="store_true", help="only the database part")
    parser.add_argument(
        "--layout", choices=sorted(LAYOUTS), default="patient", help="how the population is stored"
    )
    args = parser.parse_args()
    if not args.skip_memory:
        in_memory(args.runs, args.subset)
    if not args.skip_database:
        url = args.database_url
        if url is None:
            from rpmctl.services.endpoints import resolve
            from rpmctl.services.layout import StateLayout

            url = resolve(StateLayout.from_environment()).database_url
        database(url, args.runs, args.layout)


if __name__ == "__main__":
    main()
