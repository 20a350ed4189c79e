"""Turn one received payload into readings to store and dead letters to keep. Pure and total.

`decode` never raises on input: every payload becomes stored rows, dead letters, or both. A batch with
some bad readings keeps its good ones; each bad reading becomes its own dead letter with its index, holding
that reading's JSON (not the whole batch again). A payload that is wrong as a whole (not JSON, unknown
schema version, bad envelope, hub_id not the topic's) is one dead letter holding the raw bytes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from broker.contract import HubEvent, HubStatus, ReadingBatch, parse_hub_message
from broker.errors import ContractViolation, TopicError, UnsupportedSchemaVersion
from broker.plausibility import assess
from broker.topics import parse_hub_topic
from ingest.messages import AcceptedReading, DeadLetter, DeadLetterCategory, Decoded, message_digest

_READING_ISSUE = re.compile(r"^readings\.(\d+)[.:]")


def _topic_hub(topic: str) -> str | None:
    try:
        return parse_hub_topic(topic).hub_id
    except TopicError:
        return None


def _whole(topic: str, payload: bytes, reason: str, category: str) -> Decoded:
    letter = DeadLetter(topic, _topic_hub(topic), payload, reason, category, message_digest(topic, payload))
    return Decoded(dead_letters=[letter])


def _readings_by_index(issues: tuple[str, ...]) -> dict[int, list[str]] | None:
    """Issues grouped by the reading they concern; None when any issue concerns the envelope."""
    grouped: dict[int, list[str]] = defaultdict(list)
    for issue in issues:
        match = _READING_ISSUE.match(issue)
        if match is None:
            return None
        grouped[int(match.group(1))].append(issue)
    return grouped


def _salvage(topic: str, payload: bytes, violation: ContractViolation) -> Decoded | None:
    """Keep the good readings of a batch whose only problems are in some readings; None if impossible."""
    bad = _readings_by_index(violation.issues)
    if not bad:
        return None
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    items = document.get("readings") if isinstance(document, dict) else None
    if not isinstance(items, list) or len(bad) >= len(items):
        return None
    good_indexes = [i for i in range(len(items)) if i not in bad]
    try:
        rebuilt = json.dumps({**document, "readings": [items[i] for i in good_indexes]}).encode()
        _where, batch = parse_hub_message(topic, rebuilt)
    except (ContractViolation, ValueError, TypeError):
        return None
    if not isinstance(batch, ReadingBatch):
        return None
    decoded = _accept(batch, topic, payload, good_indexes)
    digest = message_digest(topic, payload)
    for index, issues in sorted(bad.items()):
        raw = json.dumps(items[index], ensure_ascii=False).encode()
        reason = f"invalid reading {index}: " + "; ".join(issues)
        decoded.dead_letters.append(
            DeadLetter(topic, batch.hub_id, raw, reason, DeadLetterCategory.INVALID, digest, index)
        )
    return decoded


def _accept(batch: ReadingBatch, topic: str, payload: bytes, indexes: list[int] | None = None) -> Decoded:
    """Judge each reading's plausibility: impossible ones become dead letters, the rest are kept."""
    decoded = Decoded(oldest_sent_at=batch.sent_at)
    digest: bytes | None = None
    for position, reading in enumerate(batch.readings):
        verdict = assess(reading)
        if not verdict.is_impossible:
            decoded.readings.append(AcceptedReading(batch.hub_id, reading, verdict.quality_flags))
            continue
        index = position if indexes is None else indexes[position]
        digest = digest or message_digest(topic, payload)
        raw = reading.model_dump_json(by_alias=True, exclude_none=True).encode()
        reason = f"impossible reading {index}: " + "; ".join(verdict.impossible)
        decoded.dead_letters.append(
            DeadLetter(topic, batch.hub_id, raw, reason, DeadLetterCategory.IMPOSSIBLE, digest, index)
        )
    return decoded


def decode(topic: str, payload: bytes) -> Decoded:
    """Everything one received message amounts to (see the module docstring)."""
    try:
        _where, message = parse_hub_message(topic, payload)
    except UnsupportedSchemaVersion as exc:
        return _whole(topic, payload, exc.reason, DeadLetterCategory.UNSUPPORTED_SCHEMA)
    except ContractViolation as exc:
        salvaged = _salvage(topic, payload, exc)
        if salvaged is not None:
            return salvaged
        return _whole(topic, payload, exc.reason, DeadLetterCategory.INVALID)
    if isinstance(message, ReadingBatch):
        return _accept(message, topic, payload)
    if isinstance(message, HubStatus):
        return Decoded(statuses=[message])
    if isinstance(message, HubEvent):
        return Decoded(events=[message])
    # Config is cloud-to-hub; the worker never subscribes to it, so one arriving here is misrouted.
    return _whole(topic, payload, "config messages are not ingested", DeadLetterCategory.INVALID)
