"""Soak: thousands of simulated homes for an hour through the real broker, ingest, alert engine and API.

Run: `.venv/bin/python bench/soak.py` (10,000 homes, 60 minutes; `--homes`, `--minutes`, `--rate`).
Not a test and not in CI; see bench/README.md ("Soak") for what it reports and how to read it.

The soak runs beside the development stack, not inside it: a Mosquitto of its own (state under
`/var/lib/rpm-gateway/soak`, ports 18930 / 18983) so that 10,000 hub accounts never weigh on the broker the
tests use, and a scratch database on the local TimescaleDB (dropped at the end unless `--keep`). Hub accounts
are written into the stopped soak broker's files once and reused by later runs.

What runs, each as the real command in its own process: `rpm ingest run` (N workers, one share group),
`rpm alerts run`, `rpm api run` (polled once a second as a care manager would: the alert queue), and
`rpm sim fleet` (the homes). A sampler records memory and CPU of every process every `--sample-s` seconds.
At the end, once the fleet stopped and ingest drained: readings stored vs sent (must be equal), latency from
the hub's publish to the stored row and to the alert it raised (p50/p99), dead letters and parked readings.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from bench.scratch import scratch_database  # noqa: E402
from rpmctl.services.stack import LocalStack  # noqa: E402

SOAK_STATE_DIR = Path("/var/lib/rpm-gateway/soak")
SOAK_MQTT_PORT, SOAK_MQTTS_PORT = 18930, 18983
HUB_PREFIX = "soak"
PEAK_READINGS_PER_HOME = 4
"""A morning peak hour in which every home uploads its morning set: two blood-pressure readings, a glucose
reading and a weight. Real programmes average 1-3 readings a day per patient, spread over the morning hours,
so this is several times a typical hour; `--rate` sets any other."""
PASSWORD = "soak care manager password"
DRAIN_TIMEOUT_S = 600.0


# --- the environment every child process shares ---
def soak_environment(database_url: str) -> dict[str, str]:
    """The soak broker (state dir and ports) and the scratch database, for `rpm` and this process alike."""
    return {
        "RPM_STATE_DIR": str(SOAK_STATE_DIR),
        "RPM_MQTT_PORT": str(SOAK_MQTT_PORT),
        "RPM_MQTTS_PORT": str(SOAK_MQTTS_PORT),
        "RPM_DATABASE_URL": database_url,
    }


# --- seeding: one patient per home, its three devices assigned ---
CONDITIONS = (("I10", 1.0), ("E11.9", 0.35), ("I50.9", 0.2))
"""Share of patients with each condition: everyone hypertensive, a third diabetic, a fifth heart failure."""


def seed(url: str, hub_ids: list[str]) -> str:
    """A practice, a care manager (email returned) and a patient per home with conditions and devices."""
    from careteam_api.auth.passwords import hash_password
    from simulators.fleet.traffic import DEVICES, device_id_for

    email = f"care.manager.{uuid.uuid4().hex[:6]}@soak.example"
    with psycopg.connect(url) as conn, conn.transaction():
        (practice_id,) = conn.execute(
            "INSERT INTO practices (name) VALUES ('Soak practice') RETURNING practice_id"
        ).fetchone()
        conn.execute(
            "INSERT INTO users (practice_id, email, full_name, role, password_hash)"
            " VALUES (%s, %s, 'Soak care manager', 'care_manager', %s)",
            (practice_id, email, hash_password(PASSWORD)),
        )
        patients = [uuid.uuid5(uuid.NAMESPACE_URL, f"soak/{hub_id}") for hub_id in hub_ids]
        cur = conn.cursor()
        with cur.copy("COPY hubs (hub_id, practice_id) FROM STDIN") as copy:
            for hub_id in hub_ids:
                copy.write_row((hub_id, practice_id))
        with cur.copy(
            "COPY patients (patient_id, practice_id, mrn, given_name, family_name, timezone) FROM STDIN"
        ) as copy:
            for i, patient in enumerate(patients):
                copy.write_row(
                    (patient, practice_id, f"S{i:05d}", "Soak", f"Patient{i:05d}", "America/Chicago")
                )
        with cur.copy("COPY devices (device_id, model, profile, hub_id) FROM STDIN") as copy:
            for hub_id in hub_ids:
                for kind, (_suffix, model, profile) in DEVICES.items():
                    copy.write_row((device_id_for(hub_id, kind), model, profile, hub_id))
        with cur.copy("COPY device_assignments (device_id, patient_id, valid) FROM STDIN") as copy:
            for hub_id, patient in zip(hub_ids, patients, strict=True):
                for kind in DEVICES:
                    copy.write_row((device_id_for(hub_id, kind), patient, "[2020-01-01,)"))
        with cur.copy(
            "COPY chronic_conditions (patient_id, icd10, expected_12_months, source) FROM STDIN"
        ) as copy:
            for i, patient in enumerate(patients):
                for icd10, share in CONDITIONS:
                    if (i * 7919 % 100) < share * 100:
                        copy.write_row((patient, icd10, True, "manual"))
    return email


# --- the processes ---
@dataclass
class Child:
    """One `rpm` process of the soak, its log file beside the report."""

    name: str
    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start(name: str, argv: list[str], env: dict[str, str], out: Path) -> Child:
    log = (out / f"{name}.log").open("wb")
    command = [sys.executable, "-m", "rpmctl.main", *argv]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Child(name, process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_api(base: str, child: Child, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"the API server exited with {child.process.returncode}; see api.log")
        try:
            httpx.get(f"{base}/openapi.json", timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.5)
    raise RuntimeError("the API server did not answer within 3 minutes")


# --- sampling memory and CPU ---
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _read_proc(pid: int) -> tuple[float, float, float] | None:
    """(RSS MiB, PSS MiB, CPU seconds) of one process, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024 if "VmRSS" in status else 0.0
    pss_match = re.search(r"^Pss:\s+(\d+)", rollup, re.M)
    pss = int(pss_match.group(1)) / 1024 if pss_match else 0.0
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return rss, pss, cpu


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class Sampler:
    """Memory and CPU of each named process group every `every_s` seconds, into a CSV."""

    path: Path
    every_s: float
    groups: dict[str, Callable[[], list[int]]] = field(default_factory=dict)
    """Process group name -> the pids in it now."""
    rows: list[dict[str, float | str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _cpu: dict[int, float] = field(default_factory=dict)

    def sample(self, started: float) -> None:
        now = time.monotonic()
        for name, pids_of in self.groups.items():
            rss = pss = cpu_delta = 0.0
            count = 0
            for pid in pids_of():
                values = _read_proc(pid)
                if values is None:
                    continue
                count += 1
                rss += values[0]
                pss += values[1]
                cpu_delta += values[2] - self._cpu.get(pid, values[2])
                self._cpu[pid] = values[2]
            if count:
                self.rows.append(
                    {
                        "t_s": round(now - started, 1),
                        "process": name,
                        "count": count,
                        "rss_mib": round(rss, 1),
                        "pss_mib": round(pss, 1),
                        "cpu_pct": round(100 * cpu_delta / self.every_s, 1),
                    }
                )

    def run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.every_s):
            self.sample(started)
            self.write()

    def write(self) -> None:
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, ["t_s", "process", "count", "rss_mib", "pss_mib", "cpu_pct"])
            writer.writeheader()
            writer.writerows(self.rows)

    def stop(self) -> None:
        self._stop.set()


def postgres_backends(url: str) -> list[int]:
    """The server processes serving the soak database right now (the pool's connections come and go)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
    except psycopg.Error:
        return []
    return [int(r[0]) for r in rows]


# --- the care manager at the console ---
@dataclass
class QueueProbe:
    """Polls the alert queue once a second through the API; the latencies show the API under the soak."""

    base: str
    token: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as client:
            while not self._stop.wait(1.0):
                began = time.perf_counter()
                try:
                    response = client.get("/api/v1/alerts", params={"limit": 50})
                    ok = response.status_code == 200
                except httpx.TransportError:
                    ok = False
                if ok:
                    self.latencies.append(time.perf_counter() - began)
                else:
                    self.failures += 1

    def stop(self) -> None:
        self._stop.set()


# --- the counts at the end ---
FLEET_SUMMARY = re.compile(
    r"sent (?P<messages>[\d,]+) messages \((?P<readings>[\d,]+) readings, (?P<statuses>[\d,]+) statuses\), "
    r"(?P<acknowledged>[\d,]+) acknowledged"
)


def fleet_counts(log: Path) -> dict[str, int]:
    match = FLEET_SUMMARY.search(log.read_text(errors="replace"))
    if match is None:
        raise RuntimeError(f"the fleet did not report what it sent; see {log}")
    return {k: int(v.replace(",", "")) for k, v in match.groupdict().items()}


def stored(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])


def wait_drained(url: str, expected: int) -> tuple[int, float]:
    """Poll until `expected` readings are stored or the count stops moving for a minute."""
    began = time.monotonic()
    last, last_change = -1, time.monotonic()
    while time.monotonic() - began < DRAIN_TIMEOUT_S:
        count = stored(url)
        if count >= expected:
            return count, time.monotonic() - began
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > 60:
            break
        time.sleep(1.0)
    return stored(url), time.monotonic() - began


OUTCOME_SQL = """
SELECT
  (SELECT count(*) FROM dead_letters),
  (SELECT count(*) FROM parked_readings),
  (SELECT count(DISTINCT reading_id) FROM readings),
  (SELECT count(*) FROM alerts),
  (SELECT count(*) FROM alert_evidence)
"""

LATENCY_SQL = """
SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - received_at))
FROM readings
"""

ALERT_LATENCY_SQL = """
SELECT percentile_cont(ARRAY[0.5, 0.99])
         WITHIN GROUP (ORDER BY extract(epoch FROM e.added_at - r.received_at)),
       count(*)
FROM alert_evidence e
JOIN readings r
  ON r.reading_id = CASE WHEN e.evidence_key ~ '^[0-9a-f-]{36}$' THEN e.evidence_key::uuid END
"""
"""Evidence rows are the readings that opened or fed an alert: hub publish (its `received_at`, taken just
before the publish) -> the engine's transaction that attached it, which commits right after."""


def outcome(url: str) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        dead, parked, distinct, alerts, evidence = conn.execute(OUTCOME_SQL).fetchone()
        stored_p = conn.execute(LATENCY_SQL).fetchone()[0] or [float("nan")] * 2
        alert_p, alert_n = conn.execute(ALERT_LATENCY_SQL).fetchone()
    alert_p = alert_p or [float("nan")] * 2
    return {
        "dead_letters": dead,
        "parked": parked,
        "distinct_readings": distinct,
        "alerts": alerts,
        "evidence": evidence,
        "stored_p50_ms": 1000 * stored_p[0],
        "stored_p99_ms": 1000 * stored_p[1],
        "alert_p50_ms": 1000 * alert_p[0],
        "alert_p99_ms": 1000 * alert_p[1],
        "alert_readings": alert_n,
    }


# --- the report ---
def memory_table(rows: list[dict[str, float | str]]) -> list[str]:
    """Per process group: RSS after the first sample, at half time, at the end, the peak, and mean CPU."""
    lines = [
        "| process | count | RSS first (MiB) | RSS middle | RSS last | RSS peak | PSS last | CPU mean |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = list(dict.fromkeys(str(r["process"]) for r in rows))
    for name in names:
        series = [r for r in rows if r["process"] == name]
        first, middle, last = series[0], series[len(series) // 2], series[-1]
        peak = max(float(r["rss_mib"]) for r in series)
        cpu = statistics.fmean(float(r["cpu_pct"]) for r in series[1:] or series)
        lines.append(
            f"| {name} | {last['count']} | {first['rss_mib']} | {middle['rss_mib']} | {last['rss_mib']} | "
            f"{peak:.1f} | {last['pss_mib']} | {cpu:.1f} % |"
        )
    return lines


def write_report(
    out: Path,
    args: argparse.Namespace,
    rate: float,
    facts: dict[str, float | int | str],
    rows: list[dict[str, float | str]],
) -> str:
    equal = facts["stored"] == facts["readings_sent"] == facts["distinct_readings"]
    text = "\n".join(
        [
            f"# Soak {facts['started']}",
            "",
            f"{args.homes:,} homes for {args.minutes:g} minutes at {rate:,.1f} readings/s and a status from "
            f"every home every {args.status_every:g} s; {args.workers} ingest workers; load average at the "
            f"end {facts['load']}.",
            "",
            "| what | figure |",
            "|---|---:|",
            f"| homes connected | {facts['connected']} |",
            f"| readings sent (acknowledged by the broker) | {facts['readings_sent']:,} |",
            f"| readings stored | {facts['stored']:,} |",
            f"| distinct readings stored | {facts['distinct_readings']:,} |",
            f"| stored == sent | {'yes' if equal else 'NO'} |",
            f"| statuses sent | {facts['statuses_sent']:,} |",
            f"| dead letters / parked readings | {facts['dead_letters']} / {facts['parked']} |",
            f"| drain after the fleet stopped | {facts['drain_s']:.1f} s |",
            f"| publish -> stored row, p50 / p99 | "
            f"{facts['stored_p50_ms']:,.0f} / {facts['stored_p99_ms']:,.0f} ms |",
            f"| publish -> alert evidence, p50 / p99 ({facts['alert_readings']:,} readings) | "
            f"{facts['alert_p50_ms']:,.0f} / {facts['alert_p99_ms']:,.0f} ms |",
            f"| alerts open or closed | {facts['alerts']:,} |",
            f"| alert queue through the API, p50 / p99 ({facts['probes']:,} requests, "
            f"{facts['probe_failures']} failed) | "
            f"{facts['queue_p50_ms']:,.0f} / {facts['queue_p99_ms']:,.0f} ms |",
            "",
            f"Memory and CPU of each process, sampled every {args.sample_s:g} s (all samples: memory.csv):",
            "",
            *memory_table(rows),
            "",
        ]
    )
    (out / "report.md").write_text(text)
    return text


# --- main ---
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--homes", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help=f"readings/s of the fleet (default: {PEAK_READINGS_PER_HOME} per home an hour)",
    )
    parser.add_argument("--status-every", type=float, default=60.0, help="seconds between a home's statuses")
    parser.add_argument("--workers", type=int, default=2, help="ingest worker processes")
    parser.add_argument("--fleet-processes", type=int, default=2, help="processes driving the homes")
    parser.add_argument("--sample-s", type=float, default=30.0, help="seconds between memory samples")
    parser.add_argument(
        "--out", type=Path, default=None, help="report directory (default artifacts/soak-...)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    if args.homes < 1 or args.minutes <= 0:
        parser.error("--homes and --minutes must be positive")
    rate = args.rate or args.homes * PEAK_READINGS_PER_HOME / 3600
    started = dt.datetime.now(dt.UTC)
    out = args.out or ROOT / "artifacts" / f"soak-{started:%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)

    from rpmctl.services.progress import Progress

    main_db = LocalStack(progress=Progress(quiet=True)).up().database_url
    with scratch_database(main_db, "soak", args.keep) as db:
        env = {**os.environ, **soak_environment(db), "PYTHONPATH": str(ROOT)}
        os.environ.update(soak_environment(db))
        stack = LocalStack(progress=Progress())
        stack.up()  # the soak broker's first start creates its accounts (the database is the scratch one)
        stack.mosquitto.down()  # hubs are written into its files while it is stopped: seconds, not an hour
        hub_ids = provision_hubs(stack, args.homes)
        stack.up()
        email = seed(db, hub_ids)
        print(f"seeded {len(hub_ids):,} patients; starting ingest, alerts and the API", flush=True)
        facts = run_soak(args, rate, env, db, email, out)
        facts["started"] = f"{started:%Y-%m-%d %H:%M} UTC"
        facts.update(outcome(db))
        facts["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        report = write_report(out, args, rate, facts, facts.pop("rows"))  # type: ignore[arg-type]
        stack.mosquitto.down()  # its sessions and 10,000 idle accounts stay on disk for the next run
    print(report)
    print(f"report: {out / 'report.md'}")
    ok = facts["stored"] == facts["readings_sent"] == facts["distinct_readings"]
    return 0 if ok else 1


def provision_hubs(stack: LocalStack, homes: int) -> list[str]:
    from simulators.fleet import provision

    def progress(done: int, total: int) -> None:
        if done % 1000 == 0 or done == total:
            print(f"  hub accounts ready: {done:,}/{total:,}", flush=True)

    fleet = provision(
        SOAK_STATE_DIR / "fleet",
        homes,
        admin=stack.mosquitto.admin(),
        broker_url=stack.endpoints().mqtt_hub_url,
        prefix=HUB_PREFIX,
        progress=progress,
    )
    return [hub.hub_id for hub in fleet]


def run_soak(
    args: argparse.Namespace, rate: float, env: dict[str, str], db: str, email: str, out: Path
) -> dict[str, object]:
    children: list[Child] = []
    port = free_port()
    api_env = {**env, "RPM_API_SESSION_SECRET": secrets.token_urlsafe(48)}
    for i in range(args.workers):
        children.append(
            start(
                f"ingest-{i}",
                [
                    "ingest",
                    "run",
                    "--worker-id",
                    f"soak-{i}",
                    "--share-group",
                    "soak",
                    "--log-level",
                    "WARNING",
                ],
                env,
                out,
            )
        )
    children.append(start("alerts", ["alerts", "run", "--log-level", "WARNING"], env, out))
    api = start("api", ["api", "run", "--port", str(port)], api_env, out)
    children.append(api)
    base = f"http://127.0.0.1:{port}"
    sampler = Sampler(out / "memory.csv", args.sample_s)
    probe: QueueProbe | None = None
    try:
        wait_for_api(base, api)
        token = httpx.post(
            f"{base}/api/v1/auth/tokens", json={"email": email, "password": PASSWORD}, timeout=60
        ).json()["access_token"]
        probe = QueueProbe(base, token)
        pid_file = SOAK_STATE_DIR / "mosquitto" / "mosquitto.pid"
        sampler.groups["mosquitto"] = lambda: [int(pid_file.read_text().strip())]
        for child in children:
            sampler.groups[child.name] = lambda c=child: [c.process.pid, *_children(c.process.pid)]
        sampler.groups["postgres backends"] = lambda: postgres_backends(db)
        fleet_log = out / "fleet.log"
        fleet_argv = ["sim", "fleet", "--homes", str(args.homes), "--rate", f"{rate:.4f}"]
        fleet_argv += ["--seconds", str(60 * args.minutes), "--status-every", str(args.status_every)]
        fleet_argv += ["--processes", str(args.fleet_processes), "--prefix", HUB_PREFIX]
        fleet = start("fleet", [*fleet_argv, "--dir", str(SOAK_STATE_DIR / "fleet")], env, out)
        sampler.groups["fleet"] = lambda: [fleet.process.pid, *_children(fleet.process.pid)]
        threads = [threading.Thread(target=t, daemon=True) for t in (sampler.run, probe.run)]
        for thread in threads:
            thread.start()
        print(
            f"fleet of {args.homes:,} homes running for {args.minutes:g} min at {rate:,.1f} readings/s; "
            f"samples in {out / 'memory.csv'}",
            flush=True,
        )
        fleet.process.wait()
        counts = fleet_counts(fleet_log)
        count, drain_s = wait_drained(db, counts["readings"])
    finally:
        sampler.stop()
        if probe is not None:
            probe.stop()
        for child in children:
            child.stop()
    sampler.write()
    queue = sorted(probe.latencies) if probe else []
    return {
        "connected": _connected(out / "fleet.log"),
        "readings_sent": counts["readings"],
        "statuses_sent": counts["statuses"],
        "stored": count,
        "drain_s": drain_s,
        "probes": len(queue),
        "probe_failures": probe.failures if probe else 0,
        "queue_p50_ms": 1000 * statistics.median(queue) if queue else float("nan"),
        "queue_p99_ms": 1000 * statistics.quantiles(queue, n=100)[98] if len(queue) > 1 else float("nan"),
        "rows": sampler.rows,
    }


def _connected(log: Path) -> str:
    match = re.search(r"(\d+)/(\d+) homes connected", log.read_text(errors="replace"))
    return f"{match.group(1)} / {match.group(2)}" if match else "?"


if __name__ == "__main__":
    sys.exit(main())
