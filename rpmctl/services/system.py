"""Thin, error-translating wrappers around the host: commands, apt, ports, processes.

Every failure becomes a `CommandError` that names the cause and the fix, because the
people who run `rpm services up` first are new to the project.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rpmctl.errors import CommandError
from rpmctl.services.progress import Progress


def is_root() -> bool:
    return os.geteuid() == 0


def os_release() -> dict[str, str]:
    """The host's /etc/os-release as a dict (empty when the file is missing)."""
    values: dict[str, str] = {}
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def debian_major() -> int | None:
    """12 for bookworm, 13 for trixie; None when the host is not Debian."""
    info = os_release()
    if info.get("ID") != "debian":
        return None
    try:
        return int(info.get("VERSION_ID", "").split(".")[0])
    except ValueError:
        return {"bookworm": 12, "trixie": 13}.get(info.get("VERSION_CODENAME", ""))


def run(
    argv: Sequence[str],
    *,
    what: str,
    fix: str | None = None,
    on_line: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command; return its output, or raise with the output's tail on failure.

    `on_line` streams each output line as it arrives (for progress of long installs).
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
    except FileNotFoundError:
        raise CommandError(f"{what}: {argv[0]} is not installed", fix=fix) from None
    lines: list[str] = []
    with proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if on_line is not None:
                on_line(line.rstrip("\n"))
        code = proc.wait()
    output = "\n".join(lines)
    if code != 0:
        tail = "\n".join(lines[-15:])
        if _looks_like_disk_full(output):
            raise CommandError(f"{what}: the disk is full", fix="free disk space (df -h) and run it again")
        raise CommandError(f"{what} failed (exit {code}):\n{tail}", fix=fix)
    return output


def _looks_like_disk_full(output: str) -> bool:
    return "No space left on device" in output or os.strerror(errno.ENOSPC) in output


def require_free_space(path: Path, needed_bytes: int, what: str) -> None:
    probe = path
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed_bytes:
        raise CommandError(
            f"{what} needs {needed_bytes / 2**20:.0f} MiB free at {probe}, only {free / 2**20:.0f} MiB are",
            fix="free disk space or point RPM_STATE_DIR at a larger disk",
        )


_apt_updated = False


def apt_install(packages: Sequence[str], progress: Progress) -> None:
    """Install Debian packages that are missing; needs root and apt."""
    missing = [name for name in packages if not _dpkg_installed(name)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise CommandError(
            f"{', '.join(missing)} missing and there is no apt-get on this machine",
            fix="install them with your package manager, or point RPM_DATABASE_URL / RPM_MQTT_URL at servers",
        )
    if not is_root():
        raise CommandError(
            f"{', '.join(missing)} must be installed, which needs root",
            fix=f"run once as root (sudo rpm services up), or: sudo apt-get install {' '.join(missing)}",
        )
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with progress.step(f"installing {' '.join(missing)} (apt-get)"):
        if not _apt_updated:
            run(["apt-get", "update", "-q"], what="apt-get update", fix="check the network", env=env)
            _apt_updated = True
        run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            what=f"apt-get install {' '.join(missing)}",
            fix="read apt's message above",
            env=env,
        )


def _dpkg_installed(package: str) -> bool:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return shutil.which(package) is not None
    return out.returncode == 0 and "install ok installed" in out.stdout


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, *, timeout: float, alive: Callable[[], bool]) -> bool:
    """Wait until the port accepts connections; stop early when the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        if not alive():
            return False
        time.sleep(0.05)
    return False


def pid_alive(pid: int, name_hint: str) -> bool:
    """True when `pid` runs and its command line mentions `name_hint` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return name_hint.encode() in cmdline


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_secret(path: Path, value: str) -> None:
    """Write a secret readable by its owner only (never committed: it lives in the state dir)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)


def read_or_create_secret(path: Path) -> str:
    import secrets

    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    write_secret(path, value)
    return value
