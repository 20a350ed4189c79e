"""The connection pool (opened in the app's lifespan) and the per-request transaction.

The request owns the transaction: repositories never commit. The audit entries a request collects
(`audit.record`) are inserted by one statement sent together with COMMIT (one round trip), before the
response leaves: if they cannot be written, nothing is committed and the client gets an error, not the data.
A request that fails is rolled back, and its audit entries are written marked failed, so an attempted read
stays on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from psycopg_pool import ConnectionPool

from careteam_api.settings import ApiSettings


def open_pool(settings: ApiSettings, *, max_size: int | None = None) -> ConnectionPool:
    """The process's pool; `max_size` overrides the settings' (each uvicorn worker gets its share)."""
    size = max_size or settings.pool_max_size
    pool = ConnectionPool(
        settings.database_url,
        min_size=min(settings.pool_min_size, size),
        max_size=size,
        open=False,
        kwargs={"application_name": "careteam_api"},
    )
    pool.open(wait=True, timeout=30)
    return pool


def get_db(request: Request) -> Iterator[psycopg.Connection]:
    """One transaction per request: committed when the handler returns, rolled back when it raises."""
    from careteam_api import audit

    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        audit.bind(request, conn)
        try:
            yield conn
        except BaseException:
            conn.rollback()
            audit.rewrite_failed(conn, request)
            conn.commit()
            raise
        audit.commit_with_entries(conn, request)


# scope="function": the transaction ends when the handler returns, before the response is sent, so a client
# that has its answer (a new session, a correction) always finds it committed on its next request.
DbSession = Annotated[psycopg.Connection, Depends(get_db, scope="function")]
