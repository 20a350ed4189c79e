"""The exception root of the hub process: every error it raises on purpose is a `HubError`.

Subclasses carry data (the field, the path, the limit) so callers branch on type and attributes, never on
message text; `fix` says what an operator should do.
"""

from __future__ import annotations

from pathlib import Path


class HubError(Exception):
    """Root of every error the hub raises on purpose; `fix` is the operator's next step, if known."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class SettingsError(HubError):
    """The hub's TOML file is missing, unreadable or invalid; `problems` holds one `field: reason` each."""

    def __init__(self, path: Path, problems: tuple[str, ...], *, fix: str | None = None) -> None:
        super().__init__(f"invalid hub config {path}: " + "; ".join(problems), fix=fix)
        self.path = path
        self.problems = problems


class OutboxFull(HubError):
    """The outbox holds only unsent rows and no room is left: the reading was NOT stored.

    The caller must not tell the device the reading was delivered; the device keeps it and the BLE layer
    reads it again later.
    """

    def __init__(self, stored_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"outbox full: {stored_bytes} of {limit_bytes} bytes hold unsent rows",
            fix="restore the broker connection, or raise outbox_max_bytes in the hub config",
        )
        self.stored_bytes = stored_bytes
        self.limit_bytes = limit_bytes


class StateError(HubError):
    """The hub's state directory cannot be used (permissions, corrupt database)."""
