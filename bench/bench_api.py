"""Care-team API latency under load (not a test): p50/p99 of the queue page, the patient list and a 90-day
daily trend, at 1 and 50 concurrent clients, against a scratch database of N readings for M patients.

    .venv/bin/python bench/bench_api.py                      # 10 million readings, 20,000 patients
    .venv/bin/python bench/bench_api.py --readings 1000000   # a quick run
    .venv/bin/python bench/bench_api.py --keep               # keep the scratch database, then:
    .venv/bin/python bench/bench_api.py --database bench_api_1234abcd --runs 3 --workers 2

Data is generated with COPY into a scratch database (dropped afterwards unless --keep). The API runs as
`rpm api run` in a subprocess on a free loopback port; the load generator is httpx in threads of this
process (one keep-alive connection per client), so on a small machine it competes with the server for
the cores: the load average is printed beside each figure. With --runs N each figure is the median of N runs.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRACTICES = 20
PASSWORD = "bench password for the api"
DAYS = 365


def _server_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return args.database_url
    from rpmctl.services.endpoints import resolve
    from rpmctl.services.layout import StateLayout

    return resolve(StateLayout.from_environment()).database_url


def load(url: str, patients: int, readings: int) -> tuple[list[str], list[list[uuid.UUID]]]:
    """Practices (one clinician each), patients, devices and readings (COPY); returns emails and ids."""
    from careteam_api.auth.passwords import hash_password
    from database.migrate import migrate

    migrate(url)
    hashed = hash_password(PASSWORD)
    emails, ids = [], []
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    per_patient = max(1, readings // patients)
    with psycopg.connect(url) as conn:
        for p in range(PRACTICES):
            (practice_id,) = conn.execute(
                "INSERT INTO practices (name) VALUES (%s) RETURNING practice_id", (f"bench {p}",)
            ).fetchone()
            email = f"clinician{p}.{uuid.uuid4().hex[:6]}@bench.example"
            conn.execute(
                "INSERT INTO users (practice_id, email, full_name, role, password_hash)"
                " VALUES (%s, %s, 'Bench clinician', 'clinician', %s)",
                (practice_id, email, hashed),
            )
            emails.append(email)
            chunk = [uuid.uuid4() for _ in range(patients // PRACTICES)]
            ids.append(chunk)
            with conn.cursor().copy(
                "COPY patients (patient_id, practice_id, mrn, given_name, family_name, timezone) FROM STDIN"
            ) as copy:
                for i, pid in enumerate(chunk):
                    copy.write_row(
                        (pid, practice_id, f"M{p}-{i}", f"Given{i}", f"Family{i:05d}", "America/Chicago")
                    )
            conn.execute(
                "INSERT INTO hubs (hub_id, practice_id) VALUES (%s, %s)", (f"bench-hub-{p}", practice_id)
            )
            conn.execute(
                "INSERT INTO devices (device_id, model, profile, hub_id) VALUES (%s, 'BP', 'bench', %s)",
                (f"bench-dev-{p}", f"bench-hub-{p}"),
            )
        conn.commit()
        started = time.monotonic()
        for p, chunk in enumerate(ids):
            with conn.cursor().copy(
                "COPY readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source,"
                " systolic_mmhg, diastolic_mmhg, pulse_bpm, device_unit, time_source, received_at) FROM STDIN"
            ) as copy:
                for pid in chunk:
                    offsets = np.sort(rng.uniform(0, DAYS * 86400, per_patient))
                    sys_ = rng.normal(135, 15, per_patient)
                    lines = []
                    for off, s in zip(offsets, sys_, strict=True):
                        at = (now - timedelta(seconds=float(off))).isoformat()
                        lines.append(
                            f"{at}\t{uuid.uuid4()}\t{pid}\tbench-dev-{p}\tbench-hub-{p}\tblood_pressure"
                            f"\tble\t{s:.0f}\t{s - 45:.0f}\t72\tmmHg\tdevice\t{at}\n"
                        )
                    copy.write("".join(lines))
            conn.commit()
            print(
                f"  practice {p + 1}/{PRACTICES}: {len(chunk) * per_patient:,} readings"
                f" ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
        conn.execute(
            "INSERT INTO alerts (practice_id, patient_id, rule,"
            " category, priority, state, opened_at, first_seen,"
            " last_seen, explanation, updated_at) SELECT practice_id,"
            " patient_id, 'bp_single_high', 'clinical',"
            " 'high', 'open', now() - interval '1 hour', now() - interval '1 day', now(),"
            ' \'{"summary": "bench"}\', now() FROM patients TABLESAMPLE BERNOULLI (2)'
        )
        conn.commit()
        conn.execute("ANALYZE")
    return emails, ids


def existing(url: str) -> tuple[list[str], list[list[uuid.UUID]]]:
    """The clinicians and patients of a database `load` filled earlier (--keep, then --database)."""
    emails, ids = [], []
    with psycopg.connect(url) as conn:
        practices = conn.execute(
            "SELECT practice_id FROM practices WHERE name LIKE 'bench %' ORDER BY substr(name, 7)::int"
        ).fetchall()
        for (practice_id,) in practices:
            (email,) = conn.execute(
                "SELECT email FROM users WHERE practice_id = %s ORDER BY email LIMIT 1", (practice_id,)
            ).fetchone()
            emails.append(email)
            rows = conn.execute("SELECT patient_id FROM patients WHERE practice_id = %s", (practice_id,))
            ids.append([r[0] for r in rows])
        (count,) = conn.execute("SELECT count(*) FROM readings").fetchone()
    print(f"{count:,} readings for {sum(map(len, ids)):,} patients", flush=True)
    return emails, ids


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_load(base: str, token: str, paths: list[str], clients: int, requests: int) -> list[float]:
    """`clients` threads, each with its own keep-alive connection, share `requests` requests.
    Latencies of answers other than 200 are returned negative, so they are counted but not ranked."""
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [requests]

    def worker() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                path = random.choice(paths)
                start = time.perf_counter()
                try:
                    ok = client.get(path).status_code == 200
                except httpx.TransportError:  # a timeout counts as an error, it does not end the run
                    ok = False
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies.append(elapsed if ok else -elapsed)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario and concurrency")
    parser.add_argument("--database-url", help="server to create the scratch database on")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--database", help="reuse this database filled by an earlier --keep run (kept)")
    parser.add_argument("--runs", type=int, default=1, help="timed runs per figure; the median is shown")
    parser.add_argument("--clients", default="1,50", help="concurrencies, comma-separated")
    parser.add_argument("--workers", type=int, help="`rpm api run --workers` (default: its own)")
    parser.add_argument("--only", help="run only the scenarios whose label contains this")
    args = parser.parse_args()
    server = _server_url(args)
    name = args.database or f"bench_api_{uuid.uuid4().hex[:8]}"
    keep = args.keep or args.database is not None
    if args.database is None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    proc = None
    try:
        if args.database is None:
            print(
                f"loading {args.readings:,} readings for {args.patients:,} patients into {name}", flush=True
            )
            started = time.monotonic()
            emails, ids = load(url, args.patients, args.readings)
            print(f"loaded in {time.monotonic() - started:.0f} s", flush=True)
        else:
            emails, ids = existing(url)
        port = free_port()
        env = {
            **os.environ,
            "RPM_API_SESSION_SECRET": secrets.token_urlsafe(48),
            "RPM_API_POOL_MAX_SIZE": "20",
        }
        command = [
            sys.executable,
            "-m",
            "rpmctl.main",
            "api",
            "run",
            "--port",
            str(port),
            "--database-url",
            url,
        ]
        if args.workers is not None:
            command += ["--workers", str(args.workers)]
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180  # every worker imports the app; slow on a busy machine
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        time.sleep(2)  # the other workers
        token = httpx.post(
            f"{base}/api/v1/auth/tokens", json={"email": emails[0], "password": PASSWORD}, timeout=60
        ).json()["access_token"]
        scenarios = {
            "queue page (HTML)": ["/queue"],
            "patient list (50, latest vitals, alerts)": ["/api/v1/patients?limit=50"],
            "trend 90 days, daily buckets": [
                f"/api/v1/patients/{pid}/trends?bucket=day&days=90" for pid in ids[0]
            ],
        }
        print(
            f"\n| scenario | clients | requests | p50 ms | p99 ms | req/s | load avg |"
            f" (median of {args.runs} run(s))\n|---|---|---|---|---|---|---|"
        )
        for label, paths in scenarios.items():
            if args.only and args.only not in label:
                continue
            for clients in (int(c) for c in args.clients.split(",")):
                run_load(base, token, paths, clients, min(100, args.requests))  # warm up
                figures, errors = [], 0
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    timed = run_load(base, token, paths, clients, args.requests)
                    rate = len(timed) / (time.perf_counter() - t0)
                    lat = [t for t in timed if t >= 0] or [float("nan")]
                    errors += len(timed) - len(lat)
                    figures.append((*np.percentile(lat, [50, 99]), rate))
                p50, p99, rate = np.median(np.array(figures), axis=0)
                label_errors = f" ({errors} answered other than 200)" if errors else ""
                print(
                    f"| {label}{label_errors} | {clients} | {args.requests} x {args.runs} | {p50:.1f}"
                    f" | {p99:.1f} | {rate:.0f} | {load_average()} |",
                    flush=True,
                )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
