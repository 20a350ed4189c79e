"""The audit log of patient data: who read or changed what, of which patient, when and from where.

Entries are collected by the dependencies that resolve a patient (tenancy) and by practice-wide reads, and
written in the request's own transaction: `commit_with_entries` inserts all of a request's entries with one
statement pipelined with the COMMIT, so auditing a read costs no round trip of its own, and no data is
released unless its entry is committed with it. If the request fails, db.get_db rolls back and
`rewrite_failed` records the same entries with outcome 'failed', so an attempt is never lost with the
transaction. A connection not handed out by db.get_db gets its entries inserted at once, as before.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from typing import Any

import psycopg
from fastapi import Request
from psycopg.types.json import Jsonb

from careteam_api.auth.sessions import Principal

log = logging.getLogger(__name__)
_ACTION_OF_METHOD = {
    "GET": "read",
    "HEAD": "read",
    "POST": "create",
    "PUT": "update",
    "PATCH": "update",
    "DELETE": "update",
}
_COLUMNS = "user_id, practice_id, action, resource, patient_id, detail, ip, user_agent, outcome"


@cache
def _insert(entries: int) -> str:
    """One INSERT of `entries` rows (cached per count, so each stays a prepared statement)."""
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * entries)
    return f"INSERT INTO audit_log ({_COLUMNS}) VALUES {values}"


def route_name(request: Request) -> str:
    """The route template (e.g. GET /api/v1/patients/{patient_id}): routers carry the full prefix."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _row(
    request: Request, user: Principal, action: str, patient_id: uuid.UUID | None, detail: dict[str, Any]
):
    agent = request.headers.get("user-agent")
    ip = getattr(request.state, "client_ip", None) or (request.client.host if request.client else None)
    return (
        user.user_id,
        user.practice_id,
        action,
        route_name(request),
        patient_id,
        Jsonb(detail),
        ip,
        agent[:500] if agent else None,
    )


def _pending(request: Request, name: str) -> list[tuple]:
    """The request's entries waiting for its commit (audit_rows), or written at once (audit_written)."""
    pending = getattr(request.state, name, None)
    if pending is None:
        pending = []
        setattr(request.state, name, pending)
    return pending


def _statement(rows: list[tuple], outcome: str) -> tuple[str, list[Any]]:
    return _insert(len(rows)), [v for row in rows for v in (*row, outcome)]


def _write(conn: psycopg.Connection, rows: list[tuple], outcome: str) -> None:
    conn.execute(*_statement(rows, outcome))


def bind(request: Request, conn: psycopg.Connection | psycopg.AsyncConnection) -> None:
    """Mark `conn` as the request's transaction: its entries wait for `commit_with_entries`."""
    request.state.audit_conn = conn
    request.state.audit_rows = []


def record(
    conn: psycopg.Connection | psycopg.AsyncConnection,
    request: Request,
    user: Principal,
    *,
    patient_id: uuid.UUID | None,
    action: str | None = None,
    **detail: Any,
) -> None:
    """Add one entry to the request's transaction (written at its commit; again, failed, if it fails)."""
    row = _row(request, user, action or _ACTION_OF_METHOD.get(request.method, "read"), patient_id, detail)
    if getattr(request.state, "audit_conn", None) is conn:
        _pending(request, "audit_rows").append(row)
    else:
        assert isinstance(conn, psycopg.Connection), "an async connection is always bound to its request"
        _write(conn, [row], "ok")
        _pending(request, "audit_written").append(row)


def commit_with_entries(conn: psycopg.Connection, request: Request) -> None:
    """Insert the request's entries and COMMIT in one round trip; on failure, record them failed."""
    rows = getattr(request.state, "audit_rows", None) or []
    try:
        if rows:
            with conn.pipeline():
                _write(conn, rows, "ok")
                conn.commit()
        else:
            conn.commit()
    except psycopg.Error:
        conn.rollback()
        rewrite_failed(conn, request)
        conn.commit()
        raise


def _all_entries(request: Request) -> list[tuple]:
    return (getattr(request.state, "audit_written", None) or []) + (
        getattr(request.state, "audit_rows", None) or []
    )


def rewrite_failed(conn: psycopg.Connection, request: Request) -> None:
    """After a rollback: the request's audit entries again, marked failed."""
    rows = _all_entries(request)
    if not rows:
        return
    try:
        _write(conn, rows, "failed")
    except psycopg.Error:
        log.exception(
            "could not record %d audit entries of a failed request %s", len(rows), route_name(request)
        )


# The same on an async connection (the hot reads, careteam_api.db.ReadSession).


async def commit_with_entries_async(conn: psycopg.AsyncConnection, request: Request) -> None:
    """`commit_with_entries` on an async connection."""
    rows = getattr(request.state, "audit_rows", None) or []
    try:
        async with conn.pipeline():
            if rows:
                await conn.execute(*_statement(rows, "ok"))
            await conn.commit()
    except psycopg.Error:
        await conn.rollback()
        await rewrite_failed_async(conn, request)
        await conn.commit()
        raise


async def rewrite_failed_async(conn: psycopg.AsyncConnection, request: Request) -> None:
    """`rewrite_failed` on an async connection."""
    rows = _all_entries(request)
    if not rows:
        return
    try:
        await conn.execute(*_statement(rows, "failed"))
    except psycopg.Error:
        log.exception(
            "could not record %d audit entries of a failed request %s", len(rows), route_name(request)
        )
