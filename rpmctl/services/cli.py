"""`rpm services up | down | status`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rpmctl.services.layout import StateLayout
from rpmctl.services.progress import Progress
from rpmctl.services.stack import LocalStack, StackStatus


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, help="where installs, data and secrets live (RPM_STATE_DIR)"
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("up", help="install what is missing and start Mosquitto and TimescaleDB (idempotent)")
    sub.add_parser("down", help="stop both cleanly (data is kept)")
    status = sub.add_parser("status", help="what runs where; exits 1 when something is down")
    status.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    stack = LocalStack(StateLayout.from_environment(args.state_dir), Progress())
    if args.action == "up":
        stack.up()
        state = stack.status()
        print(_render(state, stack))
        return 0 if state.healthy else 1
    if args.action == "down":
        stack.down()
        return 0
    state = stack.status()
    print(json.dumps(_as_json(state), indent=2) if args.json else _render(state, stack))
    return 0 if state.healthy else 1


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _render(state: StackStatus, stack: LocalStack) -> str:
    lines = [f"state dir: {stack.layout.state_dir}"]
    ends = state.endpoints
    if ends.mqtt_external:
        ok, detail = state.external_mqtt
        lines.append(f"mosquitto:   {'up  ' if ok else 'DOWN'} {_redact(ends.mqtt_url)} (external: {detail})")
    elif state.mosquitto:
        m = state.mosquitto
        lines.append(
            f"mosquitto:   {'up  ' if m.running else 'DOWN'} {_redact(ends.mqtt_url)},"
            f" hubs {ends.mqtt_hub_url}"
            f" (Mosquitto {m.version or '?'}, {m.detail}{f', pid {m.pid}' if m.pid else ''})"
        )
    if ends.database_external:
        ok, detail = state.external_db
        lines.append(
            f"timescaledb: {'up  ' if ok else 'DOWN'} {_redact(ends.database_url)} (external: {detail})"
        )
    elif state.timescale:
        t = state.timescale
        versions = f"PostgreSQL {t.server_version}, TimescaleDB {t.timescaledb_version} ({t.license} license)"
        what = f"{versions}, {t.mode}" if t.running else f"{t.detail}, {t.mode}"
        lines.append(f"timescaledb: {'up  ' if t.running else 'DOWN'} {_redact(ends.database_url)} ({what})")
    return "\n".join(lines)


def _as_json(state: StackStatus) -> dict[str, object]:
    ends = state.endpoints
    result: dict[str, object] = {
        "healthy": state.healthy,
        "mqtt_url": _redact(ends.mqtt_url),
        "mqtt_hub_url": ends.mqtt_hub_url,
        "database_url": _redact(ends.database_url),
    }
    if state.mosquitto:
        result["mosquitto"] = {"running": state.mosquitto.running, "version": state.mosquitto.version}
    if state.timescale:
        t = state.timescale
        result["timescaledb"] = {
            "running": t.running,
            "server_version": t.server_version,
            "timescaledb_version": t.timescaledb_version,
            "license": t.license,
            "mode": t.mode,
        }
    return result
