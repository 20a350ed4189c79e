"""`rpm sim ...`: simulations on top of the real code. `rpm sim home` runs one simulated home."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from rpmctl.errors import CommandError

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="simulation", required=True, metavar="SIMULATION")
    home = kinds.add_parser(
        "home", help="the real hub process with simulated BLE devices (cuffs, meters, scales)"
    )
    home.add_argument("--config", type=Path, required=True, help="the hub.toml of the hub's bundle")
    home.add_argument("--devices", type=Path, required=True, help="the devices file (see simulators/home)")
    home.add_argument(
        "--control", type=Path, default=None, help="directory watched for measurement requests (*.json)"
    )
    home.add_argument("--memory", type=Path, default=None, help="the devices' memory file")
    fleet = kinds.add_parser(
        "fleet", help="many homes publishing contract-valid hub traffic straight to MQTT (benchmarks, soaks)"
    )
    fleet.add_argument("--homes", type=int, required=True, help="homes (hubs), provisioned once and reused")
    load = fleet.add_mutually_exclusive_group(required=True)
    load.add_argument("--rate", type=float, help="readings per second across all homes, steady")
    load.add_argument("--backlog", type=int, help="readings each home flushes at once (an outage's outbox)")
    fleet.add_argument("--seconds", type=float, default=10.0, help="run time bound (default 10)")
    fleet.add_argument("--per-message", type=int, default=None, help="readings per publish (1; backlog: 100)")
    fleet.add_argument("--status-every", type=float, default=60.0, help="seconds between a home's statuses")
    fleet.add_argument("--processes", type=int, default=0, help="0: one per 2,000 homes, at most the CPUs")
    fleet.add_argument("--dir", type=Path, default=Path(".rpm-fleet"), help="where hub credentials are kept")
    fleet.add_argument("--prefix", default="fleet", help="hub ids are <prefix>-00000, <prefix>-00001, ...")


def run(args: argparse.Namespace) -> int:
    if args.simulation == "home":
        return _home(args)
    if args.simulation == "fleet":
        return _fleet(args)
    raise CommandError(f"unknown simulation {args.simulation!r}", exit_code=2)


def _home(args: argparse.Namespace) -> int:
    from gateway.errors import HubError
    from gateway.logs import setup_logging
    from gateway.settings import load_settings
    from simulators.home import Home, HomeOptions
    from simulators.home.spec import SpecError, load_spec

    try:
        settings = load_settings(args.config)
        spec = load_spec(args.devices)
    except HubError as exc:
        raise CommandError(str(exc), fix=exc.fix, exit_code=2) from exc
    except SpecError as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    setup_logging(settings.log_level)
    options = HomeOptions(memory_path=args.memory, control_dir=args.control)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Home(settings, spec, options).run(stop)

    try:
        asyncio.run(main())
    except HubError as exc:
        log.critical("%s", exc)
        return 1
    return 0


def _fleet(args: argparse.Namespace) -> int:
    from rpmctl.services.progress import Progress
    from rpmctl.services.stack import LocalStack
    from simulators.fleet import FleetPlan, provision, run_fleet

    if (
        args.homes < 1
        or (args.rate is not None and args.rate <= 0)
        or (args.backlog is not None and args.backlog < 1)
    ):
        raise CommandError("--homes, --rate and --backlog must be positive", exit_code=2)
    stack = LocalStack(progress=Progress(quiet=True))
    endpoints = stack.endpoints()
    hubs = provision(
        args.dir,
        args.homes,
        admin=stack.mosquitto.admin(),
        broker_url=endpoints.mqtt_hub_url,
        prefix=args.prefix,
    )
    per_message = args.per_message or (100 if args.backlog else 1)
    plan = FleetPlan(
        hubs=tuple(hubs),
        broker_url=endpoints.mqtt_hub_url,
        rate=args.rate or 0.0,
        backlog=args.backlog or 0,
        per_message=per_message,
        seconds=args.seconds,
        status_every_s=args.status_every,
        processes=args.processes,
    )
    report = run_fleet(plan)
    print(report.summary())
    for error in report.errors[:10]:
        print(f"  error: {error}")
    return 1 if report.errors else 0
