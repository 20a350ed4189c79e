"""Log in (bearer token for API clients), log out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from careteam_api.api import API_PREFIX
from careteam_api.api.schemas import LoginRequest, MePublic, TokenPublic
from careteam_api.auth import sessions
from careteam_api.auth.deps import CurrentUser, Settings, client_ip
from careteam_api.auth.login import attempt_login
from careteam_api.auth.roles import ROLE_CAPABILITIES
from careteam_api.db import DbSession

router = APIRouter(prefix=API_PREFIX + "/auth", tags=["auth"])
_ERRORS = {401: {"description": "wrong e-mail or password"}, 429: {"description": "too many failed logins"}}


@router.post("/tokens", response_model=TokenPublic, status_code=201, responses=_ERRORS)
def create_token(body: LoginRequest, request: Request, conn: DbSession, settings: Settings):
    """Exchange e-mail and password for a bearer token (send as `Authorization: Bearer <token>`)."""
    ip = client_ip(request, settings)
    user_id = attempt_login(conn, settings, body.email, body.password, ip)
    if user_id is None:
        # Returned, not raised: the failed attempt must be committed to count toward the limit.
        return JSONResponse({"detail": "wrong e-mail or password"}, status_code=401)
    token, expires = sessions.create(
        conn, settings, user_id, "api", ip=ip, user_agent=request.headers.get("user-agent"), label=body.label
    )
    return TokenPublic(access_token=token, expires_at=expires)


@router.post("/logout", status_code=204)
def logout(user: CurrentUser, conn: DbSession) -> None:
    """End this session or revoke this token."""
    sessions.revoke(conn, user.session_id, "logout")


@router.get("/me", response_model=MePublic)
def me(user: CurrentUser) -> MePublic:
    return MePublic(
        user_id=user.user_id,
        practice_id=user.practice_id,
        full_name=user.full_name,
        email=user.email,
        role=user.role,
        capabilities=sorted(c.value for c in ROLE_CAPABILITIES.get(user.role, ())),
        session=user.kind,
    )
