"""A small synchronous MQTT 5 test client over paho-mqtt 2.x, for talking to the real broker."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

# Loopback round trips take milliseconds; 10 s only guards against a hung broker.
WAIT_S = 10.0


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class TestClient:
    """Connects, subscribes and publishes with QoS 1, waiting for each acknowledgement."""

    __test__ = False  # not a test class, despite the name

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        tls: TlsFiles | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if parts.username or username:
            self.client.username_pw_set(
                username or unquote(parts.username or ""), password or unquote(parts.password or "")
            )
        if tls is not None:
            self.client.tls_set(
                ca_certs=str(tls.ca_file),
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
            )
        self.connect_reason: mqtt.ReasonCode | None = None
        self.messages: queue.Queue[Received] = queue.Queue()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.session_present: bool | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect
        self.suback_reasons: list[mqtt.ReasonCode] = []
        self.puback_reasons: dict[int, mqtt.ReasonCode] = {}
        self.disconnected = threading.Event()
        self.disconnect_reason: mqtt.ReasonCode | None = None
        self.clean_start = clean_start
        self.session_expiry_s = session_expiry_s

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # paho's signature
        self.session_present = bool(flags.session_present)
        self.connect_reason = reason_code
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.suback_reasons = list(reason_codes)
        self._subscribed.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.puback_reasons[mid] = reason_code

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.disconnect_reason = reason_code
        self.disconnected.set()
        self._connected.set()  # wakes a connect() still waiting for its CONNACK

    def _on_message(self, client, userdata, message) -> None:
        self.messages.put(Received(message.topic, message.payload, message.qos, message.retain))

    def connect(self) -> TestClient:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        self.client.connect(self.host, self.port, clean_start=self.clean_start, properties=props)
        self.client.loop_start()
        if not self._connected.wait(WAIT_S):
            raise TimeoutError(f"no CONNACK from {self.host}:{self.port}")
        if self.connect_reason is None:
            self.client.loop_stop()
            raise ConnectionRefusedError(f"connection closed before CONNACK ({self.disconnect_reason})")
        if self.connect_reason.is_failure:
            self.client.loop_stop()
            raise ConnectionRefusedError(str(self.connect_reason))
        return self

    def subscribe(self, topic: str, qos: int = 1) -> mqtt.ReasonCode:
        """Subscribe and return the broker's SUBACK reason (granted QoS, or a refusal)."""
        self._subscribed.clear()
        self.client.subscribe(topic, qos)
        if not self._subscribed.wait(WAIT_S):
            raise TimeoutError(f"no SUBACK for {topic}")
        return self.suback_reasons[0]

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> mqtt.ReasonCode | None:
        """Publish and wait for the PUBACK; return its reason code (QoS 1)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(WAIT_S)
        return self.puback_reasons.get(info.mid)

    def receive(self, count: int, timeout: float = WAIT_S) -> list[Received]:
        return [self.messages.get(timeout=timeout) for _ in range(count)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
