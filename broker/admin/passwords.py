"""Mosquitto password-file hashes (`$7$`: PBKDF2-HMAC-SHA512), made without the `mosquitto_passwd` tool.

Rendering the whole file from our account registry keeps it consistent and lets a change be
written atomically; Mosquitto reads the iteration count from each line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# Mosquitto's own default is 101; 1,000 costs ~0.5 ms per CONNECT on a 2-core machine, so even
# 10,000 hubs reconnecting after a broker restart add ~5 s of CPU, spread over their backoff.
ITERATIONS = 1_000
SALT_BYTES = 12


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against a `$7$` hash (used by tests and `rpm broker` diagnostics)."""
    try:
        _, kind, iterations, salt_b64, hash_b64 = encoded.split("$")
        if kind != "7":
            return False
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt_b64), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest, base64.b64decode(hash_b64))


def new_password() -> str:
    return secrets.token_urlsafe(24)
