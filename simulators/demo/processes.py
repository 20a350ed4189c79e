"""The demo's child processes: started with their own log files, watched, and stopped cleanly.

Each service of the demo (ingest, alert engine, API, every simulated home) is the project's real command
in its own process, the way it runs in production; this module only starts, watches and stops them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# A hub flushes its outbox and publishes `online: false` on SIGTERM; ingest finishes its batch. Both take
# well under a second on loopback; 10 s only bounds a stuck child before it is killed.
STOP_TIMEOUT_S = 10.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = field(default=0.0)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 12) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Supervisor:
    """Starts `rpm ...` commands as children of this process and stops them all on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *rpm_args: str) -> Child:
        argv = [sys.executable, "-m", "rpmctl.main", *rpm_args]
        child = Child(name, argv, self.log_dir / f"{name}.log")
        with child.log_path.open("ab") as log:
            child.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl-C in the terminal reaches only the supervisor, which then
                # stops the children in order instead of all of them at once.
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        child.started_at = time.monotonic()
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        """Children that exited although nobody asked them to."""
        return [child for child in self.children if child.process is not None and not child.running]

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.running and child.process is not None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
