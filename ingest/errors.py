"""The exception root of `ingest`.

Third-party errors (psycopg, paho, socket) are translated once, where they are raised, into these types;
the worker branches on the type, never on message text.
"""

from __future__ import annotations


class IngestError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(IngestError):
    """A setting is invalid; the message says which and what is allowed."""


class DatabaseUnavailable(IngestError):
    """The database could not be reached or dropped the connection: retry the same batch later."""


class TransientConflict(IngestError):
    """A deadlock or serialization failure between workers: retry the same batch at once."""


class BatchRefused(IngestError):
    """The database refused a batch for its content (a value it cannot store): isolate the bad message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BrokerUnavailable(IngestError):
    """The MQTT broker could not be reached or refused the connection."""
