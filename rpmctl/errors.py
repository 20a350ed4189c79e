"""The exception root of `rpmctl`: every user-facing failure carries its fix."""

from __future__ import annotations


class CommandError(Exception):
    """A failure the user can act on; `rpm` prints it as two lines and exits non-zero.

    `fix` says what to do about it. `exit_code` lets a command tell "bad input" (2)
    from "something is down" (1).
    """

    def __init__(self, message: str, *, fix: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.fix = fix
        self.exit_code = exit_code
