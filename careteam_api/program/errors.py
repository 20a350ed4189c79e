"""The exception root of program records."""

from __future__ import annotations


class ProgramError(Exception):
    """A program record that cannot be written or read as asked; the message says what to fix."""


class NotFound(ProgramError):
    """A referenced record (practice, patient, user, entry) does not exist."""


class InvalidRecord(ProgramError):
    """A record breaks a program rule (wrong role, withdrawal before consent, a correction of a correction
    already corrected)."""


class ImportFileError(ProgramError):
    """A whole import file is unreadable (not CSV with the expected header, not a FHIR Bundle)."""
