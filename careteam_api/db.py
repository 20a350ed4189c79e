"""The connection pool (opened in the app's lifespan) and the per-request transaction.

The request owns the transaction: repositories never commit. A request that fails is rolled back, and the
audit entries it had written are written again, marked failed, so an attempted read stays on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from psycopg_pool import ConnectionPool

from careteam_api.settings import ApiSettings


def open_pool(settings: ApiSettings) -> ConnectionPool:
    pool = ConnectionPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        open=False,
        kwargs={"application_name": "careteam_api"},
    )
    pool.open(wait=True, timeout=30)
    return pool


def get_db(request: Request) -> Iterator[psycopg.Connection]:
    """One transaction per request: committed when the handler returns, rolled back when it raises."""
    from careteam_api.audit import rewrite_failed

    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        try:
            yield conn
        except BaseException:
            conn.rollback()
            rewrite_failed(conn, request)
            conn.commit()
            raise
        conn.commit()


# scope="function": the transaction ends when the handler returns, before the response is sent, so a client
# that has its answer (a new session, a correction) always finds it committed on its next request.
DbSession = Annotated[psycopg.Connection, Depends(get_db, scope="function")]
