"""A generic simulated BLE peripheral: advertising, a GATT table, pairing, an outbox, and fault knobs.

It knows no health profile. Device models (cuffs, meters, scales) subclass it and override the hooks
``on_connect``, ``on_subscribe``, ``on_unsubscribe``, ``on_read``, ``on_write``, ``on_disconnect`` and
``check_passkey``, or build it by composition from a service table with per-characteristic handlers.

Two ways for a device to send values:

* ``await notify(uuid, data)`` sends now; it returns False (and records the value in ``lost``) when the
  central has not enabled the CCCD yet, exactly what happens to a real device that does not wait.
* ``enqueue(uuid, data)`` puts values in the device's outbox. A well-behaved device sends them when the
  central subscribes; with ``faults.send_before_subscribe`` it sends them as soon as the link is up and they
  are lost (the field's "lost first indication"). ``disconnect_after_flush`` models devices that hang up
  once they have sent everything.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bleak.backends.scanner import AdvertisementData

from simulators.ble.faults import Faults
from simulators.ble.gatt import SimCharacteristic, SimService, UuidLike, assign_handles, normalize_uuid
from simulators.ble.link import Link, LinkCentral

if TYPE_CHECKING:
    from simulators.ble.world import SimulatedAir

_ADDRESS = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")

DEFAULT_PERIPHERAL_MTU = 185
"""ATT_MTU typical of the Nordic/Dialog SoCs inside home medical devices (their SDK default is 185-247);
the negotiated MTU is the smaller of this and the hub's 517."""

DEFAULT_ADVERTISING_INTERVAL = 0.1
"""Seconds between advertisements: the 100 ms Apple and the SIG recommend for devices that want to be found
quickly right after the user takes a measurement."""

_UNSET: Any = object()


class SimulatedPeripheral:
    """A BLE peripheral in a ``SimulatedAir``; one central at a time, like the devices we support."""

    def __init__(
        self,
        address: str,
        name: str | None = None,
        *,
        services: Sequence[SimService] = (),
        advertised_service_uuids: Iterable[UuidLike] = (),
        manufacturer_data: Mapping[int, bytes] | None = None,
        service_data: Mapping[UuidLike, bytes] | None = None,
        tx_power: int | None = None,
        rssi: int = -60,
        advertising: bool = True,
        advertising_interval: float = DEFAULT_ADVERTISING_INTERVAL,
        connectable: bool = True,
        advertise_while_connected: bool = False,
        resume_advertising_on_disconnect: bool = True,
        mtu: int = DEFAULT_PERIPHERAL_MTU,
        requires_bonding: bool = False,
        passkey: int | None = None,
        pairable: bool = True,
        disconnect_after_flush: bool = False,
        faults: Faults | None = None,
    ) -> None:
        address = address.upper()
        if not _ADDRESS.match(address):
            raise ValueError(f"{address!r} is not a Bluetooth address like 'AA:BB:CC:DD:EE:FF'")
        if not 23 <= mtu <= 517:
            raise ValueError("ATT_MTU is between 23 and 517")
        if passkey is not None and not 0 <= passkey <= 999_999:
            raise ValueError("a passkey is a 6-digit number")
        self.address = address
        self.name = name
        self.services = list(services)
        assign_handles(self.services)
        self._chars: dict[str, SimCharacteristic] = {}
        self._chars_by_handle: dict[int, SimCharacteristic] = {}
        for service in self.services:
            for char in service.characteristics:
                if char.uuid in self._chars:
                    raise ValueError(f"characteristic {char.uuid} appears twice (the table is keyed by UUID)")
                self._chars[char.uuid] = char
                self._chars_by_handle[char.handle] = char
        self.advertised_service_uuids = [normalize_uuid(u) for u in advertised_service_uuids]
        self.manufacturer_data = dict(manufacturer_data or {})
        self.service_data = {normalize_uuid(k): bytes(v) for k, v in (service_data or {}).items()}
        self.tx_power = tx_power
        self.rssi = rssi
        self.advertising = advertising
        self.advertising_interval = advertising_interval
        self.connectable = connectable
        self.advertise_while_connected = advertise_while_connected
        self.resume_advertising_on_disconnect = resume_advertising_on_disconnect
        self.mtu = mtu
        self.requires_bonding = requires_bonding
        self.passkey = passkey
        self.pairable = pairable
        self.bonded = False
        self.disconnect_after_flush = disconnect_after_flush
        self.faults = faults if faults is not None else Faults()

        self.link: Link | None = None
        self.outbox: dict[str, deque[tuple[int, bytes]]] = {}
        self._outbox_seq = itertools.count()
        self.lost: list[tuple[str, bytes]] = []
        """Values sent while nobody listened (not connected, or CCCD not enabled)."""
        self.received_writes: list[tuple[str, bytes]] = []
        """Every write the device received, in order (commands included)."""
        self.connect_attempts = 0
        self.connections = 0
        self._air: SimulatedAir | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address} {self.name!r}>"

    # placement in the air

    def _attach(self, air: SimulatedAir) -> None:
        if self._air is not None and self._air is not air:
            raise ValueError(f"{self!r} already belongs to {self._air!r}")
        self._air = air

    @property
    def air(self) -> SimulatedAir:
        if self._air is None:
            raise RuntimeError(f"{self!r} is not in a SimulatedAir; call air.add(peripheral) first")
        return self._air

    @property
    def in_range(self) -> bool:
        return self._air is not None and self._air.get(self.address) is self

    @property
    def is_connected(self) -> bool:
        return self.link is not None

    @property
    def is_advertising(self) -> bool:
        """What a scanner sees: advertising, in range, and (usually) not connected."""
        return self.advertising and self.in_range and (self.link is None or self.advertise_while_connected)

    @property
    def is_connectable(self) -> bool:
        return self.is_advertising and self.connectable and self.link is None

    # advertising

    def start_advertising(self) -> None:
        self.advertising = True
        if self._air is not None:
            self._air.advertisement_changed(self)

    def stop_advertising(self) -> None:
        self.advertising = False
        if self._air is not None:
            self._air.notify_changed()

    def update_advertisement(
        self,
        *,
        name: str | None = _UNSET,
        manufacturer_data: Mapping[int, bytes] = _UNSET,
        service_data: Mapping[UuidLike, bytes] = _UNSET,
        service_uuids: Iterable[UuidLike] = _UNSET,
        rssi: int = _UNSET,
    ) -> None:
        """Change what the device advertises (e.g. Omron's "time not set" flag); scanners see it at once."""
        if name is not _UNSET:
            self.name = name
        if manufacturer_data is not _UNSET:
            self.manufacturer_data = dict(manufacturer_data)
        if service_data is not _UNSET:
            self.service_data = {normalize_uuid(k): bytes(v) for k, v in service_data.items()}
        if service_uuids is not _UNSET:
            self.advertised_service_uuids = [normalize_uuid(u) for u in service_uuids]
        if rssi is not _UNSET:
            self.rssi = rssi
        if self._air is not None:
            self._air.advertisement_changed(self)

    def advertisement_data(self) -> AdvertisementData:
        """The advertisement as bleak reports it (advertising data and scan response merged)."""
        return AdvertisementData(
            local_name=self.name,
            manufacturer_data=dict(self.manufacturer_data),
            service_data=dict(self.service_data),
            service_uuids=list(self.advertised_service_uuids),
            tx_power=self.tx_power,
            rssi=self.rssi,
            platform_data=(),
        )

    # GATT table

    def characteristic(self, uuid: UuidLike) -> SimCharacteristic:
        normalized = normalize_uuid(uuid)
        try:
            return self._chars[normalized]
        except KeyError:
            raise KeyError(f"{self!r} has no characteristic {normalized}") from None

    def characteristic_by_handle(self, handle: int) -> SimCharacteristic | None:
        return self._chars_by_handle.get(handle)

    def set_value(self, uuid: UuidLike, data: bytes) -> None:
        """Set the stored value that reads return (when no read handler overrides it)."""
        self.characteristic(uuid).value = bytes(data)

    def requires_bonding_for(self, char: SimCharacteristic) -> bool:
        return self.requires_bonding if char.requires_bonding is None else char.requires_bonding

    # sending values

    async def notify(self, uuid: UuidLike, data: bytes) -> bool:
        """Notify or indicate (as the central subscribed) now. An indication returns once the central has
        handled it. Returns False, recording the value in ``lost``, if nobody received it."""
        char = self.characteristic(uuid)
        if not char.can_notify:
            raise ValueError(f"{char.uuid} has neither 'notify' nor 'indicate'")
        data = bytes(data)
        link = self.link
        delivered = link is not None and await link.send(char, data)
        if not delivered:
            self.lost.append((char.uuid, data))
        return delivered

    def enqueue(self, uuid: UuidLike, *payloads: bytes) -> None:
        """Queue values to send; they go out when the central subscribes (or at once, if it already has)."""
        char = self.characteristic(uuid)
        if not char.can_notify:
            raise ValueError(f"{char.uuid} has neither 'notify' nor 'indicate'")
        queue = self.outbox.setdefault(char.uuid, deque())
        queue.extend((next(self._outbox_seq), bytes(p)) for p in payloads)
        link = self.link
        if link is not None and (char.uuid in link.subscriptions or self.faults.send_before_subscribe):
            link.spawn(self.flush(char.uuid), name=f"flush-{char.uuid}")

    @property
    def outbox_size(self) -> int:
        return sum(len(q) for q in self.outbox.values())

    async def flush(self, uuid: UuidLike | None = None) -> int:
        """Send queued values (of one characteristic, or all in queue order); returns how many were sent.

        A value counts as sent once it went on the air, even if nobody listened: that is how the device
        sees it. With ``disconnect_after_flush`` the device hangs up when the outbox is empty.
        """
        link = self.link
        if link is None:
            return 0
        only = normalize_uuid(uuid) if uuid is not None else None
        sent = 0
        async with link.send_lock:
            while self.link is link and not link.closing:
                item = self._pop_outbox(only)
                if item is None:
                    break
                await self.notify(*item)
                sent += 1
        if sent and self.disconnect_after_flush and self.outbox_size == 0 and self.link is link:
            await self.disconnect()
        return sent

    def _pop_outbox(self, only: str | None) -> tuple[str, bytes] | None:
        candidates = [only] if only is not None else list(self.outbox)
        best: str | None = None
        for uuid in candidates:
            queue = self.outbox.get(uuid)
            if queue and (best is None or queue[0][0] < self.outbox[best][0][0]):
                best = uuid
        if best is None:
            return None
        return best, self.outbox[best].popleft()[1]

    # connection lifecycle

    async def disconnect(self, reason: str = "remote user terminated connection") -> None:
        """Device-initiated disconnect; returns once the central has seen it."""
        if self.link is not None:
            await self.link.close(reason)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run firmware work for the current connection (cancelled when the link drops)."""
        if self.link is None:
            coro.close()
            raise RuntimeError("not connected; use self.air.spawn() for work outside a connection")
        return self.link.spawn(coro, name=name)

    def forget_bond(self) -> None:
        """The device lost its bond (battery change, factory reset); the hub must pair again."""
        self.bonded = False

    async def accept_connection(self, central: LinkCentral) -> Link:
        """Called by the client backend: wait until connectable, apply connect faults, run ``on_connect``."""
        air = self.air
        self.connect_attempts += 1
        while True:
            await air.wait_until(lambda: self.is_connectable)
            if self.faults.response_delay > 0:
                await air.clock.sleep(self.faults.response_delay)
            if self.is_connectable:
                break
        failure = self.faults.take_connect_failure(self.address)
        if failure is not None:
            raise failure
        link = Link(air, self, central, mtu=min(air.central_mtu, self.mtu))
        self.link = link
        self.connections += 1
        air.notify_changed()
        central.on_link_opened(link)
        await self.run_hook(self.on_connect)
        if self.faults.send_before_subscribe and self.link is link:
            if self.faults.eager_send_delay > 0:
                link.spawn(self._eager_flush(), name="eager-flush")
            else:
                await self.flush()
        return link

    async def _eager_flush(self) -> None:
        await self.air.clock.sleep(self.faults.eager_send_delay)
        await self.flush()

    def link_closed(self, link: Link, reason: str) -> None:
        """Called by the link's teardown (synchronously, after queued traffic was delivered)."""
        if self.link is not link:
            return
        self.link = None
        if not self.resume_advertising_on_disconnect:
            self.advertising = False
        air = self.air
        air.advertisement_changed(self)
        air.spawn(self._call_on_disconnect(reason), name=f"{self.address}-disconnected")

    async def _call_on_disconnect(self, reason: str) -> None:
        await self.run_hook(lambda: self.on_disconnect(reason))

    async def subscription_started(self, uuid: str) -> None:
        """The central wrote the CCCD. Like firmware handling the write event, the hook runs before the write
        response; values waiting in the outbox start flowing right after it."""
        await self.run_hook(lambda: self.on_subscribe(uuid))
        if self.outbox.get(uuid) and self.link is not None:
            self.link.spawn(self.flush(uuid), name=f"flush-{uuid}")

    async def subscription_stopped(self, uuid: str) -> None:
        await self.run_hook(lambda: self.on_unsubscribe(uuid))

    async def run_hook(self, call: Callable[[], object]) -> None:
        """Run a lifecycle hook; a device model's bug is recorded (raised when the air closes) instead of
        being thrown into the hub's bleak call, which a real device could never do."""
        try:
            await self.air.call_hook(call())
        except Exception as exc:  # noqa: BLE001 - surfaced by SimulatedAir.close
            self.air.record_error(exc)

    async def pair_request(self, passkey: int | None) -> bool:
        """SMP pairing as the device sees it; bonds on success."""
        if self.faults.response_delay > 0:
            await self.air.clock.sleep(self.faults.response_delay)
        accepted = bool(await self.air.call_hook(self.check_passkey(passkey)))
        if accepted:
            self.bonded = True
        return accepted

    # hooks for device models (sync or async)

    def on_connect(self) -> Awaitable[None] | None:
        """The link is up; runs before the central's connect() returns, so values sent here are lost.

        Hooks run inline, like firmware event handlers: long work (a transfer, a timed hang-up) belongs in
        ``self.spawn(...)``."""
        return None

    def on_subscribe(self, uuid: str) -> Awaitable[None] | None:
        """The central enabled notifications/indications on ``uuid`` (queued values follow the hook)."""
        return None

    def on_unsubscribe(self, uuid: str) -> Awaitable[None] | None:
        return None

    def on_read(self, uuid: str) -> bytes | Awaitable[bytes]:
        """Answer a read; default: the characteristic's read handler, else its stored value."""
        char = self.characteristic(uuid)
        if char.on_read is not None:
            return char.on_read()
        return char.value

    def on_write(self, uuid: str, data: bytes) -> Awaitable[None] | None:
        """Handle a write; default: the characteristic's write handler, else store the value.

        Raise ``AttError`` to answer with an ATT error. Work that real devices do *after* the write
        response (e.g. streaming records) belongs in ``self.spawn(...)``.
        """
        char = self.characteristic(uuid)
        if char.on_write is not None:
            return char.on_write(data)
        char.value = data
        return None

    def on_disconnect(self, reason: str) -> Awaitable[None] | None:
        return None

    def check_passkey(self, passkey: int | None) -> bool | Awaitable[bool]:
        """Accept pairing? Default: in pairing mode, and the right PIN if the device has one."""
        return self.pairable and (self.passkey is None or passkey == self.passkey)
