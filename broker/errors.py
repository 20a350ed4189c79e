"""The exception root of the wire contract.

Hub and cloud catch `ContractError` at their boundary. Subclasses carry data (the reason, the offending
version) so callers branch on the type and attributes, never on message text.
"""

from __future__ import annotations


class ContractError(Exception):
    """Root of every error this package raises on purpose."""


class TopicError(ContractError):
    """A topic, topic level or subscription group does not follow the v1 topic scheme."""


class ContractViolation(ContractError):
    """A payload is not a valid message of its channel; ingest dead-letters it with `reason`.

    `reason` is one human-readable line (safe to store next to the raw payload); `issues` holds one entry
    per problem found, each `location: message`.
    """

    def __init__(self, reason: str, issues: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.issues = issues or (reason,)


class UnsupportedSchemaVersion(ContractViolation):
    """A message declares a MAJOR schema version this build cannot read.

    Separate from other violations because the fix is upgrading the reader, not correcting the sender:
    a consumer may park such payloads instead of dead-lettering them.
    """

    def __init__(self, reason: str, version: str) -> None:
        super().__init__(reason)
        self.version = version
