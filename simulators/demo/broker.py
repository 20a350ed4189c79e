"""The demo's side of the broker: provision a hub (credentials and bundle) unless it has one, and publish
its retained config as the cloud does, with the svc.admin account."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import unquote, urlsplit

from broker.admin.accounts import BrokerAdmin
from broker.contract import HubConfig, encode
from broker.topics import Channel, hub_topic

PUBLISH_TIMEOUT_S: Final = 10.0
"""Loopback acknowledgements take milliseconds; this only bounds a hung broker."""


class DemoError(Exception):
    """Provisioning the demo failed; `fix` says what to do."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class DemoBroker(Protocol):
    def ensure_hub(self, hub_id: str, out_dir: Path) -> tuple[Path, bool]:
        """The hub's bundle directory (out_dir/hub_id), and whether it was issued now."""
        ...

    def publish_configs(self, configs: list[HubConfig]) -> None: ...


@dataclass
class LocalBroker:
    """The project's broker: `BrokerAdmin` for accounts, an MQTT connection as svc.admin for configs."""

    admin: BrokerAdmin
    hub_url: str
    admin_url: str

    def ensure_hub(self, hub_id: str, out_dir: Path) -> tuple[Path, bool]:
        directory = out_dir / hub_id
        active = hub_id in self.admin.hubs() and self.admin.hubs()[hub_id].get("revoked_at") is None
        if active and (directory / "hub.toml").exists():
            return directory, False
        if active:  # credentials exist but their bundle is gone: the password cannot be recovered
            self.admin.revoke_hub(hub_id)
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        bundle = self.admin.add_hub(hub_id, broker_url=self.hub_url, out_dir=out_dir)
        return bundle.directory, True

    def publish_configs(self, configs: list[HubConfig]) -> None:
        """Publish every config retained, QoS 1, and wait for each PUBACK; a refusal raises."""
        import paho.mqtt.client as mqtt

        parts = urlsplit(self.admin_url)
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"demo-provision-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(unquote(parts.username or ""), unquote(parts.password or ""))
        acked: dict[int, mqtt.ReasonCode] = {}
        done = threading.Condition()

        def on_publish(_c: object, _u: object, mid: int, reason: mqtt.ReasonCode, _p: object) -> None:
            with done:
                acked[mid] = reason
                done.notify_all()

        client.on_publish = on_publish
        try:
            client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        except OSError as exc:
            raise DemoError(
                f"cannot reach the broker at {parts.hostname}:{parts.port}: {exc}",
                fix="start it with `rpm services up`",
            ) from exc
        client.loop_start()
        try:
            mids = [
                client.publish(hub_topic(c.hub_id, Channel.CONFIG), encode(c), qos=1, retain=True).mid
                for c in configs
            ]
            with done:
                if not done.wait_for(lambda: all(m in acked for m in mids), PUBLISH_TIMEOUT_S):
                    raise DemoError(
                        "the broker did not acknowledge the hub configs", fix="check the broker log"
                    )
            refused = [c.hub_id for c, m in zip(configs, mids, strict=True) if acked[m].is_failure]
            if refused:
                raise DemoError(
                    f"the broker refused configs of {refused}", fix="`rpm broker init` syncs svc.admin"
                )
        finally:
            client.disconnect()
            client.loop_stop()
