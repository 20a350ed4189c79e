"""`rpm sim fleet`: many homes publishing contract-valid hub traffic to MQTT, for benchmarks and soaks.

Unlike `rpm sim home` (the real hub process over simulated BLE), a fleet home is only its MQTT side: a hub
account of its own (password, client certificate, per-hub ACL, provisioned once with
`BrokerAdmin.add_hub` and reused across runs, see `hubs`), readings of a cuff, a glucometer and a scale with
plausible values (see `traffic`), and an online status when it connects and now and then.

Scaling: every home needs its own TLS connection (the broker's ACL lets a hub publish on its own topics only),
so a fleet of N homes holds N connections. One process drives a shard of them from a single thread: paho
clients without their network threads, multiplexed with `selectors` (see `shard`), so 10,000 homes are a few
processes, not 10,000 threads. Cost is dominated by TLS handshakes when connecting (a few ms of CPU each,
`--connect-rate` spreads them) and by paho's per-message Python work when publishing (about 15,000 QoS 1
publishes/s per core); `--processes` spreads both. Readings are built as JSON directly (microseconds each,
not a pydantic model per reading); a test checks them against the contract.
"""

from simulators.fleet.hubs import FleetHub, provision
from simulators.fleet.runner import FleetPlan, FleetReport, run_fleet
from simulators.fleet.traffic import Home

__all__ = ["FleetHub", "FleetPlan", "FleetReport", "Home", "provision", "run_fleet"]
