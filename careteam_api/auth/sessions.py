"""Sessions and tokens in the database: create on login, look up per request, end on logout or idleness."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import psycopg

from careteam_api.auth.tokens import new_token, token_hash
from careteam_api.errors import NotAuthenticated
from careteam_api.settings import ApiSettings

SessionKind = Literal["console", "api"]
# last_seen_at is written at most this often per session: a page that makes ten calls writes one row.
TOUCH_EVERY = timedelta(seconds=20)


@dataclass(frozen=True)
class Principal:
    """The authenticated user of one request."""

    user_id: uuid.UUID
    practice_id: uuid.UUID
    role: str
    full_name: str
    email: str
    session_id: int
    kind: SessionKind
    token: str


def create(
    conn: psycopg.Connection,
    settings: ApiSettings,
    user_id: uuid.UUID,
    kind: SessionKind,
    *,
    ip: str | None,
    user_agent: str | None,
    label: str | None = None,
) -> tuple[str, datetime]:
    """A new session or token; returns the token (shown once) and when it expires."""
    token = new_token()
    lifetime = (
        timedelta(hours=settings.session_max_hours)
        if kind == "console"
        else timedelta(days=settings.api_token_days)
    )
    row = conn.execute(
        "INSERT INTO api_sessions (token_hash, user_id, kind, label, expires_at, ip, user_agent)"
        " VALUES (%s, %s, %s, %s, now() + %s, %s, %s) RETURNING expires_at",
        (
            token_hash(settings.session_secret.get_secret_value(), token),
            user_id,
            kind,
            label,
            lifetime,
            ip,
            user_agent,
        ),
    ).fetchone()
    assert row is not None
    return token, row[0]


def authenticate(conn: psycopg.Connection, settings: ApiSettings, token: str) -> Principal:
    """The user behind `token`, or NotAuthenticated saying why; ends console sessions left idle too long."""
    row = conn.execute(
        "SELECT s.session_id, s.kind, s.revoked_at IS NOT NULL, s.expires_at <= now(),"
        " now() - s.last_seen_at, u.user_id, u.practice_id, u.role, u.full_name, u.email, u.active"
        " FROM api_sessions s JOIN users u USING (user_id) WHERE s.token_hash = %s",
        (token_hash(settings.session_secret.get_secret_value(), token),),
    ).fetchone()
    if row is None:
        raise NotAuthenticated("not logged in: the session or token is unknown; log in again")
    session_id, kind, revoked, expired, idle, user_id, practice_id, role, name, email, active = row
    if revoked:
        raise NotAuthenticated("the session was ended; log in again")
    if expired:
        raise NotAuthenticated("the session has expired; log in again")
    if not active:
        raise NotAuthenticated("the account is disabled")
    if kind == "console" and idle > timedelta(minutes=settings.idle_timeout_minutes):
        revoke(conn, session_id, "idle")
        raise NotAuthenticated(
            f"logged off after {settings.idle_timeout_minutes:g} minutes without activity; log in again"
        )
    if idle > TOUCH_EVERY:
        conn.execute("UPDATE api_sessions SET last_seen_at = now() WHERE session_id = %s", (session_id,))
    return Principal(user_id, practice_id, role, name, email, session_id, kind, token)


def revoke(conn: psycopg.Connection, session_id: int, why: str) -> None:
    conn.execute(
        "UPDATE api_sessions SET revoked_at = now(), revoked_why = %s"
        " WHERE session_id = %s AND revoked_at IS NULL",
        (why, session_id),
    )
