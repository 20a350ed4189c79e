"""One login attempt: rate limit first, then the password; every attempt is recorded."""

from __future__ import annotations

import uuid

import psycopg

from careteam_api.auth import ratelimit
from careteam_api.auth.passwords import verify_password
from careteam_api.settings import ApiSettings


def attempt_login(
    conn: psycopg.Connection, settings: ApiSettings, email: str, password: str, ip: str | None
) -> uuid.UUID | None:
    """The user id when the password is right; None (recorded as a failure) otherwise. Raises
    TooManyAttempts before looking at the password when the account or the address is over its limit."""
    email = email.strip().lower()
    ratelimit.check(conn, settings, email, ip)
    row = conn.execute(
        "SELECT user_id, password_hash, active FROM users WHERE lower(email) = %s", (email,)
    ).fetchone()
    ok = verify_password(row[1] if row else None, password) and bool(row and row[2])
    ratelimit.record(conn, email, ip, ok)
    return row[0] if ok and row else None
