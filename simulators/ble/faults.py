"""Fault-injection knobs for a simulated peripheral.

Each knob is a field the test (or a scenario) flips at any time; the link and the backend consult them at the
moment the affected operation happens. Counters count down so "fail the first K attempts" reads literally.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from bleak.exc import BleakDBusError

from simulators.ble.gatt import UuidLike, normalize_uuid

Operation: TypeAlias = Literal["read", "write", "subscribe"]
Garbler: TypeAlias = Callable[[bytes, random.Random], bytes]


def bluez_connect_abort(address: str) -> BaseException:
    """The error BlueZ most often gives for a failed LE connection (RF interference, busy device)."""
    return BleakDBusError("org.bluez.Error.Failed", ["Software caused connection abort"])


def random_garbage(data: bytes, rng: random.Random) -> bytes:
    """Replace a payload by random bytes of a random length (1 .. len+4), so both length and content checks
    of a decoder are exercised."""
    return rng.randbytes(rng.randint(1, len(data) + 4))


@dataclass
class Faults:
    """What can go wrong on the air or in the device's firmware.

    All delays are simulated seconds (see ``SimClock``).
    """

    fail_connects: int = 0
    """The next K connection attempts fail with ``connect_error``."""
    connect_error: Callable[[str], BaseException] = bluez_connect_abort
    """Builds the exception a failed attempt raises (given the address)."""

    response_delay: float = 0.0
    """Added to every read, write with response, subscription, service discovery and indication
    confirmation: a slow device."""

    drop_link_after_notifications: int | None = None
    """Drop the link (as a supervision timeout) once this many notifications/indications were delivered in
    the current connection."""

    garbage_next: int = 0
    """The next N outgoing payloads (notifications, indications, reads) are replaced by garbage."""
    garbage_rate: float = 0.0
    """Probability that any other outgoing payload is garbage (drawn from ``rng``, so runs are repeatable)."""
    garble: Garbler = random_garbage
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    send_before_subscribe: bool = False
    """The device flushes its outbox right after the link comes up instead of waiting for the central to
    enable the CCCD: whatever is sent before the subscription is lost (the "lost first indication")."""
    eager_send_delay: float = 0.0
    """How long after connecting an eager device starts sending."""

    att_errors: dict[tuple[Operation, str], list[int]] = field(default_factory=dict)
    """Queued ATT error codes per (operation, characteristic UUID); each request consumes one."""

    def inject_att_error(self, operation: Operation, char_uuid: UuidLike, code: int, times: int = 1) -> None:
        """Answer the next ``times`` requests of ``operation`` on ``char_uuid`` with ATT error ``code``."""
        queue = self.att_errors.setdefault((operation, normalize_uuid(char_uuid)), [])
        queue.extend([code] * times)

    def take_att_error(self, operation: Operation, char_uuid: str) -> int | None:
        """Consume the next injected error for this request, if any."""
        queue = self.att_errors.get((operation, char_uuid))
        if not queue:
            return None
        return queue.pop(0)

    def take_connect_failure(self, address: str) -> BaseException | None:
        """Consume one "fail the first K attempts" credit."""
        if self.fail_connects <= 0:
            return None
        self.fail_connects -= 1
        return self.connect_error(address)

    def maybe_garble(self, data: bytes) -> bytes:
        """Return the payload that actually goes on the air."""
        if self.garbage_next > 0:
            self.garbage_next -= 1
            return self.garble(data, self.rng)
        if self.garbage_rate > 0 and self.rng.random() < self.garbage_rate:
            return self.garble(data, self.rng)
        return data
