"""Broker memory per queued QoS 1 message, for sizing the queue limits of broker/mosquitto.conf.tmpl.

A persistent consumer subscribes and goes offline; a provisioned hub publishes N messages of a
realistic size over TLS; the broker's resident memory is read before and after (from /proc), and
again after the consumer drained the queue. Run it against the local stack:

    .venv/bin/python bench/bench_broker_queue.py --messages 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.topics import Channel, hub_topic
from rpmctl.services.progress import Progress
from rpmctl.services.stack import LocalStack
from tests.mqtt_helpers import TestClient, TlsFiles

# One reading per message, as a hub sends in the steady state (~600 bytes of JSON).
PAYLOAD = json.dumps(
    {
        "schema": "1.0",
        "hub_id": "bench-hub",
        "sent_at": "2026-11-27T07:40:00Z",
        "readings": [
            {
                "kind": "blood_pressure",
                "reading_id": str(uuid.uuid4()),
                "device": {"device_id": "SN-00001234", "model": "UA-651BLE", "profile": "and_ua651ble"},
                "measured_at": "2026-11-27T07:39:12Z",
                "device_time": "2026-11-27T01:39:12",
                "time_source": "device_corrected",
                "clock_offset_s": -12.5,
                "received_at": "2026-11-27T07:39:40Z",
                "source": "ble",
                "status": ["irregular_pulse"],
                "systolic_mmhg": 142.0,
                "diastolic_mmhg": 91.0,
                "mean_arterial_mmhg": 108.0,
                "pulse_bpm": 72.0,
                "device_unit": "mmHg",
            }
        ],
    }
).encode()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def one_run(stack: LocalStack, count: int, bundle_dir: Path) -> dict[str, float]:
    admin = stack.mosquitto.admin()
    hub_id = f"bench-{uuid.uuid4().hex[:8]}"
    bundle = admin.add_hub(hub_id, broker_url=stack.endpoints().mqtt_hub_url, out_dir=bundle_dir)
    password = next(
        line.split('"')[1]
        for line in bundle.config_file.read_text().splitlines()
        if line.startswith("password")
    )
    tls = TlsFiles(bundle.directory / "ca.crt", bundle.directory / "hub.crt", bundle.directory / "hub.key")
    topic = hub_topic(hub_id, Channel.READINGS)
    consumer_id = f"bench-consumer-{uuid.uuid4().hex[:8]}"
    url = stack.endpoints().mqtt_url
    consumer = TestClient(url, consumer_id, clean_start=False, session_expiry_s=3600).connect()
    consumer.subscribe(topic)
    consumer.close()
    # A fresh broker process: freed memory is kept by the allocator, so a reused one shows no growth.
    stack.mosquitto.down()
    stack.mosquitto.up()
    pid = stack.mosquitto.status().pid
    assert pid is not None
    time.sleep(0.5)
    before = rss_bytes(pid)

    publisher = TestClient(
        stack.endpoints().mqtt_hub_url, hub_id, tls=tls, username=hub_id, password=password
    )
    publisher.client.max_inflight_messages_set(500)
    publisher.connect()
    started = time.perf_counter()
    # paho numbers messages with 16-bit ids: keep fewer than 65,535 unacknowledged at a time.
    for start in range(0, count, 10_000):
        infos = [publisher.client.publish(topic, PAYLOAD, qos=1) for _ in range(min(10_000, count - start))]
        for info in infos:
            info.wait_for_publish(120)
    publish_s = time.perf_counter() - started
    publisher.close()
    time.sleep(0.5)
    queued = rss_bytes(pid)

    back = TestClient(url, consumer_id, clean_start=False, session_expiry_s=3600).connect()
    started = time.perf_counter()
    back.receive(count, timeout=60)
    drain_s = time.perf_counter() - started
    back.close()
    time.sleep(0.5)
    drained = rss_bytes(pid)
    admin.revoke_hub(hub_id)
    return {
        "bytes_per_queued_message": (queued - before) / count,
        "publish_msgs_per_s": count / publish_s,
        "drain_msgs_per_s": count / drain_s,
        "rss_before_mib": before / 2**20,
        "rss_queued_mib": queued / 2**20,
        "rss_drained_mib": drained / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stack = LocalStack(progress=Progress(quiet=True))
    stack.up()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            result = one_run(stack, args.messages, Path(tmp))
            results.append(result)
            print(f"run {run + 1}: " + ", ".join(f"{k}={v:,.1f}" for k, v in result.items()), flush=True)
    print(f"\nmedian of {args.runs} runs, {args.messages:,} messages of {len(PAYLOAD)} bytes each:")
    for key in results[0]:
        print(f"  {key:26s} {statistics.median(r[key] for r in results):>12,.1f}")
    per_message = statistics.median(r["bytes_per_queued_message"] for r in results)
    design = 1_100_000
    gib = per_message * design / 2**30
    print(f"\n24 h outage at the design load ({design:,} messages): ~{gib:.2f} GiB of broker RAM")
    return 0


if __name__ == "__main__":
    sys.exit(main())
