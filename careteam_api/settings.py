"""API settings from the environment (prefix RPM_API_), refusing to start with a weak session secret.

The session secret keys the HMAC under which session and API tokens are stored and from which CSRF tokens
are derived; rotating it logs everybody out. `rpm api secret` writes a random one into the state
directory (secrets/api-session.secret), which `rpm api run` reads when RPM_API_SESSION_SECRET is unset.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# 32 bytes of urlsafe base64 is 43 characters; anything shorter is not a generated secret.
MIN_SECRET_CHARS = 32
# Values copied from examples and tutorials; a secret anyone can read is no secret.
KNOWN_DEFAULT_SECRETS = frozenset(
    {"changeme", "change-me", "secret", "development", "dev", "test", "default"}
)


class ApiSettings(BaseSettings):
    """Everything `create_app` needs; nothing is read at import."""

    model_config = SettingsConfigDict(env_prefix="RPM_API_", extra="ignore", frozen=True)

    database_url: str = Field(min_length=1, description="psycopg conninfo of the TimescaleDB")
    session_secret: SecretStr = Field(description="at least 32 random characters (`rpm api secret`)")
    idle_timeout_minutes: float = Field(15, gt=0, le=24 * 60, description="console logoff after inactivity")
    session_max_hours: float = Field(
        12, gt=0, le=72, description="a console session ends this long after login"
    )
    api_token_days: int = Field(90, ge=1, le=366, description="lifetime of a bearer token")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: Secure when the request came over https (behind TLS)"
    )
    login_window_minutes: float = Field(15, gt=0, le=24 * 60)
    login_max_failures_per_account: int = Field(5, ge=1, le=1000)
    login_max_failures_per_ip: int = Field(20, ge=1, le=100000)
    pool_min_size: int = Field(2, ge=1, le=100)
    pool_max_size: int = Field(
        20, ge=1, le=200, description="connections of the whole server, shared out among its workers"
    )
    read_pool_max_size: int = Field(
        10,
        ge=1,
        le=200,
        description="connections of the whole server for the hot reads (trend charts), besides pool_max_size",
    )
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes (set by `rpm api run`)")
    trust_forwarded_for: bool = Field(
        False, description="take the client IP from X-Forwarded-For (behind a proxy)"
    )

    @property
    def pool_size_per_worker(self) -> int:
        """Each worker's pool: its share of pool_max_size, at least 2 (a request and a login)."""
        return max(2, -(-self.pool_max_size // self.workers))

    @property
    def read_pool_size_per_worker(self) -> int:
        """Each worker's pool for the hot reads: its share of read_pool_max_size, at least 1."""
        return max(1, -(-self.read_pool_max_size // self.workers))

    @field_validator("session_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value().strip()
        if not raw:
            raise ValueError(
                "the session secret is empty: run `rpm api secret` or set RPM_API_SESSION_SECRET"
            )
        if raw.lower() in KNOWN_DEFAULT_SECRETS or len(set(raw)) < 8:
            raise ValueError("the session secret is a well-known default: run `rpm api secret`")
        if len(raw) < MIN_SECRET_CHARS:
            raise ValueError(
                f"the session secret has {len(raw)} characters; use at least {MIN_SECRET_CHARS} random ones"
                " (`rpm api secret`)"
            )
        return SecretStr(raw)
