"""`rpm hub ...`: run the hub process, or inspect its local state without the broker."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal
from pathlib import Path

from gateway.errors import HubError
from gateway.settings import HubSettings, load_settings
from rpmctl.errors import CommandError

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run the hub (what the systemd unit starts)")
    run.add_argument("--config", type=Path, required=True, help="the hub.toml of the hub's bundle")
    status = actions.add_parser("status", help="outbox, last upload, devices and config, from local state")
    status.add_argument("--config", type=Path, required=True)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    resend = actions.add_parser(
        "resend", help="send readings acknowledged since a time again (after a broker lost them)"
    )
    resend.add_argument("--config", type=Path, required=True)
    resend.add_argument("--since", required=True, help="ISO 8601 time with offset, e.g. 2026-03-02T08:00Z")


def run(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if args.action == "run":
        return _run_hub(settings)
    if args.action == "status":
        return _status(settings, as_json=args.json)
    return _resend(settings, args.since)


def _settings(path: Path) -> HubSettings:
    try:
        return load_settings(path)
    except HubError as exc:
        raise CommandError(str(exc), fix=exc.fix, exit_code=2) from exc


def _run_hub(settings: HubSettings) -> int:
    from gateway.hub import Hub
    from gateway.logs import setup_logging
    from gateway.radio import RadioOptions

    setup_logging(settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Hub(settings, radio=RadioOptions()).run(stop)

    try:
        asyncio.run(main())
    except HubError as exc:
        log.critical("%s", exc, extra={"fix": exc.fix})
        return 1
    return 0


def _status(settings: HubSettings, *, as_json: bool) -> int:
    from gateway.localstate import read_local_state, render_json, render_text

    try:
        state = read_local_state(settings)
    except HubError as exc:
        raise CommandError(str(exc), fix=exc.fix) from exc
    print(render_json(state) if as_json else render_text(state))
    return 0


def _resend(settings: HubSettings, since_text: str) -> int:
    from gateway.outbox_db import OutboxDb

    try:
        since = dt.datetime.fromisoformat(since_text)
    except ValueError:
        raise CommandError(f"--since {since_text!r} is not an ISO 8601 time", exit_code=2) from None
    if since.tzinfo is None:
        raise CommandError("--since needs a UTC offset (e.g. 2026-03-02T08:00Z)", exit_code=2)
    try:
        db = OutboxDb(settings.outbox_path, limit_bytes=settings.outbox_max_bytes)
    except HubError as exc:
        raise CommandError(str(exc), fix=exc.fix) from exc
    try:
        count = db.requeue_acked(since.timestamp())
    finally:
        db.close()
    print(f"{count} readings will be sent again (within a minute if the hub is running)")
    return 0
