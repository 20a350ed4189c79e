"""Decoder throughput: payloads per second per characteristic, on one CPU core, median of several runs.

Run: `.venv/bin/python bench/bench_decoders.py` (options: `--runs`, `--seconds`, `--cpu`, `--only 2A35`).
The payloads are what real devices send (cuffs with and without time stamps, meters with context, scales in
both unit systems), so the numbers say how many readings one hub core can turn into values. Not a test.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from gateway.ble.codec import lookup

REALISTIC: Final[dict[str, Sequence[str]]] = {
    "2A35": (
        "1E 7A 00 4F 00 5E 00 E8 07 03 0F 08 1E 2D 48 00 01 00 00",  # mmHg, time, pulse, user, status
        "06 80 00 52 00 60 00 E8 07 03 0F 14 05 00 4C 00",  # A&D style: time + pulse
        "1F B0 F0 60 F0 7C F0 E8 07 03 0F 08 1E 2D 48 00 01 02 00",  # kPa, everything
        "00 78 00 50 00 5D 00",  # minimal
    ),
    "2A36": ("04 96 00 FF 07 FF 07 48 00",),
    "2A18": (
        "1B 02 01 E8 07 03 0F 08 1E 2D F1 FF 5F B0 12 00 00",  # kg/L, offset, status, context follows
        "06 03 01 E8 07 03 0F 13 05 00 37 C0 11",  # mol/L
        "02 04 01 E8 07 03 10 07 00 00 5F B0 4A",  # control solution
    ),
    "2A34": ("03 02 01 01 06 E0 01", "46 03 01 02 51 41 F0"),
    "2A52": ("06 00 01 01", "05 00 2A 00", "01 03 01 0A 00"),
    "2A9D": (
        "0E 60 36 E8 07 03 0F 07 1E 00 01 E6 00 C2 06",  # SI, time, user, BMI + height
        "03 F0 3C E8 07 03 0F 07 1E 00",  # imperial, time
        "00 FF FF",  # unsuccessful
    ),
    "2A9C": (
        "06 1C FA 00 E8 07 03 0F 08 1E 2D 01 60 36 C2 06",
        "F8 03 FA 00 58 1B C2 01 40 1F 10 27 28 23 70 17 94 11",
    ),
    "2A08": ("E8 07 03 0F 08 1E 2D",),
    "2A2B": ("E8 07 03 0F 08 1E 2D 05 80 01",),
    "2A19": ("64", "37"),
    "2A25": ("35 31 34 30 33 31 33 00 00 00",),
    "2A50": ("01 5D 00 34 12 00 01",),
}
"""Captured-style payloads per characteristic (see the tests for the meaning of each byte)."""

MIX: Final[dict[str, int]] = {"2A35": 30, "2A18": 30, "2A34": 5, "2A9D": 20, "2A52": 5, "2A2B": 5, "2A19": 5}
"""Relative share of a hub's traffic: mostly readings (cuffs, meters, scales), some control and status."""


def _measure(decode_all: Callable[[], int], seconds: float) -> float:
    """Payloads per second for one run: repeat `decode_all` (returns payloads decoded) for `seconds`."""
    done = 0
    gc.disable()
    try:
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            done += decode_all()
            now = time.perf_counter()
            if now >= deadline:
                return done / (now - start)
    finally:
        gc.enable()


def _batch(pairs: Sequence[tuple[Callable[[bytes], Any], bytes]], repeat: int) -> Callable[[], int]:
    def decode_all() -> int:
        for _ in range(repeat):
            for decode, payload in pairs:
                decode(payload)
        return repeat * len(pairs)

    return decode_all


def _pin(cpu: int | None) -> str:
    """Pin the process to one core so the figure is per core (Linux only; elsewhere we just report it)."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per decoder; the median is reported")
    parser.add_argument("--seconds", type=float, default=0.5, help="duration of one run")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: do not pin)")
    parser.add_argument("--only", action="append", help="characteristic(s) to bench, e.g. 2A35")
    args = parser.parse_args(argv)

    pinning = _pin(None if args.cpu < 0 else args.cpu)
    print(f"decoder throughput, median of {args.runs} runs x {args.seconds:.2f} s, {pinning}")
    selected = {uuid: payloads for uuid, payloads in REALISTIC.items() if not args.only or uuid in args.only}
    rows: list[tuple[str, float]] = []
    for uuid, payloads in selected.items():
        characteristic = lookup(uuid)
        pairs = [(characteristic.decode, bytes.fromhex(hex_payload)) for hex_payload in payloads]
        for decode, payload in pairs:
            value = decode(payload)  # a bench payload that does not decode is a bug in this table
            if getattr(value, "trailing", b""):
                raise SystemExit(f"{characteristic.label} bench payload {payload.hex()} has trailing bytes")
        runs = [_measure(_batch(pairs, 200), args.seconds) for _ in range(args.runs)]
        rows.append((f"{characteristic.label} {characteristic.name}", statistics.median(runs)))
    if not args.only:
        mix = [
            (lookup(uuid).decode, bytes.fromhex(payload))
            for uuid, share in MIX.items()
            for payload in REALISTIC[uuid]
            for _ in range(share)
        ]
        runs = [_measure(_batch(mix, 2), args.seconds) for _ in range(args.runs)]
        rows.append(("mix of realistic hub traffic", statistics.median(runs)))
    width = max(len(name) for name, _ in rows)
    for name, rate in rows:
        print(f"  {name:<{width}}  {rate:>12,.0f} payloads/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
