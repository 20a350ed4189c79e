"""The hub's one broker connection: paho-mqtt 2.x, MQTT 5, TLS with a client certificate, QoS 1.

paho runs on a thread of its own (`client.loop()` in a loop we own, so reconnecting follows `Backoff`'s full
jitter rather than paho's fixed doubling); every callback is handed to the asyncio loop with
`call_soon_threadsafe`, so the rest of the hub is single-threaded.

The session is persistent (`clean_start=False`, `SESSION_EXPIRY_S`): the config subscription and any
config published while the hub was away survive reconnects. Unacknowledged QoS 1 publishes stay in paho's
session state and are resent by paho after a reconnect, so the uploader keeps its in-flight window across a
connection loss instead of publishing the same rows again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from broker.contract.config import MAX_INFLIGHT
from gateway.backoff import STABLE_CONNECTION_S, Backoff
from gateway.errors import HubError
from gateway.settings import HubSettings

log = logging.getLogger(__name__)

KEEPALIVE_S = 60
"""A silently dead link (Wi-Fi gone, router rebooted) is noticed within 1.5 x 60 s. Home routers drop idle
NAT mappings after a few minutes, which a ping a minute prevents, at 1,440 tiny packets a day."""

SESSION_EXPIRY_S = 7 * 86_400
"""The broker keeps the hub's session (its config subscription) a week offline, the project broker's own
`persistent_client_expiration`; a hub away longer subscribes afresh and gets the retained config again."""

LOOP_TIMEOUT_S = 1.0
"""Longest the network thread blocks in select(); publishes from the loop wake it at once anyway."""

PAHO_INFLIGHT = MAX_INFLIGHT + 2
"""paho's own cap, above the uploader's window (at most `MAX_INFLIGHT`) plus the status and the will."""


_KEPT_BY_PAHO = frozenset({mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_CONN_LOST})
"""Publish results after which paho holds the message in its session and sends it (again) once connected."""


class LinkListener(Protocol):
    """What the hub hears from the link; always called on the asyncio loop."""

    def link_up(self, session_present: bool, max_packet_size: int | None) -> None: ...

    def link_down(self, reason: str) -> None: ...

    def published(self, mid: int, ok: bool, reason: str) -> None: ...

    def message(self, topic: str, payload: bytes) -> None: ...


class LinkError(HubError):
    """paho refused a publish outright (not a broker refusal: those arrive as PUBACK reason codes)."""


class MqttLink:
    """Connects, reconnects with jittered backoff, and hands everything to `listener` on `loop`."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        listener: LinkListener,
        loop: asyncio.AbstractEventLoop,
        subscriptions: tuple[str, ...],
        will: Callable[[], tuple[str, bytes]],
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.listener = listener
        self.loop = loop
        self.subscriptions = subscriptions
        self.will = will
        self.backoff = backoff or Backoff(settings.reconnect_base_s, settings.reconnect_cap_s)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.username,
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(settings.username, settings.password.get_secret_value())
        self.client.tls_set(
            ca_certs=str(settings.ca_file),
            certfile=str(settings.cert_file),
            keyfile=str(settings.key_file),
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        self.client.max_inflight_messages_set(PAHO_INFLIGHT)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._connected_at: float | None = None
        self.connected = threading.Event()

    # --- lifecycle (asyncio thread) ----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Disconnect cleanly (the will is not sent) and end the network thread."""
        self._stop.set()
        self.client.disconnect()
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            # paho's loop() opens a socket pair it closes only in __del__; when the link dies inside a
            # reference cycle, the garbage collector may finalize the sockets first (ResourceWarning).
            self.client._reset_sockets()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Queue a QoS 1 publish and return its message id; the PUBACK arrives through `published`."""
        try:
            info = self.client.publish(topic, payload, qos=1, retain=retain)
        except ValueError as exc:  # paho: payload too large, bad topic
            raise LinkError(f"cannot publish to {topic}: {exc}") from exc
        if info.rc not in _KEPT_BY_PAHO:
            raise LinkError(f"cannot publish to {topic}: {mqtt.error_string(info.rc)}")
        return info.mid

    # --- network thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        host, port = self.settings.host, self.settings.port
        while not self._stop.is_set():
            topic, payload = self.will()
            self.client.will_set(topic, payload, qos=1, retain=True)
            try:
                self.client.connect(host, port, keepalive=KEEPALIVE_S, clean_start=False, properties=props)
            except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
                self._hand(self.listener.link_down, f"connect to {host}:{port} failed: {exc}")
                self._pause()
                continue
            while not self._stop.is_set():
                if self.client.loop(timeout=LOOP_TIMEOUT_S) != mqtt.MQTT_ERR_SUCCESS:
                    break
            self.connected.clear()
            if self._stop.is_set():
                # Let paho flush the DISCONNECT queued by stop().
                self.client.loop(timeout=0.1)
                break
            self._pause()

    def _pause(self) -> None:
        if self._connected_at is not None and time.monotonic() - self._connected_at >= STABLE_CONNECTION_S:
            self.backoff.reset()
        self._connected_at = None
        delay = self.backoff.next_delay_s()
        log.info("reconnecting in %.1f s", delay, extra={"attempt": self.backoff.attempt})
        self._stop.wait(delay)

    def _hand(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the asyncio loop; after the loop closed there is nobody left to tell."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self._connected_at = time.monotonic()
        self.connected.set()
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        if self.subscriptions:
            client.subscribe([(topic, options) for topic in self.subscriptions])
        max_packet = getattr(props, "MaximumPacketSize", None) if props is not None else None
        self._hand(self.listener.link_up, bool(flags.session_present), max_packet)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        for topic, reason in zip(self.subscriptions, reasons, strict=False):
            if reason.is_failure:
                log.error("broker refused the subscription to %s: %s", topic, reason)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        self._hand(self.listener.link_down, str(reason))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        self._hand(self.listener.published, mid, not reason.is_failure, str(reason))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._hand(self.listener.message, message.topic, bytes(message.payload))
