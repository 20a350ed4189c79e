"""Shared fixtures: the real Mosquitto and TimescaleDB of the local stack, started on demand."""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from broker.admin.accounts import BrokerAdmin
from rpmctl.services.endpoints import Endpoints
from rpmctl.services.progress import Progress
from rpmctl.services.stack import LocalStack
from tests.mqtt_helpers import TestClient, TlsFiles


@pytest.fixture(scope="session")
def local_stack() -> LocalStack:
    return LocalStack(progress=Progress(quiet=True))


@pytest.fixture(scope="session")
def services(local_stack: LocalStack) -> Endpoints:
    """Start (or reuse) the project's services: seconds when warm."""
    return local_stack.up()


@pytest.fixture(scope="session")
def database_url(services: Endpoints) -> Iterator[str]:
    """A database of this test session's own, migrated from the working tree's files.

    The application's database is never touched by tests, so a half-written migration tried in one run
    cannot be recorded there and clash with its final version later.
    """
    from database.migrate import migrate

    with _scratch_database(services.database_url, prefix="test") as url:
        migrate(url)
        yield url


@contextmanager
def _scratch_database(server_url: str, *, prefix: str) -> Iterator[str]:
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def mqtt_url(services: Endpoints) -> str:
    return services.mqtt_url


@pytest.fixture
def scratch_database_url(services: Endpoints) -> Iterator[str]:
    """A new, empty database on the same server, dropped afterwards (for schema tests)."""
    with _scratch_database(services.database_url, prefix="scratch") as url:
        yield url


@dataclass(frozen=True)
class ProvisionedHub:
    """A hub provisioned on the real broker: its id, password and TLS files."""

    hub_id: str
    password: str
    url: str
    tls: TlsFiles

    def client(self, **kwargs: object) -> TestClient:
        return TestClient(
            self.url, self.hub_id, tls=self.tls, username=self.hub_id, password=self.password, **kwargs
        )


@pytest.fixture(scope="session")
def broker_admin(local_stack: LocalStack, services: Endpoints) -> BrokerAdmin:
    return local_stack.mosquitto.admin()


@pytest.fixture
def provision_hub(
    broker_admin: BrokerAdmin, services: Endpoints, tmp_path: Path
) -> Callable[..., ProvisionedHub]:
    """Provision hubs with unique ids through the same code as `rpm broker add-hub`."""

    def provision(**kwargs: object) -> ProvisionedHub:
        hub_id = f"hub-{uuid.uuid4().hex[:10]}"
        bundle = broker_admin.add_hub(hub_id, broker_url=services.mqtt_hub_url, out_dir=tmp_path, **kwargs)
        config = tomllib.loads(bundle.config_file.read_text())
        tls = TlsFiles(
            bundle.directory / "ca.crt", bundle.directory / "hub.crt", bundle.directory / "hub.key"
        )
        return ProvisionedHub(hub_id, config["password"], services.mqtt_hub_url, tls)

    return provision
