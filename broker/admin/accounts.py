"""The broker's accounts and hub provisioning.

Mosquitto's dynamic-security plugin holds the credentials and ACLs (see `broker.admin.dynsec` for
why); `accounts.json` keeps what the plugin does not: each hub's certificate serial and expiry, and
when it was provisioned or revoked. A hub's username is its hub id and its role allows its own
topics only, so its identity comes from its credentials, never from a payload.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.admin import dynsec, passwords, pki
from broker.topics import validate_hub_id

INGEST_ACCOUNT = "svc.ingest"
ADMIN_ACCOUNT = "svc.admin"
PROVISIONER_ACCOUNT = "svc.provisioner"
# Service usernames contain a dot, which no hub id may contain: no hub can pose as a service.
SERVICE_ACCOUNTS = {
    INGEST_ACCOUNT: dynsec.ingest_acls,
    ADMIN_ACCOUNT: dynsec.admin_acls,
    PROVISIONER_ACCOUNT: dynsec.provisioner_acls,
}


class ProvisioningError(Exception):
    """A provisioning step was refused; the message says why, `fix` what to do."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


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
    def dynsec_file(self) -> Path:
        """The plugin's own file: Mosquitto rewrites it on every change."""
        return self.root / "dynamic-security.json"

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
    """Creates the broker's accounts and provisions hubs through the plugin's control API."""

    def __init__(self, files: BrokerFiles, control_url: str | None = None) -> None:
        self.files = files
        self.control_url = control_url

    # --- registry -----------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.files.registry.exists():
            return {}
        return json.loads(self.files.registry.read_text())

    def _save(self, accounts: dict[str, dict[str, Any]]) -> None:
        _atomic_write(self.files.registry, json.dumps(accounts, indent=2, sort_keys=True) + "\n")

    def _control(self) -> dynsec.ControlClient:
        if self.control_url is None:
            raise ProvisioningError("the broker is not running", fix="start it with `rpm services up`")
        return dynsec.ControlClient(
            self.control_url, PROVISIONER_ACCOUNT, self.service_password(PROVISIONER_ACCOUNT)
        )

    # --- init -----------------------------------------------------------------------------------
    def init(self, *, hostnames: tuple[str, ...] = (), ca: pki.CertificateAuthority | None = None) -> bool:
        """Create what is missing: CA, server certificate, service accounts. True if anything changed."""
        changed = False
        self.files.root.mkdir(parents=True, exist_ok=True)
        if ca is not None or not self.files.ca_cert.exists():
            authority = ca or pki.CertificateAuthority.create()
            authority.save(self.files.ca_cert, self.files.ca_key)
            self.files.server_cert.unlink(missing_ok=True)
            changed = True
        if not self.files.server_cert.exists():
            self._issue_server_certificate(hostnames)
            changed = True
        if not self.files.dynsec_file.exists():
            accounts = []
            for account, acls in SERVICE_ACCOUNTS.items():
                password = passwords.new_password()
                pki.write_private(self.files.service_password_file(account), password.encode())
                accounts.append((account, password, acls()))
            config = dynsec.initial_config(accounts)
            _atomic_write(self.files.dynsec_file, json.dumps(config, indent=2) + "\n")
            changed = True
        missing = [a for a in SERVICE_ACCOUNTS if not self.files.service_password_file(a).exists()]
        if missing:
            raise ProvisioningError(
                f"service account secrets {missing} are missing from {self.files.secrets_dir}",
                fix=f"restore them, or stop the broker and remove {self.files.dynsec_file} to recreate all",
            )
        return changed

    def _issue_server_certificate(self, hostnames: tuple[str, ...]) -> None:
        authority = pki.CertificateAuthority.load(self.files.ca_cert, self.files.ca_key)
        names = ("localhost", socket.gethostname(), *hostnames)
        dns = tuple(dict.fromkeys(n for n in names if not _is_ip(n)))
        ips = tuple(dict.fromkeys(("127.0.0.1", "::1", *(n for n in hostnames if _is_ip(n)))))
        cert, key = authority.issue(
            "rpm-gateway broker", server=True, validity=pki.SERVER_VALIDITY, dns_names=dns, ip_addresses=ips
        )
        pki.write_private(self.files.server_key, pki.private_key_pem(key))
        self.files.server_cert.write_bytes(pki.cert_pem(cert))

    def sync_service_roles(self) -> int:
        """Bring the running broker's service roles to what this code expects; returns changes made."""
        control = self._control()
        changes = 0
        for account, acls in SERVICE_ACCOUNTS.items():
            rolename = dynsec.service_role_name(account)
            try:
                [answer] = control.run([{"command": "getRole", "rolename": rolename}])
                commands = dynsec.role_sync_commands(rolename, answer["data"]["role"].get("acls", []), acls())
                if commands:
                    control.run(commands)
            except (dynsec.DynsecError, KeyError, ValueError) as exc:
                raise ProvisioningError(
                    f"cannot bring the broker's role {rolename} up to date: {exc}",
                    fix="check the broker log; `rpm broker init` recreates missing accounts",
                ) from exc
            changes += len(commands)
        return changes

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
        """Issue a hub's password and client certificate, register it, and write its config bundle."""
        return self.add_hubs(
            [hub_id], broker_url=broker_url, out_dir=out_dir, validity=validity, not_before=not_before
        )[0]

    def add_hubs(
        self,
        hub_ids: list[str],
        *,
        broker_url: str,
        out_dir: Path,
        validity: dt.timedelta = pki.HUB_VALIDITY,
        not_before: dt.datetime | None = None,
    ) -> list[HubBundle]:
        """`add_hub` for many hubs: one control message and one registry write for all of them.

        Through a running broker (all or nothing: a refused command undoes the others and nothing is
        written), or, while the broker is stopped, straight into the plugin's file, which it loads when it
        starts: the way to provision thousands of hubs (see `_register_offline`)."""
        for hub_id in hub_ids:
            validate_hub_id(hub_id)
        accounts = self._load()
        taken = [h for h in hub_ids if accounts.get(h, {}).get("revoked_at", True) is None]
        if taken or len(set(hub_ids)) != len(hub_ids):
            first = taken[0] if taken else next(h for h in hub_ids if hub_ids.count(h) > 1)
            raise ProvisioningError(
                f"hub {first!r} already has credentials",
                fix=f"revoke them first (rpm broker revoke-hub {first}) to issue new ones",
            )
        authority = pki.CertificateAuthority.load(self.files.ca_cert, self.files.ca_key)
        issued = [
            (hub_id, *authority.issue(hub_id, server=False, validity=validity, not_before=not_before),
             passwords.new_password())
            for hub_id in hub_ids
        ]  # fmt: skip
        if self.control_url is None:
            self._register_offline(issued)
        else:
            self._register_live(issued)
        ca_pem = self.files.ca_cert.read_bytes()
        bundles = []
        for hub_id, cert, key, password in issued:
            directory = out_dir / hub_id
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            pki.write_private(directory / "hub.key", pki.private_key_pem(key))
            (directory / "hub.crt").write_bytes(pki.cert_pem(cert))
            (directory / "ca.crt").write_bytes(ca_pem)
            config = directory / "hub.toml"
            pki.write_private(config, _hub_toml(hub_id, broker_url, password).encode())
            accounts[hub_id] = {
                "role": "hub",
                "created_at": _now_iso(),
                "cert_serial": format(cert.serial_number, "x"),
                "cert_not_after": cert.not_valid_after_utc.isoformat(),
                "revoked_at": None,
            }
            bundles.append(HubBundle(hub_id, directory, config, cert.not_valid_after_utc))
        self._save(accounts)
        return bundles

    def _register_live(self, issued: list[tuple[str, Any, Any, str]]) -> None:
        """Create each hub's role and client through the running broker's control API."""
        commands: list[dict[str, Any]] = []
        for hub_id, _cert, _key, password in issued:
            role = dynsec.hub_role_name(hub_id)
            acls = [a.as_json() for a in dynsec.hub_acls(hub_id)]
            commands.append({"command": "createRole", "rolename": role, "acls": acls})
            commands.append(
                {"command": "createClient", "username": hub_id, "password": password,
                 "roles": [{"rolename": role}]}
            )  # fmt: skip
        hub_ids = [hub_id for hub_id, *_ in issued]
        try:
            self._control().run(commands)
        except dynsec.DynsecError as exc:
            self._forget_on_broker(hub_ids)
            which = f"hub {hub_ids[0]!r}" if len(hub_ids) == 1 else f"{len(hub_ids)} hubs from {hub_ids[0]!r}"
            raise ProvisioningError(f"the broker refused {which}: {exc}") from exc

    def _register_offline(self, issued: list[tuple[str, Any, Any, str]]) -> None:
        """Write the hubs into the plugin's file while the broker is stopped; it loads them when it starts.

        The plugin rewrites its whole file after every change it is sent, so provisioning thousands of hubs
        through a running broker takes an hour; written here, it takes seconds. A client or role of the
        same name that the registry does not know is what an interrupted request left behind: replaced."""
        path = self.files.dynsec_file
        if not path.exists():
            raise ProvisioningError("the broker has no accounts yet", fix="run `rpm services up` once")
        config = json.loads(path.read_text())
        names = {hub_id for hub_id, *_ in issued}
        roles = {dynsec.hub_role_name(hub_id) for hub_id in names}
        config["clients"] = [c for c in config.get("clients", []) if c.get("username") not in names]
        config["roles"] = [r for r in config.get("roles", []) if r.get("rolename") not in roles]
        for hub_id, _cert, _key, password in issued:
            role = dynsec.hub_role_name(hub_id)
            hashed = passwords.hash_password(password)
            config["roles"].append({"rolename": role, "acls": [a.as_json() for a in dynsec.hub_acls(hub_id)]})
            config["clients"].append(
                {"username": hub_id, "password": hashed.password_b64, "salt": hashed.salt_b64,
                 "iterations": hashed.iterations, "roles": [{"rolename": role}]}
            )  # fmt: skip
        _atomic_write(path, json.dumps(config, indent=2) + "\n")

    def _forget_on_broker(self, hub_ids: list[str]) -> None:
        """Undo what a refused bulk request created before the refusal (the plugin runs every command)."""
        for hub_id in hub_ids:
            with contextlib.suppress(dynsec.DynsecError):  # never created
                self._control().run(
                    [
                        {"command": "deleteClient", "username": hub_id},
                        {"command": "deleteRole", "rolename": dynsec.hub_role_name(hub_id)},
                    ]
                )

    def revoke_hub(self, hub_id: str) -> None:
        """Refuse the hub from now on; the broker closes its live connection at once."""
        validate_hub_id(hub_id)
        accounts = self._load()
        entry = accounts.get(hub_id)
        if entry is None or entry.get("role") != "hub":
            raise ProvisioningError(
                f"no hub {hub_id!r} is provisioned on this broker", fix="see `rpm broker hubs`"
            )
        if entry.get("revoked_at") is not None:
            return
        try:
            self._control().run(
                [
                    {"command": "deleteClient", "username": hub_id},
                    {"command": "deleteRole", "rolename": dynsec.hub_role_name(hub_id)},
                ]
            )
        except dynsec.DynsecError as exc:
            raise ProvisioningError(f"the broker refused to revoke hub {hub_id!r}: {exc}") from exc
        entry["revoked_at"] = _now_iso()
        self._save(accounts)

    def hubs(self) -> dict[str, dict[str, Any]]:
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


def _atomic_write(path: Path, text: str) -> None:
    """Write a private file so that readers see the old or the new content, never half of it."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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
