"""Connect to a device with retries, a backoff chosen by the kind of failure, and a safety timeout.

The policy follows bleak-retry-connector (Home Assistant's connector): a few short attempts rather than one
long one, a short backoff for transient link-layer aborts, a long one when the adapter is busy or out of
connection slots, no retry for authentication failures, and an outer timeout in case the stack never answers.
We do not use that package itself: on Linux it imports `bluetooth-adapters`/`dbus-fast` and asks BlueZ over
D-Bus about connected devices and disconnect completion whatever backend the client uses, so it cannot run
against an injected backend (the simulator, or a remote proxy) without a system bus; its timeouts are module
constants, and it classifies errors by matching message text. Here the backend is a parameter and errors are
classified by exception type and BlueZ error name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from bleak import BleakClient
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError

from gateway.ble.errors import ConnectError, DeviceNotFoundError, PairingError

logger = logging.getLogger(__name__)

AUTHENTICATION_ERRORS: Final = frozenset(
    {
        "org.bluez.Error.AuthenticationFailed",
        "org.bluez.Error.AuthenticationRejected",
        "org.bluez.Error.AuthenticationCanceled",
        "org.bluez.Error.AuthenticationTimeout",
    }
)
"""BlueZ Device1.Pair/Connect errors a retry cannot fix: the PIN or the device's pairing mode is wrong."""

BUSY_ERRORS: Final = frozenset({"org.bluez.Error.InProgress", "org.bluez.Error.NotReady"})
"""The adapter is busy with another connect or discovery: wait long enough for it to finish."""


class FailureKind(Enum):
    TRANSIENT = "transient"
    BUSY = "busy"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    AUTHENTICATION = "authentication"


def classify(exc: BaseException) -> FailureKind:
    """What kind of connect failure `exc` is, by type and BlueZ error name (never by message text)."""
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, BleakDeviceNotFoundError):
        return FailureKind.NOT_FOUND
    if isinstance(exc, BleakDBusError):
        if exc.dbus_error in AUTHENTICATION_ERRORS:
            return FailureKind.AUTHENTICATION
        if exc.dbus_error in BUSY_ERRORS:
            return FailureKind.BUSY
    return FailureKind.TRANSIENT


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and waits; defaults are bleak-retry-connector's, chosen there from field reports."""

    max_attempts: int = 4
    """Four short attempts finish (or give up) well inside a minute."""
    connect_timeout: float = 20.0
    """Seconds bleak may take for one connect including service discovery (BlueZ needs up to ~15 s)."""
    safety_timeout: float = 60.0
    """Outer bound per attempt in case the stack itself never returns."""
    transient_backoff: float = 0.25
    """Lets the stack run its cleanup after an aborted link (BlueZ "Software caused connection abort")."""
    timeout_backoff: float = 0.25
    busy_backoff: float = 4.0
    """An adapter out of slots or mid-discovery needs seconds, not milliseconds, to free up."""
    not_found_backoff: float = 4.0
    """A device that stopped advertising usually starts again only after its next advertising burst."""

    def backoff(self, kind: FailureKind) -> float:
        return {
            FailureKind.TRANSIENT: self.transient_backoff,
            FailureKind.TIMEOUT: self.timeout_backoff,
            FailureKind.BUSY: self.busy_backoff,
            FailureKind.NOT_FOUND: self.not_found_backoff,
            FailureKind.AUTHENTICATION: 0.0,
        }[kind]


async def connect(
    device: BLEDevice,
    *,
    backend: type[BaseBleakClient] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    pair: bool = False,
    disconnected_callback: Callable[[BleakClient], None] | None = None,
    pairing_hint: str = "put the device in pairing mode and check the PIN",
) -> BleakClient:
    """A connected `BleakClient` (bonded first when `pair`), or `ConnectError` / `PairingError`.

    Takes a `BLEDevice` from the shared scanner: an address string would make bleak scan again.
    """
    last: BaseException | None = None
    kind = FailureKind.TRANSIENT
    for attempt in range(1, policy.max_attempts + 1):
        client = BleakClient(
            device,
            disconnected_callback=disconnected_callback,
            timeout=policy.connect_timeout,
            pair=pair,
            backend=backend,
        )
        try:
            async with asyncio.timeout(policy.safety_timeout):
                await client.connect()
            return client
        except (BleakError, TimeoutError) as exc:
            last, kind = exc, classify(exc)
            logger.info(
                "connect %s attempt %d/%d failed (%s): %s",
                device.address,
                attempt,
                policy.max_attempts,
                kind.value,
                exc,
            )
            if kind is FailureKind.AUTHENTICATION:
                raise PairingError(device.address, str(exc), pairing_hint) from exc
            if attempt < policy.max_attempts:
                await asyncio.sleep(policy.backoff(kind))
    assert last is not None
    error = DeviceNotFoundError if kind is FailureKind.NOT_FOUND else ConnectError
    raise error(device.address, policy.max_attempts, f"{kind.value}: {last}") from last
