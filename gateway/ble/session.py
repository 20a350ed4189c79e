"""One connection to one device, driven by its firmware profile: the hub's real BLE code path.

Order matters and is the point of this module:

1. connect with a `BLEDevice` from the shared scanner (retries, backoff, bonding when the profile says so);
2. read Device Information once per device (cached) and the battery level;
3. subscribe to every measurement characteristic, its context, and the RACP *before* anything can be sent;
4. read the device clock (offset estimate) and, if the profile says so, write the hub's time;
5. get records: RACP "sequence >= last + 1", or wait for what the device pushes until it hangs up or idles;
6. every value goes through one ordered queue: decode, convert, `await on_reading(reading)`; only after the
   sink returned is the record's sequence stored as delivered (and, if the profile deletes, deleted).

Indications are confirmed by the OS stack (BlueZ) on receipt, before any application code runs, so for
devices that push and forget the hub cannot hold the confirmation back; what it controls is everything after
the sink: advancing `last_sequence`, RACP deletes, and ending the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bleak import BleakClient
from bleak.backends.client import BaseBleakClient
from bleak.exc import BleakError

from broker.contract.events import HubEventType
from broker.contract.readings import DeviceRef
from firmware_profiles import ClockMode, Profile, RecordStrategy
from gateway.ble.clock import ClockOffsetEstimator, LocalTime, OffsetMethod, observed_offset
from gateway.ble.codec.battery import decode_battery_level
from gateway.ble.codec.characteristic import full_uuid
from gateway.ble.codec.date_time import (
    CURRENT_TIME_UUID,
    CurrentTime,
    DeviceDateTime,
    current_time_for,
    encode_current_time,
    encode_date_time,
)
from gateway.ble.codec.errors import DecodeError
from gateway.ble.codec.glucose import GlucoseMeasurement
from gateway.ble.codec.glucose_context import GlucoseContext
from gateway.ble.codec.registry import decode
from gateway.ble.connector import RetryPolicy, connect
from gateway.ble.device_info import DeviceInfo, DeviceInfoCache
from gateway.ble.errors import BleError, ConnectError, GattError, LinkLostError, PairingError, RacpError
from gateway.ble.events import DeviceEvent
from gateway.ble.gatt import BATTERY_LEVEL, GattLink
from gateway.ble.pairing import needs_pairing, pairing_hint
from gateway.ble.racp import RacpClient
from gateway.ble.readings import (
    AnyReading,
    Discarded,
    ReadingContext,
    device_time_of,
    to_reading,
)
from gateway.ble.scanner import HubClock, Sighting, utc_now
from gateway.ble.state import DeviceState, DeviceStateStore
from gateway.ble.status import DeviceStatus

logger = logging.getLogger(__name__)

ReadingSink = Callable[[AnyReading], Awaitable[None]]
EventSink = Callable[[DeviceEvent], Awaitable[None] | None]
StatusSink = Callable[[DeviceStatus], Awaitable[None] | None]


class SessionOutcome(StrEnum):
    COMPLETE = "complete"
    """Everything the profile asks for was done; the hub hung up."""
    DEVICE_DISCONNECTED = "device_disconnected"
    """The device hung up by itself after sending (normal for cuffs and scales)."""
    IDLE = "idle"
    """The device stopped sending and the hub hung up after the profile's idle timeout."""
    LINK_LOST = "link_lost"
    """The link dropped mid-procedure; undelivered records are fetched next time."""
    FAILED = "failed"
    """A procedure failed (RACP error or timeout); see `SessionResult.error`."""


@dataclass(frozen=True)
class SessionConfig:
    """Hub-wide settings for sessions; `client_backend=None` is bleak's platform backend."""

    local_time: LocalTime = field(default_factory=LocalTime)
    clock: HubClock = utc_now
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    client_backend: type[BaseBleakClient] | None = None


@dataclass
class SessionResult:
    address: str
    profile_id: str
    device_id: str
    outcome: SessionOutcome
    readings: list[AnyReading] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    discarded: int = 0
    decode_errors: int = 0
    status: DeviceStatus | None = None
    error: BleError | None = None


@dataclass(frozen=True, slots=True)
class _Value:
    uuid: str
    data: bytes
    received_at: datetime


async def _maybe_await(result: object) -> None:
    if inspect.isawaitable(result):
        await result


class DeviceSession:
    """Run one connection to the device of `sighting` with `profile`; `run()` once per instance."""

    def __init__(
        self,
        sighting: Sighting,
        profile: Profile,
        *,
        store: DeviceStateStore,
        on_reading: ReadingSink,
        on_event: EventSink | None = None,
        on_status: StatusSink | None = None,
        config: SessionConfig | None = None,
        device_info: DeviceInfoCache | None = None,
    ) -> None:
        self.sighting = sighting
        self.profile = profile
        self.address = sighting.address
        self._store = store
        self._on_reading = on_reading
        self._on_event = on_event
        self._on_status = on_status
        self.config = config if config is not None else SessionConfig()
        self._info_cache = device_info if device_info is not None else DeviceInfoCache()
        self._queue: asyncio.Queue[_Value] = asyncio.Queue()
        self._disconnected = asyncio.Event()
        self._value_arrived = asyncio.Event()
        self._activity = 0
        self._client: BleakClient | None = None
        self._state = DeviceState()
        self._estimator = ClockOffsetEstimator()
        self._offset_s: float | None = None
        self._clock_read = False
        self._device: DeviceRef | None = None
        self._pending: tuple[GlucoseMeasurement, datetime] | None = None
        self._sequence_frozen = False
        self._live_offsets: list[float] = []
        self._battery: int | None = None
        self._racp: RacpClient | None = None
        self.result = SessionResult(self.address, profile.id, self.address, SessionOutcome.FAILED)

    # ---- public entry point

    async def run(self) -> SessionResult:
        """Connect, collect, deliver, hang up. `ConnectError`/`PairingError` propagate (after an event);
        link loss and procedure failures end the session with the outcome recorded in the result."""
        self._state = await self._store.get(self.address) or DeviceState()
        self._estimator = ClockOffsetEstimator(self._state.clock_offset_s)
        self._client = await self._connect()
        processor: asyncio.Task[None] | None = None
        try:
            link = GattLink(self._client, self.address, self.profile.id)
            try:
                await self._prepare(link)
                processor = asyncio.create_task(self._process(), name=f"readings-{self.address}")
                self.result.outcome = await self._collect(link, processor)
            except LinkLostError as exc:
                self.result.outcome = SessionOutcome.LINK_LOST
                self.result.error = exc
            except RacpError as exc:
                self.result.outcome = SessionOutcome.FAILED
                self.result.error = exc
            if processor is not None:
                await self._drain(processor)
                if self.result.outcome in (SessionOutcome.COMPLETE, SessionOutcome.IDLE):
                    await self._flush_pending()
                    await self._delete_delivered(link)
        finally:
            if processor is not None and not processor.done():
                processor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await processor
            await self._hang_up()
        await self._finish()
        return self.result

    # ---- connection

    async def _connect(self) -> BleakClient:
        def on_disconnect(_client: BleakClient) -> None:
            self._disconnected.set()
            self._value_arrived.set()

        try:
            client = await connect(
                self.sighting.device,
                backend=self.config.client_backend,
                policy=self.config.retry,
                pair=needs_pairing(self.profile),
                disconnected_callback=on_disconnect,
                pairing_hint=pairing_hint(self.profile),
            )
        except PairingError as exc:
            await self._event(HubEventType.PAIRING_FAILED, str(exc))
            raise
        except ConnectError as exc:
            await self._event(HubEventType.CONNECT_FAILED, str(exc))
            raise
        if client.is_connected:
            self._disconnected.clear()
            self._value_arrived.clear()
        return client

    async def _hang_up(self) -> None:
        client = self._client
        if client is not None and client.is_connected:
            with contextlib.suppress(BleakError, TimeoutError):
                await client.disconnect()

    # ---- steps 2-4: identity, subscriptions, clock

    async def _prepare(self, link: GattLink) -> None:
        info = await self._info_cache.get_or_read(self.address, link)
        self._device = self._device_ref(info)
        self.result.device_id = self._device.device_id
        if self.profile.battery and link.has(BATTERY_LEVEL):
            with contextlib.suppress(GattError, DecodeError):
                self._battery = decode_battery_level(await link.read(BATTERY_LEVEL)).percent
        for measurement in self.profile.measurements:
            await link.subscribe(measurement.characteristic, self._receiver(measurement.characteristic))
            if measurement.context_characteristic is not None and link.has(
                measurement.context_characteristic
            ):
                await link.subscribe(
                    measurement.context_characteristic, self._receiver(measurement.context_characteristic)
                )
        await self._clock_step(link)

    def _device_ref(self, info: DeviceInfo) -> DeviceRef:
        return DeviceRef(
            device_id=info.serial_number or self.address,
            model=info.model_number or self.profile.model,
            profile=self.profile.id,
            firmware=info.firmware,
            serial=info.serial_number,
            address=self.address,
        )

    def _receiver(self, uuid: str) -> Callable[[bytes], None]:
        def receive(data: bytes) -> None:
            self._queue.put_nowait(_Value(uuid, data, self.config.clock()))
            self._activity += 1
            self._value_arrived.set()

        return receive

    async def _clock_step(self, link: GattLink) -> None:
        """Read the device clock (offset for the records of this session), then set it if the profile says."""
        clock = self.profile.clock
        uuid = clock.characteristic
        if clock.mode is ClockMode.NONE or uuid is None or not link.has(uuid):
            self._offset_s = self._estimator.offset_s
            return
        if clock.readable or clock.mode is ClockMode.READ_ONLY:
            await self._read_clock(link, uuid)
        self._offset_s = self._estimator.offset_s
        if clock.mode is ClockMode.WRITE_ON_CONNECT:
            await self._write_clock(link, uuid)

    async def _read_clock(self, link: GattLink, uuid: str) -> None:
        try:
            raw = await link.read(uuid)
        except GattError as exc:
            logger.info("%s: clock read refused: %s", self.address, exc)
            return
        hub_now = self.config.clock()
        try:
            value = decode(uuid, raw)
        except DecodeError as exc:
            await self._event(HubEventType.DECODE_ERROR, f"device clock: {exc}", raw)
            return
        device_now = value.value if isinstance(value, CurrentTime | DeviceDateTime) else None
        if device_now is None:
            await self._event(HubEventType.CLOCK_RESET, "the device clock is not set (date unknown)")
            return
        offset = observed_offset(device_now, hub_now, self.config.local_time)
        self._clock_read = True
        await self._observe(offset, OffsetMethod.CLOCK_READ)

    async def _observe(self, offset: float, method: OffsetMethod) -> None:
        jump = self._estimator.observe(offset, method)
        if jump is not None:
            await self._event(
                HubEventType.CLOCK_RESET,
                f"device clock moved by {jump.delta_s:+.0f} s (offset {jump.previous_offset_s:+.0f} s -> "
                f"{jump.new_offset_s:+.0f} s, from {method.value})",
            )

    async def _write_clock(self, link: GattLink, uuid: str) -> None:
        local_now = self.config.local_time.to_local(self.config.clock())
        if uuid == full_uuid(CURRENT_TIME_UUID):
            data = encode_current_time(current_time_for(local_now))
        else:
            data = encode_date_time(DeviceDateTime.from_datetime(local_now))
        try:
            await link.write(uuid, data)
        except GattError as exc:
            if not self.profile.clock.ignore_write_error:
                await self._event(HubEventType.CLOCK_SET_FAILED, str(exc))
                return
        self._estimator.clock_was_set()

    # ---- step 5: records

    async def _collect(self, link: GattLink, processor: asyncio.Task[None]) -> SessionOutcome:
        records = self.profile.records
        if records.strategy is RecordStrategy.RACP_SINCE_LAST and records.racp_characteristic is not None:
            racp = RacpClient(
                link,
                records.racp_characteristic,
                disconnected=self._disconnected,
                activity=lambda: self._activity,
            )
            await link.subscribe(records.racp_characteristic, racp.on_indication)
            self._racp = racp
            await racp.report_since(self._state.last_sequence, records.transfer_timeout_s)
            await self._drain(processor)
            return SessionOutcome.COMPLETE
        return await self._await_pushed()

    async def _await_pushed(self) -> SessionOutcome:
        """Wait while the device sends; it hangs up by itself or goes quiet for the idle timeout."""
        idle = self.profile.link.idle_timeout_s
        while not self._disconnected.is_set():
            self._value_arrived.clear()
            try:
                async with asyncio.timeout(idle):
                    await self._value_arrived.wait()
            except TimeoutError:
                return SessionOutcome.IDLE
        return SessionOutcome.DEVICE_DISCONNECTED

    async def _delete_delivered(self, link: GattLink) -> None:
        racp = self._racp
        last = self._state.last_sequence
        if (
            racp is None
            or not self.profile.records.delete_after_transfer
            or last is None
            or not link.connected
        ):
            return
        try:
            await racp.delete_up_to(last, self.profile.records.transfer_timeout_s)
        except (RacpError, LinkLostError, GattError) as exc:
            logger.info("%s: delete of delivered records failed: %s", self.address, exc)

    # ---- step 6: the ordered value pipeline

    async def _drain(self, processor: asyncio.Task[None]) -> None:
        """Wait until every received value went through the sink; a failing sink fails the session."""
        joined = asyncio.ensure_future(self._queue.join())
        try:
            await asyncio.wait({joined, processor}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not joined.done():
                joined.cancel()
        if processor.done():
            processor.result()

    async def _process(self) -> None:
        while True:
            value = await self._queue.get()
            try:
                await self._handle(value)
            finally:
                self._queue.task_done()

    async def _handle(self, value: _Value) -> None:
        try:
            decoded: Any = decode(value.uuid, value.data)
        except DecodeError as exc:
            self.result.decode_errors += 1
            self._sequence_frozen = True  # a lost record cannot be identified: refetch from here next time
            await self._event(HubEventType.DECODE_ERROR, str(exc), value.data)
            return
        if isinstance(decoded, GlucoseContext):
            pending = self._pending
            if pending is not None and pending[0].sequence == decoded.sequence:
                self._pending = None
                await self._emit(pending[0], pending[1], decoded)
            return
        await self._flush_pending()
        if isinstance(decoded, GlucoseMeasurement) and decoded.context_follows:
            self._pending = (decoded, value.received_at)
            return
        await self._emit(decoded, value.received_at, None)

    async def _flush_pending(self) -> None:
        """A measurement whose announced context never came is still a reading."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await self._emit(pending[0], pending[1], None)

    async def _emit(self, value: object, received_at: datetime, context: GlucoseContext | None) -> None:
        assert self._device is not None
        ctx = ReadingContext(self._device, received_at, self._offset_s, self.config.local_time)
        reading = to_reading(value, context, ctx)
        if reading is None:
            return  # intermediate cuff pressure and the like: progress, not readings
        device_time = device_time_of(value)
        if device_time is not None:
            live = observed_offset(device_time, received_at, self.config.local_time)
            self._live_offsets.append(live)
        if isinstance(reading, Discarded):
            self.result.discarded += 1
            await self._event(HubEventType.RECORD_DISCARDED, reading.reason)
        else:
            await self._on_reading(reading)
            self.result.readings.append(reading)
        sequence = getattr(value, "sequence", None)
        if isinstance(sequence, int) and not self._sequence_frozen:
            await self._delivered(sequence)

    async def _delivered(self, sequence: int) -> None:
        """The sink has the record: remember it so the next RACP transfer starts after it."""
        last = self._state.last_sequence
        if last is None or sequence > last:
            self._state = DeviceState(last_sequence=sequence, clock_offset_s=self._estimator.offset_s)
            await self._store.set(self.address, self._state)

    # ---- the end

    async def _finish(self) -> None:
        if self.profile.clock.offset_from_live_measurement and not self._clock_read and self._live_offsets:
            # each just-sent reading bounds the offset from below; the newest is the tightest bound
            await self._observe(max(self._live_offsets), OffsetMethod.LIVE_MEASUREMENT)
        self._state = DeviceState(
            last_sequence=self._state.last_sequence, clock_offset_s=self._estimator.offset_s
        )
        await self._store.set(self.address, self._state)
        status = DeviceStatus(
            device_id=self.result.device_id,
            address=self.address,
            battery_pct=self._battery,
            rssi_dbm=self.sighting.advertisement.rssi,
            last_seen=self.config.clock(),
            clock_offset_s=self._estimator.offset_s,
        )
        self.result.status = status
        if self._on_status is not None:
            await _maybe_await(self._on_status(status))

    async def _event(self, type_: HubEventType, message: str, raw: bytes | None = None) -> None:
        event = DeviceEvent(
            type=type_,
            device_id=self.result.device_id,
            at=self.config.clock(),
            message=message,
            raw_hex=raw.hex() if raw is not None else None,
        )
        self.result.events.append(event)
        if self._on_event is not None:
            await _maybe_await(self._on_event(event))
