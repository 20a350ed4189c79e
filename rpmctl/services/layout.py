"""Where the local stack keeps its state and which loopback ports it uses.

Everything lives under one directory so `rm -r` of it is a full reset and a second
`rpm services up` finds the installed TimescaleDB root and the data again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

# Ports of our own: 1883 and 5432 may belong to other software on the machine.
DEFAULT_MQTT_PORT = 18830  # cloud services, loopback, plain
DEFAULT_MQTTS_PORT = 18883  # hubs, TLS
DEFAULT_DB_PORT = 55432
# Root's state goes to /var/lib so that the `postgres` and `mosquitto` system users,
# which the servers drop to, can reach it (/root is mode 0700).
ROOT_STATE_DIR = Path("/var/lib/rpm-gateway")


def default_state_dir() -> Path:
    """`RPM_STATE_DIR`, else /var/lib/rpm-gateway for root, else the user's data dir."""
    explicit = os.environ.get("RPM_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.geteuid() == 0:
        return ROOT_STATE_DIR
    return Path(platformdirs.user_data_dir("rpm-gateway"))


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    from rpmctl.errors import CommandError

    try:
        port = int(raw)
    except ValueError:
        raise CommandError(f"{name}={raw!r} is not a port number", fix=f"set {name} to 1024-65535") from None
    if not 1024 <= port <= 65535:
        raise CommandError(f"{name}={port} is out of range", fix=f"set {name} to 1024-65535")
    return port


@dataclass(frozen=True)
class StateLayout:
    """Paths and ports of one local stack."""

    state_dir: Path
    mqtt_port: int
    db_port: int
    mqtts_port: int = DEFAULT_MQTTS_PORT
    # Where the hubs' TLS listener binds: loopback for development; 0.0.0.0 on a real broker host.
    hub_bind_address: str = "127.0.0.1"

    @classmethod
    def from_environment(cls, state_dir: Path | None = None) -> StateLayout:
        return cls(
            state_dir=state_dir or default_state_dir(),
            mqtt_port=_port_from_env("RPM_MQTT_PORT", DEFAULT_MQTT_PORT),
            db_port=_port_from_env("RPM_DB_PORT", DEFAULT_DB_PORT),
            mqtts_port=_port_from_env("RPM_MQTTS_PORT", DEFAULT_MQTTS_PORT),
            hub_bind_address=os.environ.get("RPM_MQTTS_BIND", "127.0.0.1"),
        )

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def mosquitto_dir(self) -> Path:
        return self.state_dir / "mosquitto"

    @property
    def timescaledb_dir(self) -> Path:
        return self.state_dir / "timescaledb"
