"""Demo passwords: generated once, kept in the demo's state directory (mode 0600) so every later run, and
the demo's banner, shows the same logins; the database holds only their argon2 hashes."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Final

PASSWORD_BYTES: Final = 12
"""16 URL-safe characters (96 bits): above the API's 12-character minimum, typeable from a banner."""


def load(path: Path) -> dict[str, str]:
    """E-mail (lower case) -> password, as stored; empty when the file does not exist yet."""
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}


def save(path: Path, passwords: dict[str, str]) -> None:
    """Write atomically, readable by the owner only: the file holds working credentials."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(passwords, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hashing_available() -> bool:
    try:
        import careteam_api.auth.passwords  # noqa: F401
    except ImportError:
        return False
    return True


def password_hash(password: str) -> str | None:
    """The API's argon2 hash of `password`; None (the user cannot log in) if argon2-cffi is not installed."""
    try:
        from careteam_api.auth.passwords import hash_password
    except ImportError:
        return None
    return hash_password(password)
