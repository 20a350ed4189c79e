"""Shared fixtures: the real Mosquitto and TimescaleDB of the local stack, started on demand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from rpmctl.services.endpoints import Endpoints
from rpmctl.services.progress import Progress
from rpmctl.services.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack() -> LocalStack:
    return LocalStack(progress=Progress(quiet=True))


@pytest.fixture(scope="session")
def services(local_stack: LocalStack) -> Endpoints:
    """Start (or reuse) the project's services and migrate the database: seconds when warm."""
    from database.migrate import migrate

    endpoints = local_stack.up()
    migrate(endpoints.database_url)
    return endpoints


@pytest.fixture(scope="session")
def database_url(services: Endpoints) -> str:
    return services.database_url


@pytest.fixture(scope="session")
def mqtt_url(services: Endpoints) -> str:
    return services.mqtt_url


@pytest.fixture
def scratch_database_url(database_url: str) -> Iterator[str]:
    """A new, empty database on the same server, dropped afterwards (for schema tests)."""
    import psycopg
    from psycopg import sql

    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
