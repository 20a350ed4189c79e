"""Worker settings, each default with the reason it was chosen."""

from __future__ import annotations

from dataclasses import dataclass

from broker.errors import TopicError
from broker.topics import validate_hub_id, validate_share_group
from ingest.errors import ConfigError

DEFAULT_SHARE_GROUP = "ingest"
"""All workers of one deployment join this MQTT 5 shared-subscription group and split the messages."""

SESSION_EXPIRY_S = 7 * 24 * 3600
"""The broker keeps a stopped worker's session (and queues its share) for a week, the same as its
`persistent_client_expiration`: a consumer outage of a day or a weekend loses nothing."""

DEFAULT_RECEIVE_MAXIMUM = 2000
"""Unacknowledged messages the broker may have in flight to one worker (MQTT 5 Receive Maximum). A message
stays unacknowledged until its batch commits, so this must exceed two full batches or the broker stalls
while a batch commits; 2,000 single-reading messages are about 1.2 MiB of memory."""

DEFAULT_MAX_BATCH_MESSAGES = 500
DEFAULT_MAX_BATCH_READINGS = 5000
"""One transaction commits at most this many messages / readings. Measured on 2 cores: past a few hundred
rows per COPY the per-transaction overhead is under 5%, while a 5,000-row commit still takes ~0.1 s. 500
messages (was 800) leaves room for three batches within the Receive Maximum above (committing, being
collected, and the broker's next), so the broker never waits for a commit before sending more."""

DEFAULT_MAX_DELAY_S = 0.05
"""A batch commits at most 50 ms after its first message arrived, even when it is not full: the latency
budget (publish to committed row, p99 < 250 ms) leaves room for the commit and the broker hops."""

DEFAULT_RESOLVE_INTERVAL_S = 30.0
"""How often a worker retries parked readings; a care team assigns a device minutes after it appears."""

DB_RETRY_MAX_S = 5.0
"""Back-off ceiling while the database is down: reconnects within seconds of its return."""


@dataclass(frozen=True)
class IngestConfig:
    """Everything one worker needs; URLs carry credentials and must never be logged unredacted."""

    database_url: str
    mqtt_url: str
    worker_id: str = "1"
    share_group: str = DEFAULT_SHARE_GROUP
    session_expiry_s: int = SESSION_EXPIRY_S
    receive_maximum: int = DEFAULT_RECEIVE_MAXIMUM
    max_batch_messages: int = DEFAULT_MAX_BATCH_MESSAGES
    max_batch_readings: int = DEFAULT_MAX_BATCH_READINGS
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    resolve_interval_s: float = DEFAULT_RESOLVE_INTERVAL_S
    metrics_port: int = 0

    def __post_init__(self) -> None:
        try:
            validate_hub_id(self.worker_id)
            validate_share_group(self.share_group)
        except TopicError as exc:
            raise ConfigError(f"worker id / share group: {exc}") from exc
        if not 1 <= self.receive_maximum <= 65535:
            raise ConfigError("receive_maximum must be 1..65535 (MQTT 5 Receive Maximum)")
        if self.max_batch_messages < 1 or self.max_batch_readings < 1:
            raise ConfigError("batch limits must be at least 1")
        if self.max_batch_messages > self.receive_maximum:
            raise ConfigError(
                f"max_batch_messages ({self.max_batch_messages}) must not exceed receive_maximum "
                f"({self.receive_maximum}): the broker would never send a full batch"
            )
        if not 0 <= self.max_delay_s <= 10:
            raise ConfigError("max_delay_s must be 0..10 s")
        if self.resolve_interval_s <= 0:
            raise ConfigError("resolve_interval_s must be positive")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError("metrics_port must be 0 (off) or a TCP port")

    @property
    def client_id(self) -> str:
        """Fixed per worker, so a restarted worker resumes its broker session and its unacknowledged share."""
        return f"ingest-{self.worker_id}"
