"""`rpm alerts run` (listen + tick), `rpm alerts tick` (one round of checks), `rpm alerts evaluate`."""

from __future__ import annotations

import argparse
import logging
import signal
import uuid
from datetime import timedelta
from types import FrameType

from alerts.errors import AlertError
from rpmctl.errors import CommandError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    for name, text in (
        ("run", "listen for committed readings and run the time-based checks until SIGTERM/SIGINT"),
        ("tick", "run every time-based check once and exit"),
        ("evaluate", "evaluate the reading rules for some patients now"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")
        if name == "evaluate":
            p.add_argument("patients", nargs="+", type=uuid.UUID)
        else:
            p.add_argument("--escalate-after-min", type=float, default=30.0)
            p.add_argument(
                "--retention-days", type=float, default=None, help="drop readings older (default: off)"
            )
            p.add_argument("--tick-s", type=float, default=60.0)
        p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def _database_url(args: argparse.Namespace) -> str:
    import os

    if args.database_url or os.environ.get("RPM_DATABASE_URL"):
        return args.database_url or os.environ["RPM_DATABASE_URL"]
    from rpmctl.services.endpoints import resolve
    from rpmctl.services.layout import StateLayout

    return resolve(StateLayout.from_environment()).database_url


def run(args: argparse.Namespace) -> int:
    import psycopg

    from alerts.clock import SystemClock
    from alerts.runner import RunnerConfig, run_checks
    from alerts.runner import run as run_forever

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        url = _database_url(args)
        if args.action == "evaluate":
            from alerts.pipeline import evaluate_patients

            now = SystemClock().now()
            with psycopg.connect(url) as conn, conn.transaction():
                result = evaluate_patients(conn, args.patients, now, now - timedelta(days=15))
            print(f"{result.patients} patients, {result.readings} readings: {result.outcome}")
            return 1 if result.failures else 0
        config = RunnerConfig(
            database_url=url,
            tick=timedelta(seconds=args.tick_s),
            escalate_after=timedelta(minutes=args.escalate_after_min),
            retention=timedelta(days=args.retention_days) if args.retention_days else None,
        )
        if args.action == "tick":
            with psycopg.connect(url, autocommit=True) as conn:
                print(run_checks(conn, SystemClock().now(), config))
            return 0
        stopping = False

        def _stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        run_forever(config, stop=lambda: stopping)
        return 0
    except AlertError as exc:
        raise CommandError(str(exc), fix="see `rpm alerts --help`", exit_code=2) from exc
    except psycopg.OperationalError as exc:
        raise CommandError(
            str(exc), fix="start the database (`rpm services up`) or check --database-url"
        ) from exc
