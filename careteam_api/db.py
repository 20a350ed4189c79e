"""The connection pool (opened in the app's lifespan) and the per-request transaction.

The request owns the transaction: repositories never commit. The audit entries a request collects
(`audit.record`) are inserted by one statement sent together with COMMIT (one round trip), before the
response leaves: if they cannot be written, nothing is committed and the client gets an error, not the data.
A request that fails is rolled back, and its audit entries are written marked failed, so an attempted read
stays on record.

At most as many requests as the pool has connections hold or wait for one at a time (`gate`); the others
wait on the event loop, holding no thread. Every step of a request after it has its connection
(dependencies, handler) runs in the shared thread pool (40 threads): without the gate, requests beyond the
pool's size took threads only to wait for a connection, and once all threads waited, the requests holding
the connections got no thread to finish on; the server stood still until the pool's timeout (seen with 50
clients on one process of 10 connections). Behind the gate a connection is nearly always ready, so it is
taken on the event loop; only when none is (the pool still growing, or reconnecting) does a thread wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool

from careteam_api import audit
from careteam_api.settings import ApiSettings

# How long the event loop may wait for a connection that is not ready at once, before a thread waits for
# it instead: short enough to go unnoticed by the other requests of the loop.
LOOP_WAIT_SECONDS = 0.001
IDLE = TransactionStatus.IDLE


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


def gate(pool: ConnectionPool | AsyncConnectionPool) -> asyncio.Semaphore:
    """One place per connection of the pool (made in the lifespan, kept in app.state.db_gate)."""
    return asyncio.Semaphore(pool.max_size)


async def _connection(pool: ConnectionPool) -> psycopg.Connection:
    try:
        return pool.getconn(timeout=LOOP_WAIT_SECONDS)
    except PoolTimeout:
        return await run_in_threadpool(pool.getconn)


def _end(pool: ConnectionPool, conn: psycopg.Connection, request: Request, *, failed: bool) -> None:
    """Commit with the audit entries (or roll back and record them failed), then give the connection back."""
    try:
        if failed:
            conn.rollback()
            audit.rewrite_failed(conn, request)
            conn.commit()
        else:
            audit.commit_with_entries(conn, request)
    finally:
        pool.putconn(conn)


async def get_db(request: Request) -> AsyncIterator[psycopg.Connection]:
    """One transaction per request: committed when the handler returns, rolled back when it raises."""
    pool: ConnectionPool = request.app.state.pool
    async with request.app.state.db_gate:
        conn = await _connection(pool)
        ended = False
        try:
            audit.bind(request, conn)
            try:
                yield conn
            except BaseException:
                ended = True
                await run_in_threadpool(_end, pool, conn, request, failed=True)
                raise
            ended = True
            await run_in_threadpool(_end, pool, conn, request, failed=False)
        finally:
            if not ended:  # cancelled before the end was reached: never lose the connection
                pool.putconn(conn)


# scope="function": the transaction ends when the handler returns, before the response is sent, so a client
# that has its answer (a new session, a correction) always finds it committed on its next request.
DbSession = Annotated[psycopg.Connection, Depends(get_db, scope="function")]


# The hot reads (a clinician's trend charts) run on the event loop, on psycopg's async connections of a pool
# of their own: no request of theirs takes a thread. Under 50 clients, handing each request to the thread
# pool and back twice (tenancy, then the handler) was about a third of a worker's Python time in a profile;
# moving the trend here took its server CPU from 3.3 to 2.8 ms a request (bench/README.md, API).


def open_read_pool(settings: ApiSettings) -> AsyncConnectionPool:
    """The process's pool for the hot reads (opened with `await pool.open(...)` in the lifespan)."""
    return AsyncConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=settings.read_pool_size_per_worker,
        open=False,
        kwargs={"application_name": "careteam_api"},
    )


async def _end_read(conn: psycopg.AsyncConnection, request: Request, *, failed: bool) -> None:
    """`_end` on an async connection (the pool takes the connection back after). After `commit_read_now`
    the entries are settled: only what ran after it is committed (or rolled back)."""
    if getattr(request.state, "db_committed", False):
        if conn.info.transaction_status != IDLE:
            await (conn.rollback() if failed else conn.commit())
    elif failed:
        await conn.rollback()
        await audit.rewrite_failed_async(conn, request)
        await conn.commit()
    else:
        await audit.commit_with_entries_async(conn, request)


async def get_read_db(request: Request) -> AsyncIterator[psycopg.AsyncConnection]:
    """`get_db` for the hot reads: one transaction per request on an async connection."""
    pool: AsyncConnectionPool = request.app.state.read_pool
    async with request.app.state.read_gate:
        conn = await pool.getconn()
        try:
            audit.bind(request, conn)
            try:
                yield conn
            except BaseException:
                await _end_read(conn, request, failed=True)
                raise
            await _end_read(conn, request, failed=False)
        finally:
            await pool.putconn(conn)


async def commit_read_now(conn: psycopg.AsyncConnection, request: Request) -> None:
    """Commit the request's transaction with its audit entries from the handler, once its reads are done.

    Inside an open pipeline, the entries and the COMMIT travel with the reads queued before them: one round
    trip for all, and get_read_db has nothing left to send. If the commit fails, the entries are recorded
    failed here, as get_read_db would.
    """
    request.state.db_committed = True
    await audit.commit_with_entries_async(conn, request)


ReadSession = Annotated[psycopg.AsyncConnection, Depends(get_read_db, scope="function")]
