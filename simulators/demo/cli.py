"""`rpm demo`: the whole system on one machine, from nothing to a live alert queue.

Starts the local Mosquitto and TimescaleDB, migrates, provisions the demo practice (staff, 20 patients,
consents, care plans, devices, the care managers' logged time, one hub per home), then runs the real
processes: an ingest worker, the alert engine, the API and console, and 20 simulated homes (the real hub code
with simulated devices that hold 30 days of readings). It prints the console URL and the demo logins, reports
progress until the queue fills, and stops everything on Ctrl-C. Running it again reuses what exists.
"""

from __future__ import annotations

import argparse
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.demo.processes import Supervisor
    from simulators.demo.provision import DemoHome, DemoPlan

# The homes start in a few seconds each on two cores; the queue is expected to hold the scenarios'
# alerts within a minute. Progress is printed at this interval until then.
PROGRESS_INTERVAL_S = 5.0
READY_AFTER_S = 60.0
DEMO_SESSION_EXPIRY_S = 600
"""How long the broker keeps the demo worker's session after the demo stopped: long enough for a restart to
pick up what was in flight, short enough that the development broker does not queue the tests' and
benchmarks' traffic (every hub topic matches the worker's subscription) for the next demo."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=8080, help="the console's port on 127.0.0.1 (default 8080)"
    )
    parser.add_argument("--seed", type=int, default=0, help="decides every simulated value (default 0)")
    parser.add_argument(
        "--keep-services", action="store_true", help="leave Mosquitto and TimescaleDB running on exit"
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="once the queue holds alerts, save pictures of the console there (Chromium, playwright)",
    )
    parser.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="stop once the queue holds alerts and every home delivered its history (for checks and CI)",
    )


def run(args: argparse.Namespace) -> int:
    from careteam_api.cli import write_secret
    from database.migrate import migrate
    from rpmctl.services.progress import Progress
    from rpmctl.services.stack import LocalStack
    from simulators.demo.processes import Supervisor
    from simulators.demo.provision import provision_demo

    started = time.monotonic()
    progress = Progress()
    stack = LocalStack(progress=progress)
    with progress.step("starting Mosquitto and TimescaleDB"):
        endpoints = stack.up()
    with progress.step("migrating the database"):
        migrate(endpoints.database_url)
    write_secret(stack.layout.secrets_dir / "api-session.secret", force=False)
    with progress.step("provisioning the demo practice, its staff, 20 patients and their homes"):
        plan = provision_demo(endpoints.database_url, stack.layout, seed=args.seed)

    supervisor = Supervisor(plan.logins_file.parent / "logs")
    _stop_on_signals()
    try:
        with progress.step("starting ingest, the alert engine, the API and 20 simulated homes"):
            expiry = ("--session-expiry-s", str(DEMO_SESSION_EXPIRY_S))
            supervisor.start("ingest", "ingest", "run", "--worker-id", "demo-1", *expiry)
            supervisor.start("alerts", "alerts", "run", "--tick-s", "10")
            supervisor.start("api", "api", "run", "--port", str(args.port))
            waiting = _start_homes(supervisor, plan.homes)
        _print_welcome(plan, args.port)
        ready = _watch(supervisor, waiting, endpoints.database_url, started, until_ready=True)
        if args.screenshots:
            _screenshots(plan, args.port, args.screenshots)
        if args.exit_when_ready:
            return ready
        return _watch(supervisor, waiting, endpoints.database_url, started, until_ready=False)
    except KeyboardInterrupt:
        print("\nstopping the demo ...", flush=True)
        return 0
    finally:
        supervisor.stop_all()
        if not args.keep_services:
            stack.down()
        print(f"stopped. Logs: {supervisor.log_dir}", flush=True)


def _stop_on_signals() -> None:
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _start_homes(supervisor: Supervisor, homes: tuple[DemoHome, ...]) -> list[DemoHome]:
    """Start every home now except those whose scenario keeps the hub offline for a while."""
    waiting: list[DemoHome] = []
    for home in homes:
        if home.start_after is not None and home.start_after > datetime.now(UTC):
            waiting.append(home)
            continue
        _start_home(supervisor, home)
    return waiting


def _start_home(supervisor: Supervisor, home: DemoHome) -> None:
    supervisor.start(
        f"home-{home.hub_id}",
        "sim", "home",
        "--config", str(home.config_file),
        "--devices", str(home.devices_file),
        "--control", str(home.control_dir),
    )  # fmt: skip


def _print_welcome(plan: DemoPlan, port: int) -> None:
    print(f"\nrpm-gateway demo: {plan.practice_name}")
    print(f"  console:  http://127.0.0.1:{port}/")
    print("  logins (also in " + str(plan.logins_file) + "):")
    for user in plan.users:
        print(f"    {user.role:<13} {user.email:<40} {user.password}")
    offline = [home.hub_id for home in plan.homes if home.start_after is not None]
    if offline:
        print(f"  hubs that start offline and flush a backlog later: {', '.join(offline)}")
    print("  Ctrl-C stops everything.\n", flush=True)


def _screenshots(plan: DemoPlan, port: int, out_dir: Path) -> None:
    from simulators.demo.screenshots import ScreenshotError, take

    by_role = {user.role: (user.email, user.password) for user in plan.users}
    try:
        files = take(f"http://127.0.0.1:{port}", by_role["care_manager"], by_role["clinician"], out_dir)
    except ScreenshotError as exc:
        print(f"screenshots not taken: {exc}", flush=True)
        return
    print("screenshots: " + ", ".join(str(f) for f in files), flush=True)


def _watch(
    supervisor: Supervisor, waiting: list[DemoHome], database_url: str, started: float, until_ready: bool
) -> int:
    """Report progress, start delayed homes when due, and surface a child that died."""
    import psycopg

    from rpmctl.errors import CommandError

    first_alert_s: float | None = None
    last_line = ""
    ready_printed = False
    while True:
        for child in supervisor.dead():
            code = child.process.returncode if child.process else "?"
            raise CommandError(
                f"the demo's {child.name} process exited (code {code}):\n{child.log_tail()}",
                fix=f"read {child.log_path}",
            )
        for home in list(waiting):
            if home.start_after is not None and home.start_after <= datetime.now(UTC):
                _start_home(supervisor, home)
                waiting.remove(home)
        with psycopg.connect(database_url, autocommit=True) as conn:
            readings, patients_with_data = conn.execute(
                "SELECT count(*), count(DISTINCT patient_id) FROM readings"
            ).fetchone() or (0, 0)
            alerts = dict(
                conn.execute(
                    "SELECT priority, count(*) FROM alerts WHERE state IN ('open', 'claimed', 'snoozed')"
                    " GROUP BY priority"
                ).fetchall()
            )
            clinical = conn.execute(
                "SELECT count(*) FROM alerts WHERE category = 'clinical' AND state IN ('open', 'claimed')"
            ).fetchone()
        elapsed = time.monotonic() - started
        if clinical and clinical[0] and first_alert_s is None:
            first_alert_s = elapsed
            print(f"first clinical alert in the queue {elapsed:.1f} s after `rpm demo` started", flush=True)
        line = (
            f"[{elapsed:5.0f} s] readings stored: {readings:,} for {patients_with_data} patients;"
            f" open alerts: critical {alerts.get('critical', 0)}, high {alerts.get('high', 0)},"
            f" low {alerts.get('low', 0)}"
        )
        if line.split("] ", 1)[1] != last_line:
            print(line, flush=True)
            last_line = line.split("] ", 1)[1]
        if not ready_printed and elapsed >= READY_AFTER_S:
            ready_printed = True
            print("the demo is live: open the console URL above", flush=True)
        if until_ready and first_alert_s is not None and patients_with_data >= 20 - len(waiting):
            return 0
        time.sleep(PROGRESS_INTERVAL_S if not ready_printed else PROGRESS_INTERVAL_S * 6)
