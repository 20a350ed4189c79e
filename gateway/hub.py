"""The hub process: one asyncio loop wiring the outbox, the broker link, the config and the status.

What the BLE layer uses:
- `await hub.on_reading(reading)`: returns once the reading is committed to the outbox (then the device may
  consider it delivered); raises `OutboxFull` if it could not be stored.
- `await hub.on_event(event)`: a `HubEvent`, or anything with `to_hub_event(hub_id)`; stored durably.
- `await hub.on_device_status(seen)`: battery, RSSI, last seen, clock offset for the status message.
- `hub.configs()`: async iterator of the current `HubConfig`, then every newer one.
- `hub.device_state`: the per-device key-value store.

The hub drives its own BLE side (`gateway.radio.HubRadio`: one shared scanner, one session coordinator)
from the current config; `radio=None` leaves BLE out (tests of the upload path, tools).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from broker.contract import BaseReading, DeviceSeen, HubConfig, HubEvent, HubEventType, UploadSettings, encode
from broker.topics import Channel, hub_topic
from gateway import sdnotify
from gateway.ble.clock import LocalTime
from gateway.ble.pairing import PasskeyBook
from gateway.blestate import SqliteBleStateStore
from gateway.errors import HubError
from gateway.events import EventSource, hub_event
from gateway.hubconfig import ConfigStore, Verdict
from gateway.mqtt_link import LinkError, MqttLink
from gateway.outbox import Outbox
from gateway.outbox_db import AddResult, wall_clock
from gateway.radio import HubRadio, RadioOptions, home_zone
from gateway.settings import HubSettings
from gateway.state import DeviceStateStore
from gateway.status import SEEN_KEY, DeviceBoard, offline_status, online_status, seen_json, software_version
from gateway.uploader import Uploader

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 3600.0
"""Retention is counted in days; pruning hourly keeps each pass small."""

OFFLINE_STATUS_WAIT_S = 3.0
"""On shutdown, how long to wait for the broker to acknowledge `online: false` before leaving anyway (the
last-will does not fire on a clean disconnect, so without this the console would show the hub online)."""


class Hub:
    """Create, `await start()`, feed it, `await stop()`; or `await run(stop_event)`."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        version: str | None = None,
        radio: RadioOptions | None = None,
    ) -> None:
        self.settings = settings
        self.hub_id = settings.hub_id
        self.version = version or software_version()
        self.outbox = Outbox(settings.outbox_path, hub_id=self.hub_id, limit_bytes=settings.outbox_max_bytes)
        self.config = ConfigStore(settings.config_path, self.hub_id)
        self.device_state = DeviceStateStore(settings.devices_path)
        self.board = DeviceBoard()
        self.passkeys = PasskeyBook(settings.passkeys)
        """PINs from the `[passkeys]` table of hub.toml, handed to the pairing agent."""
        self.radio: HubRadio | None = None
        if radio is not None:
            self.radio = HubRadio(
                radio,
                store=SqliteBleStateStore(self.device_state),
                local_time=LocalTime(home_zone(settings.timezone)),
                passkeys=self.passkeys,
                on_reading=self.on_reading,
                on_event=self.on_event,
                on_status=self.on_device_status,
            )
        self.link: MqttLink | None = None
        self.uploader: Uploader | None = None
        self._started = time.monotonic()
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self.failed = asyncio.Event()
        """Set when a task of the hub crashed: `run()` then stops and raises, and systemd restarts us."""
        self._status_mid: int | None = None
        self._status_acked = asyncio.Event()
        self._online = asyncio.Event()
        self._stopping = False

    # --- public API for the BLE layer -------------------------------------------------------------
    async def on_reading(self, reading: BaseReading) -> AddResult:
        return await self.outbox.add(reading)

    async def on_event(self, event: HubEvent | EventSource) -> AddResult:
        message = event if isinstance(event, HubEvent) else event.to_hub_event(self.hub_id)
        log.info("event %s: %s", message.type.value, message.message, extra={"device_id": message.device_id})
        return await self.outbox.add_event(message)

    async def on_device_status(self, seen: DeviceSeen) -> None:
        self.board.update(seen)
        merged = self.board.get(seen.device_id) or seen
        await self.device_state.set(seen.device_id, SEEN_KEY, seen_json(merged))

    def configs(self) -> AsyncIterator[HubConfig]:
        return self.config.updates()

    @property
    def connected(self) -> asyncio.Event:
        """Set while the broker connection is up (tests and benchmarks wait on it)."""
        return self._online

    def upload_settings(self) -> UploadSettings:
        return self.config.current.upload if self.config.current else UploadSettings()

    # --- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        await self.outbox.open()
        self.board.load(await self.device_state.all(SEEN_KEY))
        await self.outbox.prune()
        loop = asyncio.get_running_loop()
        self.link = MqttLink(
            self.settings,
            listener=self,
            loop=loop,
            subscriptions=(hub_topic(self.hub_id, Channel.CONFIG),),
            will=self._will,
        )
        self.uploader = Uploader(self.outbox, self.link, self.hub_id, self.upload_settings)
        await self.on_event(
            hub_event(self.hub_id, HubEventType.HUB_STARTED, f"hub {self.version} started", at=None)
        )
        self._spawn(self.uploader.run(), "uploader")
        self._spawn(self.uploader.settle(), "acks")
        self._spawn(self._status_loop(), "status")
        self._spawn(self._prune_loop(), "prune")
        interval = sdnotify.watchdog_interval_s()
        if interval:
            self._spawn(sdnotify.watchdog(interval), "watchdog")
        self.link.start()
        if self.radio is not None:
            await self.radio.start()
            self._spawn(self.radio.follow(self.configs()), "radio")
        current = self.config.current
        log.info(
            "hub started",
            extra={
                "hub_id": self.hub_id,
                "version": self.version,
                "config_version": current and current.version,
            },
        )
        sdnotify.notify("READY=1")

    async def stop(self) -> None:
        sdnotify.notify("STOPPING=1")
        self._stopping = True
        if self.radio is not None:
            await self.radio.stop()
        if self.link is not None and self._online.is_set():
            self._publish_status(offline_status(self.hub_id, version=self.version, now=wall_clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_acked.wait(), OFFLINE_STATUS_WAIT_S)
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.link is not None:
            await asyncio.to_thread(self.link.stop)
        await self.outbox.close()
        await self.device_state.close()
        log.info("hub stopped")

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; raise `HubError` if a task crashed."""
        await self.start()
        try:
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.failed.wait())]
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            await self.stop()
        if self.failed.is_set():
            raise HubError("a hub task failed (see the log); exiting so that systemd restarts the hub")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _later(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """A short-lived task (a status, a config), kept referenced until it ends; a failure is a crash."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.critical("task %s failed", task.get_name(), exc_info=task.exception())
            self.failed.set()

    # --- link listener (asyncio loop) --------------------------------------------------------------
    def link_up(self, session_present: bool, max_packet_size: int | None) -> None:
        log.info("connected to the broker", extra={"session_present": session_present})
        self._online.set()
        assert self.uploader is not None
        self.uploader.online(max_packet_size)
        self._status_mid = None  # a status lost with the old connection must not block the new one
        self._later(self._send_status(), "status-now")

    def link_down(self, reason: str) -> None:
        if self._stopping:
            log.info("disconnected: %s", reason)
        elif self._online.is_set():
            log.warning("lost the broker: %s", reason)
        else:
            log.info("broker unreachable: %s", reason)
        self._online.clear()
        if self.uploader is not None:
            self.uploader.offline()

    def published(self, mid: int, ok: bool, reason: str) -> None:
        if self.uploader is not None and self.uploader.acked(mid, ok, reason):
            return
        if mid == self._status_mid:
            self._status_mid = None
            self._status_acked.set()
            if not ok:
                log.error("broker refused the status: %s", reason)

    def message(self, topic: str, payload: bytes) -> None:
        if topic == hub_topic(self.hub_id, Channel.CONFIG):
            self._later(self._offer_config(payload), "config")

    # --- config ------------------------------------------------------------------------------------
    async def _offer_config(self, payload: bytes) -> None:
        decision = await self.config.offer(payload)
        running = self.config.current.version if self.config.current else None
        if decision.verdict is Verdict.APPLIED:
            assert decision.config is not None
            config = decision.config
            text = f"config version {config.version} applied: {len(config.devices)} devices"
            log.info(text, extra={"config_version": config.version})
            await self.on_event(hub_event(self.hub_id, HubEventType.CONFIG_APPLIED, text))
            if self.uploader is not None and self._online.is_set():
                self.uploader.online(None)  # wake it: new upload settings take effect now
        elif decision.verdict is Verdict.REJECTED:
            log.error("config rejected: %s", decision.reason, extra={"config_version": running})
            if not decision.repeated:
                text = f"config rejected, keeping version {running}: {decision.reason}"
                await self.on_event(hub_event(self.hub_id, HubEventType.CONFIG_REJECTED, text))
        elif decision.verdict is Verdict.STALE:
            log.warning("stale config ignored: %s", decision.reason)
        elif decision.verdict is Verdict.CLEARED:
            log.warning("the retained config was deleted; keeping version %s", running)

    # --- status ------------------------------------------------------------------------------------
    def _will(self) -> tuple[str, bytes]:
        status = offline_status(self.hub_id, version=self.version, now=wall_clock())
        return hub_topic(self.hub_id, Channel.STATUS), encode(status)

    async def _send_status(self) -> None:
        if not self._online.is_set() or self._status_mid is not None:
            return  # offline, or the previous status is still unacknowledged: never pile them up
        stats = await self.outbox.stats()
        status = online_status(
            self.hub_id,
            version=self.version,
            uptime_s=time.monotonic() - self._started,
            stats=stats,
            devices=self.board.snapshot(),
            now=wall_clock(),
        )
        self._publish_status(status)

    def _publish_status(self, status: Any) -> None:
        assert self.link is not None
        self._status_acked.clear()
        try:
            self._status_mid = self.link.publish(
                hub_topic(self.hub_id, Channel.STATUS), encode(status), retain=True
            )
        except LinkError as exc:  # the next interval or connection sends a fresh one
            log.warning("status not sent: %s", exc)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.upload_settings().status_interval_s)
            await self._send_status()

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_S)
            acked, ids = await self.outbox.prune()
            if acked or ids:
                log.info("pruned %d acknowledged rows and %d delivered ids", acked, ids)
