"""Login rate limiting, counted in the database (login_attempts) so every API worker shares one budget.

Failures are counted per account (e-mail as typed, lower-cased) and per client IP over a sliding window;
an account's successful login starts its count again. Past the limit the login is refused with 429 and
Retry-After, before the password is checked, so guessing gets no answer at all.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg

from careteam_api.errors import TooManyAttempts
from careteam_api.settings import ApiSettings


def check(conn: psycopg.Connection, settings: ApiSettings, email: str, ip: str | None) -> None:
    window = timedelta(minutes=settings.login_window_minutes)
    row = conn.execute(
        "SELECT"
        " (SELECT count(*) FROM login_attempts WHERE email = %(e)s AND NOT succeeded AND at > now() - %(w)s"
        "   AND at > coalesce((SELECT max(at) FROM login_attempts WHERE email = %(e)s AND succeeded),"
        "                     '-infinity')),"
        " (SELECT count(*) FROM login_attempts WHERE ip = %(ip)s AND NOT succeeded AND at > now() - %(w)s)",
        {"e": email, "ip": ip, "w": window},
    ).fetchone()
    assert row is not None
    retry = int(window.total_seconds())
    if row[0] >= settings.login_max_failures_per_account:
        raise TooManyAttempts(
            f"too many failed logins for this account; try again in {retry // 60} minutes",
            retry_after_s=retry,
        )
    if ip is not None and row[1] >= settings.login_max_failures_per_ip:
        raise TooManyAttempts(
            f"too many failed logins from this address; try again in {retry // 60} minutes",
            retry_after_s=retry,
        )


def record(conn: psycopg.Connection, email: str, ip: str | None, succeeded: bool) -> None:
    conn.execute(
        "INSERT INTO login_attempts (email, ip, succeeded) VALUES (%s, %s, %s)", (email, ip, succeeded)
    )
