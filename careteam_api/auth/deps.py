"""FastAPI dependencies: the current user (cookie or bearer token) and capability checks.

A console session travels in an HttpOnly cookie; a state-changing request made with it must also carry the
session's CSRF token (header X-CSRF-Token or form field csrf_token). Bearer-token clients need none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from careteam_api.auth import sessions
from careteam_api.auth.roles import Capability, allows
from careteam_api.auth.sessions import Principal
from careteam_api.auth.tokens import csrf_ok
from careteam_api.db import DbSession
from careteam_api.errors import Forbidden, NotAuthenticated
from careteam_api.settings import ApiSettings

SESSION_COOKIE = "rpm_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/tokens")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="console session (log in at /login)"
)


# Dependencies that do no I/O are async: FastAPI runs them on the event loop, not in a thread of the pool.
async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


Settings = Annotated[ApiSettings, Depends(get_settings)]


def client_ip(request: Request, settings: ApiSettings) -> str | None:
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else None


async def _csrf_from(request: Request) -> str | None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        presented = value if isinstance(value, str) else None
    return presented


async def csrf_presented(request: Request) -> str | None:
    return None if request.method in _SAFE_METHODS else await _csrf_from(request)


@dataclass(frozen=True)
class Credentials:
    """The token a request presents: a bearer token, or the console's cookie (with its CSRF token)."""

    token: str
    from_cookie: bool
    csrf: str | None


async def credentials(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
    csrf: Annotated[str | None, Depends(csrf_presented)],
) -> Credentials:
    if bearer is not None:
        return Credentials(bearer.credentials, False, None)
    if cookie:
        return Credentials(cookie, True, csrf)
    raise NotAuthenticated("not logged in: send 'Authorization: Bearer <token>' or log in at /login")


PresentedCredentials = Annotated[Credentials, Depends(credentials)]


def authenticated(request: Request) -> Principal | None:
    """The principal this request was already authenticated as (by whichever dependency ran first)."""
    return getattr(request.state, "authenticated", None)


def accept(
    request: Request, conn: psycopg.Connection, settings: ApiSettings, creds: Credentials, *, patient_id=None
) -> tuple[Principal, tuple | None]:
    """Authenticate the request (once), checking the CSRF token of a cookie session's change; with
    `patient_id`, also fetch that patient of the user's practice in the same query."""
    if patient_id is None:
        principal, patient = sessions.authenticate(conn, settings, creds.token), None
    else:
        principal, patient = sessions.authenticate_with_patient(conn, settings, creds.token, patient_id)
    _admit(request, settings, creds, principal)
    return principal, patient


async def accept_async(
    request: Request,
    conn: psycopg.AsyncConnection,
    settings: ApiSettings,
    creds: Credentials,
    *,
    patient_id: uuid.UUID,
) -> tuple[Principal, tuple | None]:
    """`accept` with a patient, on an async connection."""
    principal, patient = await sessions.authenticate_with_patient_async(
        conn, settings, creds.token, patient_id
    )
    _admit(request, settings, creds, principal)
    return principal, patient


def _admit(request: Request, settings: ApiSettings, creds: Credentials, principal: Principal) -> None:
    """The checks after the session is known: a cookie session's change must carry its CSRF token."""
    if creds.from_cookie:
        secret = settings.session_secret.get_secret_value()
        if request.method not in _SAFE_METHODS and not csrf_ok(secret, creds.token, creds.csrf):
            raise Forbidden(f"missing or wrong CSRF token: send the page's token in the {CSRF_HEADER} header")
        request.state.principal = principal
    request.state.authenticated = principal


def current_principal(
    request: Request, conn: DbSession, settings: Settings, creds: PresentedCredentials
) -> Principal:
    principal = authenticated(request)
    if principal is None:
        principal, _ = accept(request, conn, settings, creds)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(capability: Capability):
    """A dependency that lets the request through only for roles with `capability`."""

    async def check(user: CurrentUser) -> Principal:
        if not allows(user.role, capability):
            raise Forbidden(f"a {user.role} may not do this (needs {capability.value})")
        return user

    check.capability = capability  # type: ignore[attr-defined]
    return check
