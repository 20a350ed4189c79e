"""`rpm api run --workers 2`: both worker processes serve the port, and the kernel spreads keep-alive
clients over them (each worker accepts on its own SO_REUSEPORT socket; on one shared listening socket the
worker that happened to be waiting took most of them)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_api_support import SECRET, free_port, scratch_database

pytest_plugins = ["tests.test_api_support"]

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 32
# Under even spreading, fewer than this many on one of the two workers happens about once in 9,000 runs.
AT_LEAST = 6
ESTABLISHED, LISTEN = "01", "0A"


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                out.append(int(entry.name))
    return out


def _server_sockets(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets whose local port is `port`, in `state` (/proc/net/tcp's codes)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    return inodes


def _sockets_of(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[len("socket:[") : -1])
    return out


@pytest.fixture
def two_workers(database_url: str) -> Iterator[tuple[int, subprocess.Popen]]:
    with scratch_database(database_url) as url:
        port = free_port()
        command = [sys.executable, "-m", "rpmctl.main", "api", "run", "--workers", "2", "--port", str(port)]
        proc = subprocess.Popen(
            [*command, "--database-url", url],
            cwd=ROOT,
            env={**os.environ, "RPM_API_SESSION_SECRET": SECRET},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while len(_server_sockets(port, LISTEN)) < 2:
                assert proc.poll() is None, "rpm api run exited"
                assert time.monotonic() < deadline, "the workers did not listen"
                time.sleep(0.2)
            yield port, proc
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def _answered(sock: socket.socket) -> bool:
    """Send one GET on a connected socket (kept open) and read its status line."""
    sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    with sock.makefile("rb") as answer:
        return answer.readline().startswith(b"HTTP/1.1 200")


def test_keep_alive_clients_are_spread_over_the_workers(two_workers: tuple[int, subprocess.Popen]) -> None:
    port, proc = two_workers
    # All connected at once, as a load balancer or a benchmark opens them: a worker woken on a shared
    # listening socket accepts everything queued in one go.
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(CLIENTS)]
    try:
        assert all(_answered(sock) for sock in sockets)
        connections = _server_sockets(port, ESTABLISHED)
        per_worker = [len(_sockets_of(pid) & connections) for pid in _children(proc.pid)]
        assert len(per_worker) == 2
        assert sum(per_worker) == CLIENTS
        assert min(per_worker) >= AT_LEAST, per_worker
    finally:
        for sock in sockets:
            sock.close()
    proc.terminate()
    assert proc.wait(timeout=60) == 0
