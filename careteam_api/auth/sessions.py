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


_SESSION_COLUMNS = (
    "s.session_id, s.kind, s.revoked_at IS NOT NULL, s.expires_at <= now(),"
    " now() - s.last_seen_at, u.user_id, u.practice_id, u.role, u.full_name, u.email, u.active"
)
_SESSION_FIELDS = 11
_LOOKUP = (
    f"SELECT {_SESSION_COLUMNS} FROM api_sessions s JOIN users u USING (user_id) WHERE s.token_hash = %s"
)
# The session and, in the same round trip, a patient of the session user's practice (NULLs when there is
# none: another practice's patient looks exactly like a missing one).
_LOOKUP_WITH_PATIENT = (
    f"SELECT {_SESSION_COLUMNS}, p.patient_id, p.practice_id, p.mrn, p.given_name, p.family_name,"
    " p.birth_date, p.timezone FROM api_sessions s JOIN users u USING (user_id)"
    " LEFT JOIN patients p ON p.patient_id = %s AND p.practice_id = u.practice_id WHERE s.token_hash = %s"
)


def authenticate(conn: psycopg.Connection, settings: ApiSettings, token: str) -> Principal:
    """The user behind `token`, or NotAuthenticated saying why; ends console sessions left idle too long."""
    row = conn.execute(_LOOKUP, (token_hash(settings.session_secret.get_secret_value(), token),)).fetchone()
    return _principal(conn, settings, token, row)


def authenticate_with_patient(
    conn: psycopg.Connection, settings: ApiSettings, token: str, patient_id: uuid.UUID
) -> tuple[Principal, tuple | None]:
    """`authenticate`, plus the patient's row (patient_id, practice_id, mrn, given_name, family_name,
    birth_date, timezone) when the patient belongs to the user's practice, else None: one query."""
    row = conn.execute(_LOOKUP_WITH_PATIENT, _with_patient_params(settings, token, patient_id)).fetchone()
    return _principal(conn, settings, token, row), _patient_of(row)


async def authenticate_with_patient_async(
    conn: psycopg.AsyncConnection, settings: ApiSettings, token: str, patient_id: uuid.UUID
) -> tuple[Principal, tuple | None]:
    """`authenticate_with_patient` on an async connection."""
    cursor = await conn.execute(_LOOKUP_WITH_PATIENT, _with_patient_params(settings, token, patient_id))
    row = await cursor.fetchone()
    verdict, write = _judge(settings, token, row)
    if write is not None:
        await conn.execute(*write)
    return _admitted(verdict), _patient_of(row)


def _with_patient_params(settings: ApiSettings, token: str, patient_id: uuid.UUID) -> tuple:
    return (patient_id, token_hash(settings.session_secret.get_secret_value(), token))


def _patient_of(row: tuple | None) -> tuple | None:
    assert row is not None  # a missing session raised already
    patient = row[_SESSION_FIELDS:]
    return patient if patient[0] is not None else None


def _principal(conn: psycopg.Connection, settings: ApiSettings, token: str, row: tuple | None) -> Principal:
    verdict, write = _judge(settings, token, row)
    if write is not None:
        conn.execute(*write)
    return _admitted(verdict)


_Write = tuple[str, tuple]


def _judge(
    settings: ApiSettings, token: str, row: tuple | None
) -> tuple[Principal | NotAuthenticated, _Write | None]:
    """The principal of a looked-up session row, or why not; and the write it calls for first (ending an
    idle console session, or noting that the session was seen)."""
    if row is None:
        return NotAuthenticated("not logged in: the session or token is unknown; log in again"), None
    session_id, kind, revoked, expired, idle, user_id, practice_id, role, name, email, active = row[
        :_SESSION_FIELDS
    ]
    if revoked:
        return NotAuthenticated("the session was ended; log in again"), None
    if expired:
        return NotAuthenticated("the session has expired; log in again"), None
    if not active:
        return NotAuthenticated("the account is disabled"), None
    if kind == "console" and idle > timedelta(minutes=settings.idle_timeout_minutes):
        return NotAuthenticated(
            f"logged off after {settings.idle_timeout_minutes:g} minutes without activity; log in again"
        ), _revocation(session_id, "idle")
    write = (_TOUCH, (session_id,)) if idle > TOUCH_EVERY else None
    return Principal(user_id, practice_id, role, name, email, session_id, kind, token), write


def _admitted(verdict: Principal | NotAuthenticated) -> Principal:
    if isinstance(verdict, NotAuthenticated):
        raise verdict
    return verdict


_TOUCH = "UPDATE api_sessions SET last_seen_at = now() WHERE session_id = %s"
_REVOKE = (
    "UPDATE api_sessions SET revoked_at = now(), revoked_why = %s"
    " WHERE session_id = %s AND revoked_at IS NULL"
)


def _revocation(session_id: int, why: str) -> _Write:
    return _REVOKE, (why, session_id)


def revoke(conn: psycopg.Connection, session_id: int, why: str) -> None:
    conn.execute(*_revocation(session_id, why))
