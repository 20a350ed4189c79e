"""The broker's accounts, ACL and hub provisioning, rendered into Mosquitto's files.

A registry (`accounts.json`) is the source of truth; the password file and the ACL file are
rendered from it after every change and swapped in atomically, then Mosquitto is told to reload
(SIGHUP), which applies them without dropping other clients. A hub's username is its hub id, so
the ACL patterns (`%u`) confine each hub to its own topics; the identity never comes from a payload.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from broker.admin import passwords, pki
from broker.topics import TOPIC_PREFIX, Channel, validate_hub_id

INGEST_ACCOUNT = "svc.ingest"
ADMIN_ACCOUNT = "svc.admin"
# Service usernames contain a dot, which no hub id may contain, so no hub can ever be confused
# with a service and the `%u` patterns below never grant a service a real hub's topics.
SERVICE_ACCOUNTS = (INGEST_ACCOUNT, ADMIN_ACCOUNT)

_ACL_TEMPLATE = """\
# Rendered by rpm-gateway from accounts.json; edits here are overwritten.
# Hubs (username = hub id): publish to their own readings/status/events, subscribe to their own config.
pattern write {readings}
pattern write {status}
pattern write {events}
pattern read {config}

user {ingest}
topic read {prefix}/+/readings
topic read {prefix}/+/status
topic read {prefix}/+/events

user {admin}
topic readwrite {prefix}/+/config
topic read {prefix}/+/status
"""


class ProvisioningError(Exception):
    """A provisioning step was refused; the message says why and what to do."""


@dataclass(frozen=True)
class BrokerFiles:
    """Where one broker's PKI, accounts and rendered files live."""

    root: Path

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.pki_dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.pki_dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.pki_dir / "server.key"

    @property
    def registry(self) -> Path:
        return self.root / "accounts.json"

    @property
    def password_file(self) -> Path:
        return self.root / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.root / "acl"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    def service_password_file(self, account: str) -> Path:
        return self.secrets_dir / f"{account}.password"


@dataclass(frozen=True)
class HubBundle:
    """What `add-hub` hands to the installer of one home hub."""

    hub_id: str
    directory: Path
    config_file: Path
    cert_not_after: dt.datetime


class BrokerAdmin:
    """Creates and changes the broker's accounts; `reload` tells a running broker to re-read them."""

    def __init__(self, files: BrokerFiles, reload: Callable[[], None] = lambda: None) -> None:
        self.files = files
        self._reload = reload

    # --- registry -----------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, str | None]]:
        if not self.files.registry.exists():
            return {}
        return json.loads(self.files.registry.read_text())

    def _save_and_render(self, accounts: dict[str, dict[str, str | None]]) -> None:
        _atomic_write(
            self.files.registry, json.dumps(accounts, indent=2, sort_keys=True) + "\n", private=True
        )
        lines = [
            f"{name}:{entry['hash']}"
            for name, entry in sorted(accounts.items())
            if entry.get("revoked_at") is None
        ]
        _atomic_write(self.files.password_file, "\n".join(lines) + "\n", private=True)
        acl = _ACL_TEMPLATE.format(
            readings=f"{TOPIC_PREFIX}/%u/{Channel.READINGS}",
            status=f"{TOPIC_PREFIX}/%u/{Channel.STATUS}",
            events=f"{TOPIC_PREFIX}/%u/{Channel.EVENTS}",
            config=f"{TOPIC_PREFIX}/%u/{Channel.CONFIG}",
            ingest=INGEST_ACCOUNT,
            admin=ADMIN_ACCOUNT,
            prefix=TOPIC_PREFIX,
        )
        _atomic_write(self.files.acl_file, acl, private=True)

    # --- init -----------------------------------------------------------------------------------
    def init(
        self,
        *,
        hostnames: tuple[str, ...] = (),
        ca: pki.CertificateAuthority | None = None,
    ) -> bool:
        """Create what is missing: CA, server certificate, service accounts. True if anything changed."""
        changed = False
        self.files.root.mkdir(parents=True, exist_ok=True)
        if ca is not None or not self.files.ca_cert.exists():
            authority = ca or pki.CertificateAuthority.create()
            authority.save(self.files.ca_cert, self.files.ca_key)
            self.files.server_cert.unlink(missing_ok=True)
            changed = True
        if not self.files.server_cert.exists():
            authority = pki.CertificateAuthority.load(self.files.ca_cert, self.files.ca_key)
            names = ("localhost", socket.gethostname(), *hostnames)
            dns = tuple(dict.fromkeys(n for n in names if not _is_ip(n)))
            ips = tuple(dict.fromkeys(("127.0.0.1", "::1", *(n for n in hostnames if _is_ip(n)))))
            cert, key = authority.issue(
                "rpm-gateway broker",
                server=True,
                validity=pki.SERVER_VALIDITY,
                dns_names=dns,
                ip_addresses=ips,
            )
            pki.write_private(self.files.server_key, pki.private_key_pem(key))
            self.files.server_cert.write_bytes(pki.cert_pem(cert))
            changed = True
        accounts = self._load()
        for account in SERVICE_ACCOUNTS:
            secret = self.files.service_password_file(account)
            if account in accounts and secret.exists():
                continue
            password = passwords.new_password()
            pki.write_private(secret, password.encode())
            accounts[account] = {
                "role": "service",
                "hash": passwords.hash_password(password),
                "revoked_at": None,
            }
            changed = True
        if changed or not self.files.password_file.exists():
            self._save_and_render(accounts)
            self._reload()
        return changed

    def service_password(self, account: str) -> str:
        return self.files.service_password_file(account).read_text().strip()

    # --- hubs -------------------------------------------------------------------------------------
    def add_hub(
        self,
        hub_id: str,
        *,
        broker_url: str,
        out_dir: Path,
        validity: dt.timedelta = pki.HUB_VALIDITY,
        not_before: dt.datetime | None = None,
    ) -> HubBundle:
        """Issue a hub's password and client certificate, and write its config bundle."""
        validate_hub_id(hub_id)
        accounts = self._load()
        existing = accounts.get(hub_id)
        if existing is not None and existing.get("revoked_at") is None:
            raise ProvisioningError(
                f"hub {hub_id!r} already has credentials; revoke them first (rpm broker revoke-hub {hub_id})"
            )
        authority = pki.CertificateAuthority.load(self.files.ca_cert, self.files.ca_key)
        cert, key = authority.issue(hub_id, server=False, validity=validity, not_before=not_before)
        password = passwords.new_password()
        directory = out_dir / hub_id
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        pki.write_private(directory / "hub.key", pki.private_key_pem(key))
        (directory / "hub.crt").write_bytes(pki.cert_pem(cert))
        (directory / "ca.crt").write_bytes(self.files.ca_cert.read_bytes())
        config = directory / "hub.toml"
        pki.write_private(config, _hub_toml(hub_id, broker_url, password).encode())
        accounts[hub_id] = {
            "role": "hub",
            "hash": passwords.hash_password(password),
            "created_at": _now_iso(),
            "cert_serial": format(cert.serial_number, "x"),
            "cert_not_after": cert.not_valid_after_utc.isoformat(),
            "revoked_at": None,
        }
        self._save_and_render(accounts)
        self._reload()
        return HubBundle(hub_id, directory, config, cert.not_valid_after_utc)

    def revoke_hub(self, hub_id: str) -> None:
        """Refuse the hub from now on; Mosquitto drops its live connection on reload."""
        validate_hub_id(hub_id)
        accounts = self._load()
        entry = accounts.get(hub_id)
        if entry is None or entry.get("role") != "hub":
            raise ProvisioningError(f"no hub {hub_id!r} is provisioned on this broker")
        if entry.get("revoked_at") is not None:
            return
        entry["revoked_at"] = _now_iso()
        self._save_and_render(accounts)
        self._reload()

    def hubs(self) -> dict[str, dict[str, str | None]]:
        return {name: entry for name, entry in self._load().items() if entry.get("role") == "hub"}


def _hub_toml(hub_id: str, broker_url: str, password: str) -> str:
    return (
        "# rpm-gateway home hub: written by `rpm broker add-hub`. Keep it secret (mode 0600).\n"
        f'hub_id = "{hub_id}"\n'
        f'broker_url = "{broker_url}"\n'
        f'username = "{hub_id}"\n'
        f'password = "{password}"\n'
        "# Paths are relative to this file.\n"
        'ca_file = "ca.crt"\n'
        'cert_file = "hub.crt"\n'
        'key_file = "hub.key"\n'
        'state_dir = "state"\n'
    )


def _atomic_write(path: Path, text: str, *, private: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
