"""The exception root of the care-team API: each error knows its HTTP status and says what to fix.

Errors of the program records, billing and the database are translated once, at the boundary
(`careteam_api.handlers`), never by matching message text.
"""

from __future__ import annotations


class ApiError(Exception):
    """A request the API refuses; `status` is the HTTP status, the message is shown to the caller."""

    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400


class NotAuthenticated(ApiError):
    """No valid session or token (missing, expired, idle too long, revoked)."""

    status = 401


class Forbidden(ApiError):
    """The user's role does not allow this."""

    status = 403


class NotFound(ApiError):
    """No such record, or one of another practice: tenancy makes the two look the same."""

    status = 404


class Conflict(ApiError):
    """The request breaks a rule of the records (already corrected, already withdrawn...)."""

    status = 409


class TooManyAttempts(ApiError):
    """Login refused for a while after too many failures for the account or the address."""

    status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class SettingsError(ApiError):
    """The API cannot start with these settings (e.g. a default session secret)."""

    status = 500
