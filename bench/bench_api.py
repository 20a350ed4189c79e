"""Care-team API latency under load (not a test): p50/p99 of the queue page, the patient list and a 90-day
daily trend, at 1 and 50 concurrent clients, against a scratch database of N readings for M patients.

    .venv/bin/python bench/bench_api.py                      # 10 million readings, 20,000 patients
    .venv/bin/python bench/bench_api.py --readings 1000000   # a quick run
    .venv/bin/python bench/bench_api.py --keep               # keep the scratch database, then:
    .venv/bin/python bench/bench_api.py --database bench_api_1234abcd --runs 3 --workers 2

Data is generated with COPY into a scratch database (dropped afterwards unless --keep). The API runs as
`rpm api run` in a subprocess on a free loopback port. The load generator is wrk (Debian package `wrk`):
C, one keep-alive connection per client, a small share of the cores next to the server; the server and
wrk still share the machine, so the load average is printed beside each figure (at the start and the end
of the scenario: the bench's own 50 clients raise it too). Each figure is the median of --runs timed runs
of --seconds each, after an untimed warm-up. Any answer other than 2xx, a socket error, an answer later
than half a run, or a run with fewer answers than clients (a stalled server: wrk counts only answers) is
reported in the table and makes the bench exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
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
# clients / rate against the mean latency of the answers: equal when every request is answered; the slack
# covers the requests still out when a run ends (one per client) and timer granularity.
STALL_RATIO = 1.25
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# wrk's Lua side: every thread rotates over the request paths from its own offset (so concurrent clients ask
# for different patients), counts answers outside 2xx, and done() prints one line of JSON for the bench.
# The paths file holds the bearer token on its first line and one path per line after it.
WRK_SCRIPT = """
local threads, created = {}, 0
function setup(thread)
  thread:set("id", created)
  created = created + 1
  table.insert(threads, thread)
end
local prepared, position = {}, 1
non2xx = 0
function init(args)
  local lines = io.lines(args[1])
  local headers = {["Authorization"] = "Bearer " .. lines()}
  for path in lines do prepared[#prepared + 1] = wrk.format("GET", path, headers) end
  position = (id * 7919) % #prepared + 1
end
function request()
  local r = prepared[position]
  position = position % #prepared + 1
  return r
end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d,'
    .. ' "p50_us": %d, "p99_us": %d, "mean_us": %.0f}\\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True)
class Measured:
    """One wrk run: latencies in ms, throughput, and every answer that was not a 2xx."""

    requests: int
    rate: float
    p50: float
    p99: float
    mean: float
    non2xx: int
    socket_errors: int

    def stalled(self, clients: int) -> bool:
        """Whether time went unanswered. Each client always has a request out, so the answers' mean latency
        is clients / rate; wrk averages only the answers it got, so a mean well below that means requests
        waited without being answered (one stalled connection among fast ones hides in the percentiles)."""
        return self.requests > 0 and clients / self.rate * 1000 > STALL_RATIO * self.mean


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit("bench_api.py needs the wrk load generator: apt-get install wrk")
    return found


def run_wrk(
    wrk: str, script: Path, url: str, paths_file: Path, clients: int, seconds: float, timeout: int
) -> Measured:
    """`clients` keep-alive connections for `seconds`, spread over at most two wrk threads (one per core:
    the generator stays a small share of the machine). An answer later than `timeout` seconds counts as an
    error, not as a latency."""
    command = [
        wrk,
        f"-t{min(2, clients)}",
        f"-c{clients}",
        f"-d{seconds:g}s",
        "--timeout",
        f"{timeout}s",
        "-s",
        str(script),
        url,
        "--",
        str(paths_file),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    out = json.loads(line.removeprefix("BENCH "))
    return Measured(
        requests=out["requests"],
        rate=out["requests"] / (out["duration_us"] / 1e6),
        p50=out["p50_us"] / 1000,
        p99=out["p99_us"] / 1000,
        mean=out["mean_us"] / 1000,
        non2xx=out["non2xx"],
        socket_errors=out["socket_errors"],
    )


def scenario_row(
    wrk: str, script: Path, base: str, paths_file: Path, label: str, clients: int, args: argparse.Namespace
) -> tuple[str, bool]:
    """A warm-up, then --runs timed runs; the table row of their medians, and whether every answer was 2xx."""
    load_before = os.getloadavg()[0]
    timeout = max(1, int(args.seconds // 2))
    runs = [run_wrk(wrk, script, base, paths_file, clients, args.warmup, timeout)]
    runs += [run_wrk(wrk, script, base, paths_file, clients, args.seconds, timeout) for _ in range(args.runs)]
    p50, p99, mean, rate, count = np.median(
        [(m.p50, m.p99, m.mean, m.rate, m.requests) for m in runs[1:]], axis=0
    )
    problems = ", ".join(
        f"{n:,} {text}"
        for text, n in (
            ("answered other than 2xx", sum(m.non2xx for m in runs)),
            ("socket errors or late answers", sum(m.socket_errors for m in runs)),
            # wrk sees only answers: a request never answered is no error to it, only a missing count
            ("runs with fewer answers than clients", sum(m.requests < clients for m in runs[1:])),
            ("runs with unanswered time", sum(m.stalled(clients) for m in runs[1:])),
        )
        if n
    )
    row = (
        f"| {label}{f' (FAILED: {problems})' if problems else ''} | {clients} | {count:,.0f}"
        f" | {p50:.1f} | {p99:.1f} | {mean:.1f} | {rate:.0f} | {load_before:.1f} / {os.getloadavg()[0]:.1f} |"
    )
    return row, not problems


def start_server(url: str, workers: int | None, pool_size: int) -> tuple[subprocess.Popen, str]:
    """`rpm api run` on a free loopback port, once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "RPM_API_SESSION_SECRET": secrets.token_urlsafe(48),
        "RPM_API_POOL_MAX_SIZE": str(pool_size),
    }
    command = [sys.executable, "-m", "rpmctl.main", "api", "run", "--port", str(port), "--database-url", url]
    if workers is not None:
        command += ["--workers", str(workers)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # every worker imports the app; slow on a busy machine
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=5)
            break
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError(f"the API server exited with {proc.returncode}") from None
            time.sleep(0.2)
    time.sleep(2)  # the other workers
    return proc, base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15, help="length of each timed run")
    parser.add_argument("--warmup", type=float, default=3, help="untimed seconds before each scenario")
    parser.add_argument("--database-url", help="server to create the scratch database on")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--database", help="reuse this database filled by an earlier --keep run (kept)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure; the median is shown")
    parser.add_argument("--clients", default="1,50", help="concurrencies, comma-separated")
    parser.add_argument("--workers", type=int, help="`rpm api run --workers` (default: its own)")
    parser.add_argument(
        "--pool-size", type=int, default=20, help="RPM_API_POOL_MAX_SIZE: connections shared by the workers"
    )
    parser.add_argument("--only", help="run only the scenarios whose label contains this")
    args = parser.parse_args()
    wrk = wrk_binary()
    server = _server_url(args)
    name = args.database or f"bench_api_{uuid.uuid4().hex[:8]}"
    keep = args.keep or args.database is not None
    if args.database is None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    proc = None
    failed = False
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
        proc, base = start_server(url, args.workers, args.pool_size)
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
            f"\nserver: {args.workers or 'default'} worker process(es), {args.pool_size} connections;"
            f" load generator: wrk; {args.seconds:g} s per run, median of {args.runs} run(s)\n"
            "| scenario | clients | requests per run | p50 ms | p99 ms | mean ms | req/s"
            " | load 1 min: start / end |\n"
            "|---|---|---|---|---|---|---|---|"
        )
        with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
            script = Path(tmp) / "rotate.lua"
            script.write_text(WRK_SCRIPT)
            for label, paths in scenarios.items():
                if args.only and args.only not in label:
                    continue
                paths_file = Path(tmp) / "paths.txt"
                paths_file.write_text("\n".join([token, *paths]) + "\n")
                for clients in (int(c) for c in args.clients.split(",")):
                    row, ok = scenario_row(wrk, script, base, paths_file, label, clients, args)
                    print(row, flush=True)
                    failed = failed or not ok
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    if failed:
        print("FAILED: see the rows marked FAILED (answers not 2xx, late or missing)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
