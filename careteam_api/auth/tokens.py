"""Session and API tokens: random, shown once, stored only as an HMAC keyed with the session secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# 32 random bytes: far beyond guessing; urlsafe so it fits a cookie and an Authorization header.
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(secret: str, token: str) -> bytes:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()


def csrf_token(secret: str, session_token: str) -> str:
    """A CSRF token bound to the session: forms and script calls send it back, cross-site pages cannot."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, session_token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(secret, session_token), presented)
