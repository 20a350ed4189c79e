"""One LE connection between the hub (a client backend) and a simulated peripheral.

The link owns what exists only while connected: the central's subscriptions (CCCD state), the negotiated
MTU, tasks the device runs for this connection, and the ordering of traffic. Notifications, indications and
the disconnect event all travel through ``loop.call_soon``, which is FIFO, so the central sees them in the
order the device produced them, and the device never runs the central's callbacks inside its own call stack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bleak.exc import BleakDBusError

from simulators.ble.faults import Operation
from simulators.ble.gatt import (
    ATT_INSUFFICIENT_AUTHENTICATION,
    ATT_INVALID_ATTRIBUTE_VALUE_LENGTH,
    ATT_READ_NOT_PERMITTED,
    ATT_REQUEST_NOT_SUPPORTED,
    ATT_UNLIKELY_ERROR,
    ATT_WRITE_NOT_PERMITTED,
    MAX_ATTRIBUTE_LENGTH,
    AttError,
    SimCharacteristic,
    SimDescriptor,
)

if TYPE_CHECKING:
    from simulators.ble.peripheral import SimulatedPeripheral
    from simulators.ble.world import SimulatedAir

logger = logging.getLogger(__name__)

NotifyMode = Literal["notify", "indicate"]


class LinkCentral(Protocol):
    """What the link needs from the central side (implemented by ``SimulatedClientBackend``)."""

    def on_link_opened(self, link: Link) -> None: ...

    def on_link_closed(self, link: Link, reason: str) -> None: ...


@dataclass
class Subscription:
    """An enabled CCCD: where the central wants the values, and whether they are confirmed (indicate)."""

    callback: Callable[[bytearray], None]
    mode: NotifyMode


def link_lost_error() -> BleakDBusError:
    """What BlueZ answers to a request whose link went away while it was in flight."""
    return BleakDBusError("org.bluez.Error.Failed", ["Not connected"])


class Link:
    """A connection; created by ``SimulatedPeripheral.accept_connection``."""

    def __init__(
        self, air: SimulatedAir, peripheral: SimulatedPeripheral, central: LinkCentral, mtu: int
    ) -> None:
        self.air = air
        self.peripheral = peripheral
        self.central = central
        self.mtu = mtu
        self.subscriptions: dict[str, Subscription] = {}
        self.notifications_sent = 0
        self.notifications_delivered = 0
        self.is_open = True
        self.close_reason: str | None = None
        self._closing = False
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.send_lock = asyncio.Lock()

    def __repr__(self) -> str:
        state = "open" if self.is_open else f"closed ({self.close_reason})"
        return f"<Link {self.peripheral.address} mtu={self.mtu} {state}>"

    # lifetime

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run device work that belongs to this connection; cancelled when the link closes."""
        task = self.air.spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def close(self, reason: str) -> asyncio.Future[None]:
        """Tear the link down after traffic already queued to the central has been delivered.

        Returns a future that resolves once both sides have seen the disconnection.
        """
        if not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_soon(self._teardown, reason)
        return self._closed

    @property
    def closing(self) -> bool:
        """True from the moment a close was requested: nothing new goes on the air."""
        return self._closing

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    def _teardown(self, reason: str) -> None:
        self.is_open = False
        self.close_reason = reason
        self.subscriptions.clear()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        try:
            self.peripheral.link_closed(self, reason)
        finally:
            try:
                self.central.on_link_closed(self, reason)
            except Exception as exc:  # noqa: BLE001 - a hub disconnected_callback failed: surfaced at air close
                self.air.record_error(exc)
            if not self._closed.done():
                self._closed.set_result(None)

    def require_open(self) -> None:
        if not self.is_open or self._closing:
            raise link_lost_error()

    # requests from the central

    async def _request_prologue(self, char: SimCharacteristic, operation: Operation) -> None:
        """Common to every ATT request: the device's response time, link loss, injected errors, security."""
        self.require_open()
        delay = self.peripheral.faults.response_delay
        if delay > 0:
            await self.air.clock.sleep(delay)
            self.require_open()
        code = self.peripheral.faults.take_att_error(operation, char.uuid)
        if code is not None:
            raise AttError(code)
        if self.peripheral.requires_bonding_for(char) and not self.peripheral.bonded:
            raise AttError(ATT_INSUFFICIENT_AUTHENTICATION)

    async def read(self, char: SimCharacteristic) -> bytes:
        await self._request_prologue(char, "read")
        if "read" not in char.properties:
            raise AttError(ATT_READ_NOT_PERMITTED)
        value = bytes(await self._firmware(lambda: self.peripheral.on_read(char.uuid)))
        return self.peripheral.faults.maybe_garble(value)

    async def write(self, char: SimCharacteristic, data: bytes, *, response: bool) -> None:
        """Write request (``response=True``) or command. A command has no response on the air, so the
        device's errors are logged, not returned."""
        if not response:
            self.require_open()
            if "write-without-response" not in char.properties:
                raise AttError(ATT_REQUEST_NOT_SUPPORTED)
            if len(data) > self.mtu - 3:
                raise AttError(ATT_INVALID_ATTRIBUTE_VALUE_LENGTH)
            try:
                await self._handle_write(char, data)
            except AttError as exc:
                logger.debug("write command to %s dropped by the device: %s", char.uuid, exc)
            return
        await self._request_prologue(char, "write")
        if "write" not in char.properties:
            raise AttError(ATT_WRITE_NOT_PERMITTED)
        if len(data) > MAX_ATTRIBUTE_LENGTH:
            raise AttError(ATT_INVALID_ATTRIBUTE_VALUE_LENGTH)
        await self._handle_write(char, data)

    async def _handle_write(self, char: SimCharacteristic, data: bytes) -> None:
        self.peripheral.received_writes.append((char.uuid, data))
        await self._firmware(lambda: self.peripheral.on_write(char.uuid, data))

    async def _firmware(self, call: Callable[[], object]) -> Any:
        """Run a request handler. ``AttError`` is the device's answer; any other exception is a device
        model bug, recorded for the air's close and answered with ATT "Unlikely Error" (0x0E)."""
        try:
            return await self.air.call_hook(call())
        except AttError:
            raise
        except Exception as exc:  # surfaced by SimulatedAir.close
            self.air.record_error(exc)
            raise AttError(ATT_UNLIKELY_ERROR) from exc

    async def read_descriptor(self, char: SimCharacteristic, descriptor: SimDescriptor | None) -> bytes:
        """Read a descriptor; ``None`` means the CCCD, whose value reflects this link's subscription."""
        self.require_open()
        delay = self.peripheral.faults.response_delay
        if delay > 0:
            await self.air.clock.sleep(delay)
            self.require_open()
        if descriptor is not None:
            return descriptor.value
        subscription = self.subscriptions.get(char.uuid)
        if subscription is None:
            return b"\x00\x00"
        return b"\x01\x00" if subscription.mode == "notify" else b"\x02\x00"

    async def write_descriptor(self, descriptor: SimDescriptor, data: bytes) -> None:
        self.require_open()
        delay = self.peripheral.faults.response_delay
        if delay > 0:
            await self.air.clock.sleep(delay)
            self.require_open()
        descriptor.value = data

    async def subscribe(self, char: SimCharacteristic, callback: Callable[[bytearray], None]) -> None:
        """Write the CCCD (notify preferred over indicate, as bleak documents), then let the device react."""
        await self._request_prologue(char, "subscribe")
        mode: NotifyMode = "notify" if "notify" in char.properties else "indicate"
        self.subscriptions[char.uuid] = Subscription(callback, mode)
        await self.peripheral.subscription_started(char.uuid)

    async def unsubscribe(self, char: SimCharacteristic) -> None:
        self.require_open()
        if self.subscriptions.pop(char.uuid, None) is not None:
            await self.peripheral.subscription_stopped(char.uuid)

    # values from the device

    async def send(self, char: SimCharacteristic, data: bytes) -> bool:
        """Send a notification or indication; False if the central did not get it (not subscribed, link
        gone). An indication returns once the central has handled it (the ATT confirmation)."""
        subscription = self.subscriptions.get(char.uuid)
        if self._closing or subscription is None:
            return False
        payload = self.peripheral.faults.maybe_garble(data)
        if len(payload) > self.mtu - 3:
            raise ValueError(
                f"{len(payload)}-byte value for {char.uuid} does not fit ATT_MTU {self.mtu} "
                f"(max {self.mtu - 3}); split it like the device's real protocol does"
            )
        loop = asyncio.get_running_loop()
        confirmed: asyncio.Future[bool] | None = None
        if subscription.mode == "indicate":
            confirmed = loop.create_future()
        loop.call_soon(self._dispatch, char.uuid, subscription, payload, confirmed)
        self.notifications_sent += 1
        limit = self.peripheral.faults.drop_link_after_notifications
        if limit is not None and self.notifications_sent >= limit:
            self.close("connection timeout")
        delivered = True
        if confirmed is not None:
            delivered = await confirmed
            delay = self.peripheral.faults.response_delay
            if delivered and delay > 0:
                await self.air.clock.sleep(delay)
        return delivered

    def _dispatch(
        self, uuid: str, subscription: Subscription, payload: bytes, confirmed: asyncio.Future[bool] | None
    ) -> None:
        # a value already on the air when the central disables the CCCD still arrives, like on a radio
        delivered = self.is_open
        if delivered:
            self.notifications_delivered += 1
            try:
                subscription.callback(bytearray(payload))
            except Exception as exc:  # noqa: BLE001 - the hub's notification handler failed: surfaced at air close
                self.air.record_error(exc)
        if confirmed is not None and not confirmed.done():
            confirmed.set_result(delivered)
