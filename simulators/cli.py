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


def run(args: argparse.Namespace) -> int:
    if args.simulation == "home":
        return _home(args)
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
