"""The whole local stack as one object: what `rpm services up|down|status` and the tests drive."""

from __future__ import annotations

from dataclasses import dataclass

from rpmctl.services import endpoints as endpoints_mod
from rpmctl.services.layout import StateLayout
from rpmctl.services.mosquitto import LocalMosquitto, MosquittoStatus
from rpmctl.services.progress import Progress
from rpmctl.services.system import port_open
from rpmctl.services.timescale import LocalTimescale, TimescaleStatus, describe_url


@dataclass(frozen=True)
class StackStatus:
    endpoints: endpoints_mod.Endpoints
    mosquitto: MosquittoStatus | None
    timescale: TimescaleStatus | None
    external_db: tuple[bool, str]
    external_mqtt: tuple[bool, str]

    @property
    def healthy(self) -> bool:
        db_ok = (
            self.external_db[0]
            if self.endpoints.database_external
            else bool(self.timescale and self.timescale.running)
        )
        mqtt_ok = (
            self.external_mqtt[0]
            if self.endpoints.mqtt_external
            else bool(self.mosquitto and self.mosquitto.running)
        )
        return db_ok and mqtt_ok


class LocalStack:
    def __init__(self, layout: StateLayout | None = None, progress: Progress | None = None) -> None:
        self.layout = layout or StateLayout.from_environment()
        self.progress = progress or Progress()
        self.mosquitto = LocalMosquitto(self.layout, self.progress)
        self.timescale = LocalTimescale(self.layout, self.progress)

    def endpoints(self) -> endpoints_mod.Endpoints:
        return endpoints_mod.resolve(self.layout)

    def up(self) -> endpoints_mod.Endpoints:
        ends = self.endpoints()
        self.layout.state_dir.mkdir(parents=True, exist_ok=True)
        if not ends.mqtt_external:
            self.mosquitto.up()
        if not ends.database_external:
            self.timescale.up()
        return self.endpoints()

    def down(self) -> None:
        ends = self.endpoints()
        if not ends.mqtt_external:
            self.mosquitto.down()
        if not ends.database_external:
            self.timescale.down()

    def status(self) -> StackStatus:
        ends = self.endpoints()
        return StackStatus(
            endpoints=ends,
            mosquitto=None if ends.mqtt_external else self.mosquitto.status(),
            timescale=None if ends.database_external else self.timescale.status(),
            external_db=_probe_db(ends.database_url) if ends.database_external else (False, ""),
            external_mqtt=_probe_mqtt(ends.mqtt_url) if ends.mqtt_external else (False, ""),
        )


def _probe_db(url: str) -> tuple[bool, str]:
    try:
        server, ext, lic = describe_url(url)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: status lists every problem
        return False, f"unreachable: {exc}"
    if ext is None:
        return False, f"PostgreSQL {server} without the timescaledb extension"
    return True, f"PostgreSQL {server}, TimescaleDB {ext} ({lic or 'unknown'} license)"


def _probe_mqtt(url: str) -> tuple[bool, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (8883 if parts.scheme in {"mqtts", "ssl"} else 1883)
    ok = port_open(port, parts.hostname or "127.0.0.1")
    return ok, "reachable" if ok else "unreachable"
