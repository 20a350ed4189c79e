"""The `rpm` console script.

Subcommands are listed here by module path and imported only when they run, so
`rpm hub run` on a Raspberry Pi never imports numpy, FastAPI or psycopg.
Each subcommand module provides `configure(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from rpmctl.errors import CommandError


@dataclass(frozen=True)
class Subcommand:
    module: str
    summary: str


SUBCOMMANDS: dict[str, Subcommand] = {
    "demo": Subcommand(
        "simulators.demo.cli", "run the whole system with a demo practice and 20 simulated homes"
    ),
    "services": Subcommand(
        "rpmctl.services.cli", "start, stop and inspect the local Mosquitto and TimescaleDB"
    ),
    "broker": Subcommand("broker.admin.cli", "provision the broker: CA, service accounts, hubs"),
    "db": Subcommand("database.cli", "apply database migrations"),
    "ingest": Subcommand("ingest.cli", "run ingest workers: MQTT readings into TimescaleDB, exactly once"),
    "schema": Subcommand("broker.cli", "export the wire contract as JSON Schema"),
    "decode": Subcommand("gateway.ble.cli", "decode a captured BLE characteristic value"),
    "patients": Subcommand(
        "careteam_api.program.patients_cli", "import patients (CSV or FHIR R4), report CCM eligibility"
    ),
    "billing": Subcommand(
        "careteam_api.billing.cli", "CCM/RPM billing: export a month, evaluate codes, claims, audit, metrics"
    ),
    "api": Subcommand(
        "careteam_api.cli", "serve the care-team API and web console; session secret, passwords"
    ),
    "alerts": Subcommand("alerts.cli", "alert engine: listen for readings, time-based checks, escalation"),
    "hub": Subcommand("gateway.cli", "run the home hub, or show its local state (outbox, devices, config)"),
    "sim": Subcommand(
        "simulators.cli", "simulations on the real code: `rpm sim home` (hub + simulated devices)"
    ),
}


def _usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = ["usage: rpm COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {sub.summary}" for name, sub in SUBCOMMANDS.items()]
    lines += ["", "Run `rpm COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    sub = SUBCOMMANDS.get(name)
    if sub is None:
        print(f"rpm: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(sub.module)
    parser = argparse.ArgumentParser(prog=f"rpm {name}", description=sub.summary)
    module.configure(parser)
    parsed = parser.parse_args(rest)
    try:
        return int(module.run(parsed) or 0)
    except CommandError as exc:
        print(f"rpm {name}: {exc}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"rpm {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
