"""Ingest throughput and latency end to end via our Mosquitto and TimescaleDB, beside the machine's limits.

Run: `.venv/bin/python bench/bench_ingest.py` (about 5 minutes; `--quick` for about 1; `--runs`, `--workers`).
Needs the local stack (`rpm services up`). Everything it makes is temporary: a scratch database (dropped),
bench hubs provisioned under a temp dir (revoked), broker sessions (deleted). Not a test. See bench/README.md.

What it measures, each as the median of `--runs` runs:
  (a) sustained readings/s of N `rpm ingest run` workers (subprocesses) draining a backlog that hubs published
      while the workers were away: single-reading messages, and batched messages (500 readings each);
  (b) publish -> committed latency at a fixed 1,000 readings/s (single-reading messages from hubs over TLS;
      "committed" = the `readings_committed` notification for that reading's patient reached a listener);
  (c) the limits beside it: raw binary COPY of the same rows into the hypertable, and raw Mosquitto QoS 1
      throughput (the same backlog drained by a paho subscriber that does nothing but acknowledge);
  (d) the ratios of (a) to (c).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import psycopg  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

from bench.scratch import scratch_database  # noqa: E402
from broker.contract import reading_id_for  # noqa: E402
from broker.topics import Channel, hub_topic, shared_filter  # noqa: E402
from ingest import notify  # noqa: E402
from rpmctl.services.progress import Progress  # noqa: E402
from rpmctl.services.stack import LocalStack  # noqa: E402
from simulators.fleet import provision  # noqa: E402

BASE = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
PUBLISH_INFLIGHT = 500
"""QoS 1 publishes a bench hub keeps unacknowledged: enough to fill the TLS pipe (a real hub uses 10)."""
POLL_S = 0.1
DRAIN_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Hub:
    hub_id: str
    password: str
    directory: Path


@dataclass(frozen=True)
class Env:
    database_url: str
    mqtt_url: str
    hub_url: str
    hubs: tuple[Hub, ...]
    worker_args: tuple[str, ...] = ()
    """Extra `rpm ingest run` options, to compare settings (e.g. `--max-delay-ms`)."""


# --- payloads ---
def _iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def reading(device: int, sequence: int) -> dict[str, Any]:
    device_id = f"BENCH-{device:05d}"
    at = BASE + dt.timedelta(seconds=sequence)
    device_time = at.replace(tzinfo=None).isoformat()
    return {
        "kind": "blood_pressure",
        "reading_id": str(reading_id_for(device_id, "blood_pressure", f"seq={sequence};t={device_time}")),
        "device": {"device_id": device_id, "model": "UA-651BLE", "profile": "and_ua651ble"},
        "measured_at": _iso(at),
        "device_time": device_time,
        "time_source": "device_raw",
        "received_at": _iso(at + dt.timedelta(seconds=20)),
        "sequence": sequence,
        "systolic_mmhg": 120.0 + sequence % 40,
        "diastolic_mmhg": 80.0,
        "pulse_bpm": 70.0,
        "device_unit": "mmHg",
    }


def payload(hub_id: str, readings: list[dict[str, Any]]) -> bytes:
    document = {
        "schema": "1.0",
        "hub_id": hub_id,
        "sent_at": _iso(dt.datetime.now(dt.UTC)),
        "readings": readings,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def patient_uuid(device: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"rpm-gateway-bench/patient/{device}")


# --- hubs publishing (child processes) --------------------------------------------------------------------
def _hub_client(hub: Hub, url: str) -> mqtt.Client:
    parts = urlsplit(url)
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=hub.hub_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(hub.hub_id, hub.password)
    d = hub.directory
    client.tls_set(ca_certs=str(d / "ca.crt"), certfile=str(d / "hub.crt"), keyfile=str(d / "hub.key"))
    client.max_inflight_messages_set(PUBLISH_INFLIGHT)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(parts.hostname or "127.0.0.1", parts.port or 8883)
    client.loop_start()
    if not connected.wait(15):
        raise RuntimeError(f"hub {hub.hub_id} could not connect")
    return client


def publish_backlog(hub: Hub, url: str, devices: range, per_device: int, per_message: int, seq0: int) -> int:
    """Publish `per_device` readings of each device, `per_message` per publish; returns readings published."""
    client = _hub_client(hub, url)
    topic = hub_topic(hub.hub_id, Channel.READINGS)
    infos, pending, count = [], [], 0
    for sequence in range(seq0, seq0 + per_device):
        for device in devices:
            pending.append(reading(device, sequence))
            if len(pending) == per_message:
                infos.append(client.publish(topic, payload(hub.hub_id, pending), qos=1))
                count += len(pending)
                pending = []
    if pending:
        infos.append(client.publish(topic, payload(hub.hub_id, pending), qos=1))
        count += len(pending)
    for info in infos:
        info.wait_for_publish(DRAIN_TIMEOUT_S)
    client.disconnect()
    client.loop_stop()
    return count


def publish_paced(hub: Hub, url: str, devices: list[int], rate: float, start_at: float) -> dict[int, float]:
    """One single-reading message per device at `rate`/s from `start_at`; returns device -> publish time."""
    client = _hub_client(hub, url)
    topic = hub_topic(hub.hub_id, Channel.READINGS)
    sent: dict[int, float] = {}
    infos = []
    for i, device in enumerate(devices):
        body = payload(hub.hub_id, [reading(device, 0)])
        due = start_at + i / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        sent[device] = time.time()
        infos.append(client.publish(topic, body, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    return sent


# --- broker sessions ---
def _service_client(url: str, client_id: str, clean: bool, expiry: int) -> tuple[mqtt.Client, Properties]:
    parts = urlsplit(url)
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(unquote(parts.username or ""), unquote(parts.password or ""))
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry
    return client, props


def prepare_session(url: str, client_id: str, group: str) -> None:
    """A persistent session subscribed to the group's readings filter, so a backlog queues for it."""
    parts = urlsplit(url)
    client, props = _service_client(url, client_id, True, 3600)
    done = threading.Event()
    client.on_connect = lambda c, *_a: c.subscribe(
        shared_filter(group, Channel.READINGS), options=SubscribeOptions(1)
    )
    client.on_subscribe = lambda *_a: done.set()
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, clean_start=True, properties=props)
    client.loop_start()
    if not done.wait(15):
        raise RuntimeError("no SUBACK")
    client.disconnect()
    client.loop_stop()


def forget_session(url: str, client_id: str) -> None:
    parts = urlsplit(url)
    client, props = _service_client(url, client_id, True, 0)
    done = threading.Event()
    client.on_connect = lambda *_a: done.set()
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, clean_start=True, properties=props)
    client.loop_start()
    done.wait(15)
    client.disconnect()
    client.loop_stop()


def raw_drain(url: str, client_id: str, expected: int) -> float:
    """Resume a session holding `expected` queued messages and acknowledge them; returns messages/s."""
    parts = urlsplit(url)
    client, props = _service_client(url, client_id, False, 3600)
    props.ReceiveMaximum = 2000
    received = 0
    first: list[float] = []
    done = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal received
        if not first:
            first.append(time.perf_counter())
        received += 1
        if received >= expected:
            done.set()

    client.on_message = on_message
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, clean_start=False, properties=props)
    client.loop_start()
    if not done.wait(DRAIN_TIMEOUT_S):
        raise RuntimeError(f"raw drain got {received} of {expected}")
    elapsed = time.perf_counter() - first[0]
    client.disconnect()
    client.loop_stop()
    return (expected - 1) / elapsed


# --- database ---
def seed(url: str, devices: range) -> None:
    """One patient per device, each device assigned to its patient (COPY: seconds for tens of thousands)."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        practice = conn.execute(
            "INSERT INTO practices (name) VALUES ('Bench') RETURNING practice_id"
        ).fetchone()
        with conn.cursor().copy(
            "COPY patients (patient_id, practice_id, mrn, given_name, family_name, timezone) FROM STDIN"
        ) as copy:
            for d in devices:
                copy.write_row((patient_uuid(d), practice[0], f"B{d}", "Bench", "Patient", "UTC"))
        with conn.cursor().copy("COPY devices (device_id, model, profile) FROM STDIN") as copy:
            for d in devices:
                copy.write_row((f"BENCH-{d:05d}", "UA-651BLE", "and_ua651ble"))
        with conn.cursor().copy("COPY device_assignments (device_id, patient_id, valid) FROM STDIN") as copy:
            for d in devices:
                copy.write_row((f"BENCH-{d:05d}", patient_uuid(d), "[2020-01-01,)"))


def count(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])


def truncate(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE readings, parked_readings, dead_letters")


def raw_copy(url: str, devices: range, per_device: int) -> float:
    """Binary COPY of the rows the ingest path writes, straight into the hypertable; returns rows/s."""
    rows = []
    for sequence in range(per_device):
        for d in devices:
            r = reading(d, sequence)
            at = dt.datetime.fromisoformat(r["measured_at"])
            device_time = dt.datetime.fromisoformat(r["device_time"])
            rows.append(
                (at, uuid.UUID(r["reading_id"]), patient_uuid(d), r["device"]["device_id"], "bench",
                 "blood_pressure", "ble", r["systolic_mmhg"], 80.0, 70.0, "mmHg", sequence, [], [],
                 device_time, "device_raw", at)
            )  # fmt: skip
    columns = (
        "measured_at, reading_id, patient_id, device_id, hub_id, kind, source, systolic_mmhg, diastolic_mmhg,"
        " pulse_bpm, device_unit, sequence, status, quality_flags, device_time, time_source, received_at"
    )
    types = ["timestamptz", "uuid", "uuid", "text", "text", "text", "text", "float8", "float8", "float8",
             "text", "int8", "text[]", "text[]", "timestamp", "text", "timestamptz"]  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(f"COPY readings ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        return len(rows) / (time.perf_counter() - started)


# --- ingest workers ---
class Workers:
    def __init__(self, env: Env, count_: int, group: str) -> None:
        self.env, self.group = env, group
        self.ids = [f"bench-{group}-{i}" for i in range(count_)]
        self.processes: list[subprocess.Popen[str]] = []

    def prepare(self) -> None:
        for worker_id in self.ids:
            prepare_session(self.env.mqtt_url, f"ingest-{worker_id}", self.group)

    def start(self, wait_connected: bool = False) -> None:
        """Start the workers; with `wait_connected`, return once every one holds its broker connection.

        Their sessions exist beforehand (`prepare`), so the broker already deals messages to a worker that is
        still starting; a latency measurement that began before then would time the start-up, not ingest."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        connected: list[threading.Event] = []
        level = "INFO" if wait_connected else "WARNING"
        for worker_id in self.ids:
            argv = [sys.executable, "-m", "rpmctl.main", "ingest", "run", "--worker-id", worker_id,
                    "--share-group", self.group, "--database-url", self.env.database_url,
                    "--mqtt-url", self.env.mqtt_url, "--log-level", level, *self.env.worker_args]  # fmt: skip
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
            self.processes.append(process)
            event = threading.Event()
            connected.append(event)
            threading.Thread(target=_relay, args=(process, event), daemon=True).start()
        for event in connected if wait_connected else ():
            if not event.wait(60):
                raise RuntimeError("an ingest worker did not connect to the broker within 60 s")

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(60)
        self.processes = []

    def forget(self) -> None:
        for worker_id in self.ids:
            forget_session(self.env.mqtt_url, f"ingest-{worker_id}")


def _relay(process: subprocess.Popen[str], connected: threading.Event) -> None:
    """Pass a worker's log on to ours, keeping only warnings and errors, and note its first connection."""
    assert process.stderr is not None
    for line in process.stderr:
        if "connected to" in line and "disconnected" not in line:
            connected.set()
        elif " INFO " not in line:
            sys.stderr.write(line)


def drain_rate(url: str, expected: int, baseline: int = 0) -> float:
    """Readings/s from the first poll that saw progress to the poll that saw all `expected` rows."""
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        now, stored = time.perf_counter(), count(url) - baseline
        if first is None and stored > 0:
            first = (now, stored)
        if stored >= expected:
            assert first is not None
            return (stored - first[1]) / max(now - first[0], 1e-9)
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {stored} of {expected} readings stored")
        time.sleep(POLL_S)


# --- the scenarios ---
def _split(devices: range, parts: int) -> list[range]:
    step = -(-len(devices) // parts)
    return [
        range(devices.start + i * step, min(devices.stop, devices.start + (i + 1) * step))
        for i in range(parts)
    ]


def backlog(
    pool: ProcessPoolExecutor, env: Env, devices: range, per_device: int, per_message: int, seq0: int
) -> int:
    jobs = [
        pool.submit(publish_backlog, hub, env.hub_url, part, per_device, per_message, seq0)
        for hub, part in zip(env.hubs, _split(devices, len(env.hubs)), strict=True)
    ]
    return sum(job.result() for job in jobs)


def ingest_run(pool: ProcessPoolExecutor, env: Env, workers: int, devices: range, per_device: int,
               per_message: int, seq0: int) -> float:  # fmt: skip
    """Publish a backlog while the workers are away, start them, and time the drain."""
    truncate(env.database_url)
    group = f"g{uuid.uuid4().hex[:8]}"
    team = Workers(env, workers, group)
    team.prepare()
    try:
        published = backlog(pool, env, devices, per_device, per_message, seq0)
        team.start()
        return drain_rate(env.database_url, published)
    finally:
        team.stop()
        team.forget()


def mqtt_run(pool: ProcessPoolExecutor, env: Env, devices: range, per_device: int, seq0: int) -> float:
    client_id = f"bench-raw-{uuid.uuid4().hex[:8]}"
    group = f"r{uuid.uuid4().hex[:8]}"
    prepare_session(env.mqtt_url, client_id, group)
    try:
        published = backlog(pool, env, devices, per_device, 1, seq0)
        return raw_drain(env.mqtt_url, client_id, published)
    finally:
        forget_session(env.mqtt_url, client_id)


def latency_run(
    pool: ProcessPoolExecutor, env: Env, workers: int, devices: range, rate: float
) -> list[float]:
    """Single-reading messages at `rate`/s, one per patient; latency = notification time - publish time."""
    truncate(env.database_url)
    group = f"l{uuid.uuid4().hex[:8]}"
    team = Workers(env, workers, group)
    team.prepare()
    team.start(wait_connected=True)
    notified: dict[str, float] = {}
    stop = threading.Event()

    def listen() -> None:
        with psycopg.connect(env.database_url, autocommit=True) as conn:
            conn.execute(f"LISTEN {notify.CHANNEL}")
            ready.set()
            while not stop.is_set():
                for note in conn.notifies(timeout=0.2):
                    at = time.time()
                    for patient, _kind in notify.parse(note.payload):
                        notified.setdefault(patient, at)

    ready = threading.Event()
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    try:
        # The clock starts only once a first reading went through, so worker start-up (seconds on a busy
        # machine) is not counted as latency of the first messages.
        warm_up, devices = devices[0], devices[1:]
        for started in [pool.submit(time.sleep, 0.5) for _ in env.hubs]:  # every publisher process spawned
            started.result()
        pool.submit(publish_paced, env.hubs[0], env.hub_url, [warm_up], rate, time.time()).result()
        deadline = time.monotonic() + 60
        while str(patient_uuid(warm_up)) not in notified and time.monotonic() < deadline:
            time.sleep(POLL_S)
        parts = _split(devices, len(env.hubs))
        start_at = time.time() + 2.0  # after each publisher's TLS connection
        jobs = [
            pool.submit(publish_paced, hub, env.hub_url, list(part), rate / len(env.hubs), start_at)
            for hub, part in zip(env.hubs, parts, strict=True)
        ]
        sent: dict[int, float] = {}
        for job in jobs:
            sent.update(job.result())
        deadline = time.monotonic() + 60
        while len(notified) - 1 < len(sent) and time.monotonic() < deadline:
            time.sleep(POLL_S)
    finally:
        stop.set()
        listener.join(5)
        team.stop()
        team.forget()
    missing = len(sent) - (len(notified) - 1)
    if missing:
        raise RuntimeError(f"{missing} readings were never notified")
    started = transaction_starts(env.database_url)
    return [
        Latency(
            total=notified[str(patient_uuid(d))] - t,
            to_transaction=started[str(patient_uuid(d))] - t,
            published_at=t,
        )
        for d, t in sent.items()
    ]


@dataclass(frozen=True)
class Latency:
    """One reading's trip, split where a tail would show its cause: `to_transaction` is publish -> the start
    of the transaction that stored it (broker hops, the worker's receive and batching wait); the rest of
    `total` is that transaction (staging COPY, insert, commit) and the notification's way to the listener."""

    total: float
    to_transaction: float
    published_at: float

    @property
    def in_transaction(self) -> float:
        return self.total - self.to_transaction


def transaction_starts(url: str) -> dict[str, float]:
    """Patient -> start of the transaction that stored its reading (`ingested_at` defaults to now())."""
    query = "SELECT patient_id::text, extract(epoch FROM ingested_at) FROM readings"
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(query).fetchall()
    return {patient: float(at) for patient, at in rows}


# --- main ---
@dataclass(frozen=True)
class Plan:
    runs: int
    workers: int
    single_readings: int
    batched_readings: int
    latency_seconds: float
    rate: float = 1000.0
    hubs: int = 4
    devices: int = 1000


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one short run of each measurement (~1 minute)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="ingest worker processes")
    parser.add_argument("--latency-only", action="store_true", help="only (b), the latency at 1,000/s")
    parser.add_argument("--max-delay-ms", type=float, default=None, help="the workers' batch delay bound")
    args = parser.parse_args(argv)
    if args.quick:
        plan = Plan(
            runs=1, workers=args.workers, single_readings=10_000, batched_readings=50_000, latency_seconds=5
        )
    else:
        plan = Plan(runs=args.runs, workers=args.workers, single_readings=30_000, batched_readings=100_000,
                    latency_seconds=15)  # fmt: skip
    stack = LocalStack(progress=Progress(quiet=True))
    endpoints = stack.up()
    admin = stack.mosquitto.admin()
    results: dict[str, list[float]] = {k: [] for k in ("single", "batched", "copy", "mqtt")}
    latencies: list[Latency] = []
    with tempfile.TemporaryDirectory() as tmp, scratch_database(endpoints.database_url, "bench") as db:
        fleet = provision(
            Path(tmp),
            plan.hubs,
            admin=admin,
            broker_url=endpoints.mqtt_hub_url,
            prefix=f"bench{uuid.uuid4().hex[:8]}",
        )
        hubs = [Hub(hub.hub_id, hub.password, hub.directory) for hub in fleet]
        extra = ("--max-delay-ms", str(args.max_delay_ms)) if args.max_delay_ms is not None else ()
        env = Env(db, endpoints.mqtt_url, endpoints.mqtt_hub_url, tuple(hubs), extra)
        lat_devices = range(plan.devices, plan.devices + int(plan.rate * plan.latency_seconds))
        seed(db, range(plan.devices))
        seed(db, lat_devices)
        ctx = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=plan.hubs, mp_context=ctx) as pool:
                per_single = plan.single_readings // plan.devices
                per_batched = plan.batched_readings // plan.devices
                for run in range(plan.runs):
                    seq0 = run * 10_000
                    step = _progress(run, plan.runs)
                    if args.latency_only:
                        latencies += latency_run(pool, env, plan.workers, lat_devices, plan.rate)
                        step("latency p99 ms", 1000 * _p99([x.total for x in latencies]))
                        continue
                    results["mqtt"].append(mqtt_run(pool, env, range(plan.devices), per_single, seq0))
                    step("raw mqtt", results["mqtt"][-1])
                    truncate(db)
                    results["copy"].append(raw_copy(db, range(plan.devices), per_batched))
                    step("raw copy", results["copy"][-1])
                    results["single"].append(
                        ingest_run(pool, env, plan.workers, range(plan.devices), per_single, 1, seq0 + 1000)
                    )
                    step("ingest single", results["single"][-1])
                    results["batched"].append(
                        ingest_run(
                            pool, env, plan.workers, range(plan.devices), per_batched, 500, seq0 + 2000
                        )
                    )
                    step("ingest batched", results["batched"][-1])
                    latencies += latency_run(pool, env, plan.workers, lat_devices, plan.rate)
                    step("latency p99 ms", 1000 * _p99([x.total for x in latencies]))
        finally:
            for hub in hubs:
                admin.revoke_hub(hub.hub_id)
    _report(plan, results, latencies)
    return 0


def _progress(run: int, runs: int) -> Callable[[str, float], None]:
    def step(what: str, value: float) -> None:
        print(f"  run {run + 1}/{runs}: {what:<16} {value:>12,.0f}", file=sys.stderr, flush=True)

    return step


def _report(plan: Plan, results: dict[str, list[float]], latencies: list[Latency]) -> None:
    single, batched = _median(results["single"]), _median(results["batched"])
    copy_rate, mqtt_rate = _median(results["copy"]), _median(results["mqtt"])
    totals = [x.total for x in latencies]
    p50, p99 = 1000 * statistics.median(totals), 1000 * _p99(totals)
    print(f"\ningest bench: {plan.workers} workers, {os.cpu_count()} CPUs, medians of {plan.runs} run(s)\n")
    print("| measurement | result | target |")
    print("|---|---:|---|")
    print(f"| (a) ingest, single-reading messages (readings/s) | {single:,.0f} | >= 10,000 |")
    print(f"| (a) ingest, batched messages of 500 (readings/s) | {batched:,.0f} | |")
    print(f"| (b) latency publish -> committed at {plan.rate:,.0f} readings/s, p50 (ms) | {p50:,.1f} | |")
    print(
        f"| (b) latency publish -> committed at {plan.rate:,.0f} readings/s, p99 (ms) | {p99:,.1f} | < 250 |"
    )
    for part in ("to_transaction", "in_transaction"):
        values = [getattr(x, part) for x in latencies]
        print(
            f"| (b) of which {part.replace('_', ' ')}, p50 / p99 (ms) | "
            f"{1000 * statistics.median(values):,.1f} / {1000 * _p99(values):,.1f} | |"
        )
    print(f"| (c) raw binary COPY into the hypertable (rows/s) | {copy_rate:,.0f} | |")
    print(f"| (c) raw Mosquitto QoS 1 drain, paho, no processing (messages/s) | {mqtt_rate:,.0f} | |")
    # Each ratio is taken within a run (the limit measured minutes before, under the same conditions), then
    # the median over runs: neighbours' load moves both sides of one run together, not across runs.
    batched_ratio = _median([b / c for b, c in zip(results["batched"], results["copy"], strict=True)])
    single_ratio = _median([s / m for s, m in zip(results["single"], results["mqtt"], strict=True)])
    print(f"| (d) batched ingest / raw COPY, same run | {batched_ratio:.0%} | >= 50% |")
    print(f"| (d) single-reading ingest / raw Mosquitto, same run | {single_ratio:.0%} | |")
    _tail(latencies)


def _tail(latencies: list[Latency], over_s: float = 0.25) -> None:
    """Where the slow readings fall in time: a stall shows as a cluster, CPU contention as a spread."""
    slow = [x for x in latencies if x.total > over_s]
    if not slow:
        return
    print(f"\n{len(slow)} of {len(latencies)} readings over {1000 * over_s:.0f} ms, by second of publishing:")
    start = min(x.published_at for x in latencies)
    seconds: dict[int, list[Latency]] = {}
    for x in slow:
        seconds.setdefault(int(x.published_at - start), []).append(x)
    for second, group in sorted(seconds.items()):
        worst = max(group, key=lambda x: x.total)
        print(
            f"  +{second:>4d} s: {len(group):>4d} slow, worst {1000 * worst.total:,.0f} ms "
            f"({1000 * worst.to_transaction:,.0f} ms to its transaction)"
        )


if __name__ == "__main__":
    sys.exit(main())
