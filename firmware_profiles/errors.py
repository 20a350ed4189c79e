"""The profile package's one exception root; a refused profile names its file, the field and the reason."""

from __future__ import annotations


class ProfileError(Exception):
    """Root of every error raised by `firmware_profiles`."""


class ProfileInvalidError(ProfileError):
    """A profile file is not valid TOML or breaks the schema; the hub refuses to start with it.

    `problems` holds one `(field, reason)` per violation, fields dotted like `clock.characteristic`, so the
    fix can be made without reading the loader.
    """

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = "; ".join(f"{field}: {reason}" for field, reason in problems)
        super().__init__(f"firmware profile {file} refused: {lines}")

    @property
    def fields(self) -> list[str]:
        return [field for field, _ in self.problems]


class DuplicateProfileError(ProfileError):
    """Two files declare the same profile id, or claim the same name prefix (a device would match both)."""

    def __init__(self, what: str, value: str, files: tuple[str, str]) -> None:
        self.what = what
        self.value = value
        self.files = files
        super().__init__(f"{what} {value!r} is declared by both {files[0]} and {files[1]}; make it unique")


class UnknownProfileError(ProfileError, KeyError):
    """A profile id (e.g. from the hub config's `AssignedDevice.profile`) names no loaded profile."""

    def __init__(self, profile_id: str, known: list[str]) -> None:
        self.profile_id = profile_id
        super().__init__(f"no firmware profile {profile_id!r}; loaded: {', '.join(sorted(known))}")

    def __str__(self) -> str:
        return str(self.args[0])
