"""Fleet hubs: provisioned once on the broker into a directory, reused by later runs.

`<directory>/fleet.json` lists the provisioned hubs (id, password, bundle directory); each hub's bundle (its
`hub.toml`, CA certificate, client certificate and key) is what `rpm broker add-hub` writes. A hub listed
there but no longer registered on the broker (revoked, or the broker's state was reset) is provisioned again.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MANIFEST = "fleet.json"
MANIFEST_VERSION = 1
PROVISION_CHUNK = 100
"""Hubs provisioned per request to the broker (see `BrokerAdmin.add_hubs`)."""


@dataclass(frozen=True)
class FleetHub:
    """What a fleet home needs to connect as its hub."""

    hub_id: str
    password: str
    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def cert_file(self) -> Path:
        return self.directory / "hub.crt"

    @property
    def key_file(self) -> Path:
        return self.directory / "hub.key"


class HubAdmin(Protocol):
    """The part of `broker.admin.accounts.BrokerAdmin` provisioning uses."""

    def add_hubs(self, hub_ids: list[str], *, broker_url: str, out_dir: Path) -> list[Any]: ...

    def revoke_hub(self, hub_id: str) -> None: ...

    def hubs(self) -> dict[str, dict[str, Any]]: ...


def hub_id_for(prefix: str, index: int) -> str:
    return f"{prefix}-{index:05d}"


def _load(directory: Path) -> dict[str, dict[str, str]]:
    path = directory / MANIFEST
    if not path.exists():
        return {}
    document = json.loads(path.read_text())
    return dict(document.get("hubs", {}))


def _save(directory: Path, hubs: dict[str, dict[str, str]]) -> None:
    path = directory / MANIFEST
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": MANIFEST_VERSION, "hubs": hubs}, indent=1, sort_keys=True))
    os.chmod(temporary, 0o600)  # passwords
    temporary.replace(path)


def provision(
    directory: Path,
    homes: int,
    *,
    admin: HubAdmin,
    broker_url: str,
    prefix: str = "fleet",
    progress: Callable[[int, int], None] | None = None,
) -> list[FleetHub]:
    """The first `homes` hubs `<prefix>-00000...`, provisioning those not usable yet, in chunks."""
    directory.mkdir(parents=True, exist_ok=True)
    known = _load(directory)
    registered = {hub_id for hub_id, entry in admin.hubs().items() if entry.get("revoked_at") is None}
    wanted = [hub_id_for(prefix, index) for index in range(homes)]
    missing = [
        hub_id
        for hub_id in wanted
        if hub_id not in known or hub_id not in registered or not (directory / hub_id / "hub.key").exists()
    ]
    for start in range(0, len(missing), PROVISION_CHUNK):
        chunk = missing[start : start + PROVISION_CHUNK]
        for hub_id in chunk:
            if hub_id in registered:
                admin.revoke_hub(hub_id)  # files lost: issue new credentials
        for bundle in admin.add_hubs(chunk, broker_url=broker_url, out_dir=directory):
            password = tomllib.loads(Path(bundle.config_file).read_text())["password"]
            known[bundle.hub_id] = {"password": password, "directory": Path(bundle.directory).name}
        _save(directory, known)
        if progress is not None:
            progress(len(wanted) - len(missing) + start + len(chunk), homes)
    if progress is not None and not missing:
        progress(homes, homes)
    fleet = [
        FleetHub(hub_id, known[hub_id]["password"], directory / known[hub_id]["directory"])
        for hub_id in wanted
    ]
    return fleet
