"""What flows through a worker: deliveries in, decoded messages out. Plain values, no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from broker.contract import BaseReading, HubEvent, HubStatus


@dataclass(frozen=True)
class Delivery:
    """One MQTT message as received, with what is needed to acknowledge it later.

    `generation` counts broker connections: a packet id is only meaningful on the connection that
    delivered it, so a message received before a reconnect is never acknowledged after it (the broker
    resends it instead, and storing it again is a no-op).
    """

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: float


@dataclass(frozen=True)
class AcceptedReading:
    """A valid, possible reading, with the plausibility codes it is stored under."""

    hub_id: str
    reading: BaseReading
    quality_flags: tuple[str, ...]


class DeadLetterCategory:
    """Stable codes of `dead_letters.category`, for counting and alerting; `reason` is for people."""

    INVALID = "invalid"
    UNSUPPORTED_SCHEMA = "unsupported_schema"
    IMPOSSIBLE = "impossible"
    DATABASE_REFUSED = "database_refused"


@dataclass(frozen=True)
class DeadLetter:
    """A refused message, or one refused reading of a batch (`reading_index` set)."""

    topic: str
    hub_id: str | None
    payload: bytes
    reason: str
    category: str
    digest: bytes
    reading_index: int | None = None


def message_digest(topic: str, payload: bytes) -> bytes:
    """Identity of a received message: a redelivery (same topic and bytes) gives the same dead letter."""
    return hashlib.sha256(topic.encode() + b"\x00" + payload).digest()


@dataclass
class Decoded:
    """What one or more deliveries amount to, ready for one transaction."""

    readings: list[AcceptedReading] = field(default_factory=list)
    statuses: list[HubStatus] = field(default_factory=list)
    events: list[HubEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    oldest_sent_at: dt.datetime | None = None

    def extend(self, other: Decoded) -> None:
        self.readings.extend(other.readings)
        self.statuses.extend(other.statuses)
        self.events.extend(other.events)
        self.dead_letters.extend(other.dead_letters)
        if other.oldest_sent_at is not None and (
            self.oldest_sent_at is None or other.oldest_sent_at < self.oldest_sent_at
        ):
            self.oldest_sent_at = other.oldest_sent_at
