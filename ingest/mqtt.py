"""The broker boundary: a paho-mqtt 2.x MQTT 5 client in a shared subscription, acknowledging by hand.

paho's network thread puts each message on a queue; the worker acknowledges it (`client.ack`) only after
the transaction holding it committed. Until then the broker keeps it in flight, and a worker that dies
gets it again on reconnect (same client id, `clean_start=False`, a long session expiry).
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from broker.topics import Channel, shared_filter
from ingest.config import IngestConfig
from ingest.errors import BrokerUnavailable, ConfigError
from ingest.messages import Delivery

log = logging.getLogger(__name__)

CHANNELS = (Channel.READINGS, Channel.STATUS, Channel.EVENTS)
"""What ingest consumes; config is cloud-to-hub and never read here."""

KEEPALIVE_S = 30
"""A dead broker connection is noticed within 1.5 x 30 s; the broker drops a dead worker as fast."""

RECONNECT_MAX_S = 10
"""paho's reconnect back-off ceiling: a restarted broker is rejoined within seconds."""

FIRST_CONNECT_TIMEOUT_S = 15.0
"""A worker that cannot reach the broker at start fails loudly instead of waiting forever."""


def _endpoint(url: str) -> tuple[str, int, bool, str | None, str | None]:
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"}:
        raise ConfigError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}://")
    tls = parts.scheme in {"mqtts", "ssl"}
    port = parts.port or (8883 if tls else 1883)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname or "127.0.0.1", port, tls, user, password


class Subscriber:
    """One worker's broker connection; `deliveries` receives every message in arrival order."""

    def __init__(self, config: IngestConfig, deliveries: queue.Queue[Delivery]) -> None:
        self.config = config
        self.deliveries = deliveries
        self.host, self.port, tls, user, password = _endpoint(config.mqtt_url)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        self.client.reconnect_delay_set(1, RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._generation = 0
        self._connected = threading.Event()
        self._first_result: queue.Queue[mqtt.ReasonCode] = queue.Queue(maxsize=1)
        self._first_suback: queue.Queue[list[str]] = queue.Queue(maxsize=1)
        self.session_present = False

    # --- paho callbacks (network thread) ---------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if not reason.is_failure:
            self._generation += 1
            self.session_present = bool(flags.session_present)
            options = SubscribeOptions(qos=1)
            client.subscribe([(filter_, options) for filter_ in self._filters()])
            self._connected.set()
            log.info("connected to %s:%d (session present: %s)", self.host, self.port, self.session_present)
        else:
            log.warning("broker refused the connection: %s", reason)
        if self._first_result.empty():
            self._first_result.put(reason)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _p: Any) -> None:
        refused = [
            f"{filter_}: {reason}"
            for filter_, reason in zip(self._filters(), reasons, strict=False)
            if reason.is_failure
        ]
        for refusal in refused:
            log.error("the broker refused the subscription %s", refusal)
        if self._first_suback.empty():
            self._first_suback.put(refused)

    def _filters(self) -> list[str]:
        return [shared_filter(self.config.share_group, channel) for channel in CHANNELS]

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if reason.is_failure:
            log.warning("disconnected from the broker: %s", reason)
        else:
            log.info("disconnected from the broker")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.deliveries.put(
            Delivery(message.topic, message.payload, message.mid, message.qos, self._generation, time.time())
        )

    # --- worker side -------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (resuming the session) and subscribe; raise `BrokerUnavailable` if that fails."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = self.config.receive_maximum
        try:
            self.client.connect_async(
                self.host, self.port, keepalive=KEEPALIVE_S, clean_start=False, properties=props
            )
        except (OSError, ValueError) as exc:
            raise BrokerUnavailable(
                f"cannot connect to the broker at {self.host}:{self.port}: {exc}"
            ) from exc
        self.client.loop_start()
        try:
            reason = self._first_result.get(timeout=FIRST_CONNECT_TIMEOUT_S)
        except queue.Empty:
            self.stop()
            raise BrokerUnavailable(f"no answer from the broker at {self.host}:{self.port}") from None
        if reason.is_failure:
            self.stop()
            raise BrokerUnavailable(f"the broker at {self.host}:{self.port} refused the connection: {reason}")
        try:
            refused = self._first_suback.get(timeout=FIRST_CONNECT_TIMEOUT_S)
        except queue.Empty:
            self.stop()
            raise BrokerUnavailable(f"no SUBACK from the broker at {self.host}:{self.port}") from None
        if refused:
            self.stop()
            raise BrokerUnavailable(
                "the broker refused the shared subscriptions (" + "; ".join(refused) + "): the ingest "
                "account needs subscribe rights on $share/<group>/rpm/v1/hubs/+/{readings,status,events}"
            )

    def ack(self, delivery: Delivery) -> bool:
        """Acknowledge a committed message; False when its connection is gone (the broker resends it)."""
        if delivery.qos == 0:
            return True
        if delivery.generation != self._generation or not self._connected.is_set():
            return False
        self.client.ack(delivery.mid, delivery.qos)
        return True

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def stop(self) -> None:
        """Disconnect without acknowledging anything still pending: the session keeps it for the next run."""
        self.client.disconnect()
        self.client.loop_stop()
