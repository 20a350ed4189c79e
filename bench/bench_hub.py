"""The hub's costs: idle memory and CPU, add-to-broker latency, and how fast it drains a day's backlog.

Against the local stack (`rpm services up`), each run with a freshly provisioned hub:

- idle: `rpm hub run` as its own process, connected and idle; RSS from /proc/PID/status and CPU from
  /proc/PID/stat (utime + stime) over a window;
- latency: one reading at a time (the steady state): `outbox.add` to the broker's PUBACK, and to a
  subscriber on the loopback listener (p50 / p99), plus the durable add alone;
- backlog: N readings queued while the hub was cut off (the outbox filled, then the hub connects), and the
  time from its connection until the broker acknowledged the last of them, in readings/s.

    .venv/bin/python bench/bench_hub.py --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt

from broker.contract import parse_message
from broker.topics import Channel, hub_topic
from gateway.hub import Hub
from gateway.outbox import Outbox
from gateway.settings import HubSettings, load_settings
from rpmctl.services.progress import Progress
from rpmctl.services.stack import LocalStack
from tests.mqtt_helpers import TestClient
from tests.test_hub_support import bp_reading

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class TimedSubscriber:
    """svc.ingest on the loopback listener; notes when each reading id arrived."""

    def __init__(self, url: str, hub_id: str) -> None:
        self.arrived: dict[uuid.UUID, float] = {}
        self.count = 0
        self.changed = threading.Condition()
        self.client = TestClient(url, f"bench-{uuid.uuid4().hex[:8]}")
        self.client.client.on_message = self._on_message
        self.client.connect()
        self.client.subscribe(hub_topic(hub_id, Channel.READINGS))

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        batch = parse_message(Channel.READINGS, message.payload)
        with self.changed:
            for reading in batch.readings:  # type: ignore[union-attr]
                self.arrived.setdefault(reading.reading_id, now)
            self.count = len(self.arrived)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 300.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.count >= count, timeout):
                raise TimeoutError(f"{self.count} of {count} readings arrived")

    def close(self) -> None:
        self.client.close()


def provision(stack: LocalStack, out_dir: Path) -> HubSettings:
    hub_id = f"bench-{uuid.uuid4().hex[:8]}"
    bundle = stack.mosquitto.admin().add_hub(
        hub_id, broker_url=stack.endpoints().mqtt_hub_url, out_dir=out_dir
    )
    return load_settings(bundle.config_file)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- idle -----------------------------------------------------------------------------------------------
def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def idle_run(stack: LocalStack, out_dir: Path, window_s: float) -> dict[str, float]:
    settings = provision(stack, out_dir)
    status = TestClient(stack.endpoints().mqtt_url, f"bench-{uuid.uuid4().hex[:8]}").connect()
    status.subscribe(hub_topic(settings.hub_id, Channel.STATUS))
    config = out_dir / settings.hub_id / "hub.toml"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "rpmctl.main", "hub", "run", "--config", str(config)],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        status.receive(1, timeout=30)  # online: connected
        connected_s = time.perf_counter() - started
        time.sleep(2)  # let start-up work settle before measuring "at rest"
        cpu0, t0 = proc_cpu_s(process.pid), time.perf_counter()
        time.sleep(window_s)
        cpu = (proc_cpu_s(process.pid) - cpu0) / (time.perf_counter() - t0)
        rss = proc_rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(15)
        status.close()
    return {"start_to_connected_s": connected_s, "idle_rss_mib": rss, "idle_cpu_pct": cpu * 100}


# --- latency and backlog (hub in this process) ------------------------------------------------------
async def latency_run(settings: HubSettings, url: str, count: int) -> dict[str, float]:
    subscriber = TimedSubscriber(url, settings.hub_id)
    hub = Hub(settings)
    acked: dict[int, float] = {}
    original = hub.published

    def published(mid: int, ok: bool, reason: str) -> None:
        acked[mid] = time.perf_counter()
        original(mid, ok, reason)

    hub.published = published  # type: ignore[method-assign]
    await hub.start()
    add_s, to_puback_s, to_subscriber_s = [], [], []
    try:
        await asyncio.wait_for(hub.connected.wait(), 30)
        for n in range(count):
            reading = bp_reading("SN-BENCH", n)
            t0 = time.perf_counter()
            await hub.on_reading(reading)
            add_s.append(time.perf_counter() - t0)
            await asyncio.to_thread(subscriber.wait_for, n + 1)
            while hub.uploader and hub.uploader.inflight:  # the PUBACK may trail the delivery
                await asyncio.sleep(0.001)
            to_subscriber_s.append(subscriber.arrived[reading.reading_id] - t0)
            to_puback_s.append(max(acked.values()) - t0)
    finally:
        await hub.stop()
        subscriber.close()
    ms = 1000
    return {
        "add_p50_ms": pct(add_s, 0.5) * ms,
        "add_p99_ms": pct(add_s, 0.99) * ms,
        "to_puback_p50_ms": pct(to_puback_s, 0.5) * ms,
        "to_puback_p99_ms": pct(to_puback_s, 0.99) * ms,
        "to_subscriber_p50_ms": pct(to_subscriber_s, 0.5) * ms,
        "to_subscriber_p99_ms": pct(to_subscriber_s, 0.99) * ms,
    }


async def backlog_run(settings: HubSettings, url: str, count: int) -> dict[str, float]:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    async with Outbox(
        settings.outbox_path, hub_id=settings.hub_id, limit_bytes=settings.outbox_max_bytes
    ) as box:
        for n in range(count):  # a day without broker: readings queue up
            await box.add(bp_reading("SN-BACKLOG", n))
    fill_s = time.perf_counter() - t0
    subscriber = TimedSubscriber(url, settings.hub_id)
    hub = Hub(settings)
    await hub.start()
    try:
        await asyncio.wait_for(hub.connected.wait(), 30)
        connected = time.perf_counter()
        while (await hub.outbox.stats()).depth:
            await asyncio.sleep(0.05)
        acked_s = time.perf_counter() - connected
        await asyncio.to_thread(subscriber.wait_for, count)
        received_s = max(subscriber.arrived.values()) - connected
    finally:
        await hub.stop()
        subscriber.close()
    return {
        "backlog_add_per_s": count / fill_s,
        "backlog_acked_per_s": count / acked_s,
        "backlog_received_per_s": count / received_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-window", type=float, default=30.0, help="seconds of idle CPU measurement")
    parser.add_argument("--latency-readings", type=int, default=300)
    parser.add_argument("--backlog", type=int, default=20_000)
    args = parser.parse_args()
    stack = LocalStack(progress=Progress(quiet=True))
    url = stack.up().mqtt_url
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        out = Path(tmp)
        for run in range(args.runs):
            result = idle_run(stack, out, args.idle_window)
            result |= asyncio.run(latency_run(provision(stack, out), url, args.latency_readings))
            result |= asyncio.run(backlog_run(provision(stack, out), url, args.backlog))
            results.append(result)
            print(f"run {run + 1}: " + ", ".join(f"{k}={v:,.2f}" for k, v in result.items()), flush=True)
    print(
        f"\nmedian of {args.runs} runs ({args.latency_readings} steady readings, backlog {args.backlog:,}):"
    )
    for key in results[0]:
        print(f"  {key:24s} {statistics.median(r[key] for r in results):>12,.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
