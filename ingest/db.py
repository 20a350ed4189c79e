"""The database boundary: connecting, and psycopg errors translated into what the worker does next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg

from ingest.errors import BatchRefused, DatabaseUnavailable, IngestError, TransientConflict

CONNECT_TIMEOUT_S = 5
"""A loopback or LAN database answers in milliseconds; 5 s tells "down" from "slow" without stalling."""
TRANSACTION_TIMEOUT = timedelta(minutes=5)
"""The server ends a transaction that lasts longer (PostgreSQL's transaction_timeout; the worker reconnects
and the batch is delivered again). A batch commits in well under a second; the bound is what lets the alert
engine trust that a reading ingested more than this long ago is already visible (alerts/window_cache.py)."""


def connect(url: str, application_name: str) -> psycopg.Connection:
    """An autocommit connection: every write runs in an explicit `conn.transaction()` of its caller."""
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=application_name,
            options=f"-c transaction_timeout={int(TRANSACTION_TIMEOUT.total_seconds() * 1000)}",
        )
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn psycopg errors into: retry now, retry later, isolate the batch, or stop (schema mismatch)."""
    try:
        yield
    except psycopg.errors.TransactionRollback as exc:  # deadlock, serialization failure
        raise TransientConflict(str(exc)) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    except (psycopg.DataError, psycopg.IntegrityError) as exc:
        raise BatchRefused(f"{type(exc).__name__}: {exc}") from exc
    except psycopg.ProgrammingError as exc:
        raise IngestError(
            f"the database schema does not match this ingest version ({exc}); run `rpm db migrate`"
        ) from exc
    except psycopg.Error as exc:
        raise DatabaseUnavailable(str(exc)) from exc
