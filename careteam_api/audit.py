"""The audit log of patient data: who read or changed what, of which patient, when and from where.

Entries are written in the request's transaction by the dependencies that resolve a patient (tenancy) and
by practice-wide reads. If the request then fails, db.get_db rolls back and `rewrite_failed` records the
same entries again with outcome 'failed', so an attempt is never lost with the transaction.
"""

from __future__ import annotations

import logging
import uuid
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


def record(
    conn: psycopg.Connection,
    request: Request,
    user: Principal,
    *,
    patient_id: uuid.UUID | None,
    action: str | None = None,
    **detail: Any,
) -> None:
    """Write one entry now (in the request's transaction) and remember it in case the request fails."""
    row = _row(request, user, action or _ACTION_OF_METHOD.get(request.method, "read"), patient_id, detail)
    conn.execute(
        "INSERT INTO audit_log (user_id, practice_id, action, resource, patient_id, detail, ip, user_agent)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        row,
    )
    pending = getattr(request.state, "audit_rows", None)
    if pending is None:
        pending = request.state.audit_rows = []
    pending.append(row)


def rewrite_failed(conn: psycopg.Connection, request: Request) -> None:
    """After a rollback: the request's audit entries again, marked failed."""
    rows = getattr(request.state, "audit_rows", None) or []
    try:
        for row in rows:
            conn.execute(
                "INSERT INTO audit_log (user_id, practice_id, action, resource, patient_id, detail, ip,"
                " user_agent, outcome) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'failed')",
                row,
            )
    except psycopg.Error:
        log.exception(
            "could not record %d audit entries of a failed request %s", len(rows), route_name(request)
        )
