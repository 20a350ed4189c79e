"""Run a fleet: split the homes into shards, one process each, and add up what they sent."""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields

from simulators.fleet.shard import ShardPlan, ShardReport, run_shard

HOMES_PER_PROCESS = 2000
"""Homes one process drives by default: about 2,000 TLS connections are a few seconds of handshakes and a
few hundred MiB of paho and SSL state, and keepalives of 2,000 clients are a negligible share of one core."""


@dataclass(frozen=True)
class FleetPlan(ShardPlan):
    """A shard's plan for the whole fleet, plus how many processes share it."""

    processes: int = 0
    """0: one per `HOMES_PER_PROCESS` homes, at most the CPU count."""


@dataclass
class FleetReport(ShardReport):
    """The shards' reports added up."""

    def add(self, shard: ShardReport) -> None:
        self.homes += shard.homes
        self.connected += shard.connected
        self.messages += shard.messages
        self.readings += shard.readings
        self.statuses += shard.statuses
        self.acknowledged += shard.acknowledged
        self.seconds = max(self.seconds, shard.seconds)
        self.errors += shard.errors

    def summary(self) -> str:
        rate = self.readings / self.seconds if self.seconds else 0.0
        return (
            f"fleet: {self.connected}/{self.homes} homes connected; sent {self.messages:,} messages "
            f"({self.readings:,} readings, {self.statuses:,} statuses), {self.acknowledged:,} acknowledged, "
            f"in {self.seconds:.1f} s ({rate:,.0f} readings/s)"
        )


def shard_count(plan: FleetPlan) -> int:
    if plan.processes > 0:
        return min(plan.processes, max(1, len(plan.hubs)))
    return max(1, min(os.cpu_count() or 1, math.ceil(len(plan.hubs) / HOMES_PER_PROCESS)))


def shard_plans(plan: FleetPlan) -> list[ShardPlan]:
    """Homes dealt round-robin into shards; each shard gets its share of the rate."""
    count = shard_count(plan)
    shards = [plan.hubs[i::count] for i in range(count)]
    common = {f.name: getattr(plan, f.name) for f in fields(ShardPlan)}
    return [
        ShardPlan(**{**common, "hubs": tuple(hubs), "rate": plan.rate * len(hubs) / len(plan.hubs)})
        for hubs in shards
        if hubs
    ]


def run_fleet(plan: FleetPlan) -> FleetReport:
    """Run every shard (in this process when there is one, else one process each) and add up the reports."""
    report = FleetReport()
    shards = shard_plans(plan)
    if len(shards) == 1:
        report.add(run_shard(shards[0]))
        return report
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(shards), mp_context=context) as pool:
        for shard in pool.map(run_shard, shards):
            report.add(shard)
    return report
