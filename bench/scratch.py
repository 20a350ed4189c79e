"""A scratch database for one benchmark run: created and migrated on the local TimescaleDB, dropped after."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from database.migrate import migrate


@contextmanager
def scratch_database(url: str, prefix: str, keep: bool = False) -> Iterator[str]:
    """The URL of a new, migrated database named `<prefix>_<time>`; dropped at the end unless `keep`."""
    name = f"{prefix}_{dt.datetime.now(dt.UTC):%Y%m%d_%H%M%S_%f}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    scratch = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    try:
        migrate(scratch)
        yield scratch
    finally:
        if keep:
            print(f"kept the database {name}")
        else:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
