"""systemd's notify protocol without a dependency: one datagram to `$NOTIFY_SOCKET`.

`READY=1` tells systemd the hub is up (`Type=notify`); `WATCHDOG=1` every half `WatchdogSec` proves the
event loop still turns, so a hung hub is restarted rather than left silent in a patient's home.
"""

from __future__ import annotations

import asyncio
import os
import socket

WATCHDOG_FRACTION = 0.5
"""systemd's advice: ping at half the watchdog interval, so one late ping does not kill the service."""


def notify(message: str) -> bool:
    """Send `message` (e.g. 'READY=1'); False when not run by systemd or the socket is gone."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half of systemd's `WatchdogSec` for this process, or None when no watchdog is armed."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 * WATCHDOG_FRACTION


async def watchdog(interval_s: float) -> None:
    """Ping for as long as the loop runs this task."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval_s)
