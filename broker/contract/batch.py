"""`rpm/v1/hubs/{hub_id}/readings`: a batch of readings from one hub's outbox."""

from __future__ import annotations

from pydantic import Field

from broker.contract.fields import UtcDatetime
from broker.contract.readings import Reading
from broker.contract.version import VersionedMessage

MAX_BATCH_READINGS = 500
"""Most readings in one batch. A reading encodes to well under 1 KiB, so a full batch stays under 512 KiB
(far below MQTT's 256 MiB and any sane broker `message_size_limit`); a hub back from a week offline drains a
meter's full memory (GLS meters hold a few hundred records) in a few publishes; and one ingest transaction, or
one dead letter when a batch is refused, stays small."""


class ReadingBatch(VersionedMessage):
    """Readings the hub publishes together; ingest commits a batch in one transaction."""

    sent_at: UtcDatetime = Field(description="When the hub published this batch (hub clock), UTC.")
    readings: tuple[Reading, ...] = Field(min_length=1, max_length=MAX_BATCH_READINGS)
