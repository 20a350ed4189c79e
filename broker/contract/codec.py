"""Bytes to messages and back: the only place payloads meet JSON.

`parse_message` is the boundary: whatever bytes arrive, it returns a model or raises `ContractViolation`
with a reason fit for a dead-letter row. A poison payload must never crash a consumer, which would leave the
message unacknowledged and redelivered forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from broker.contract.batch import ReadingBatch
from broker.contract.config import HubConfig
from broker.contract.events import HubEvent
from broker.contract.readings import ReadingKind
from broker.contract.status import HubStatus
from broker.contract.version import UNSUPPORTED_SCHEMA, WIRE_CONTEXT, VersionedMessage
from broker.errors import ContractViolation, TopicError, UnsupportedSchemaVersion
from broker.topics import Channel, HubTopic, parse_hub_topic

Message = ReadingBatch | HubStatus | HubEvent | HubConfig
"""Any top-level message."""

MESSAGE_TYPES: dict[Channel, type[VersionedMessage]] = {
    Channel.READINGS: ReadingBatch,
    Channel.STATUS: HubStatus,
    Channel.EVENTS: HubEvent,
    Channel.CONFIG: HubConfig,
}
"""The model carried on each channel."""

MAX_REASON_ISSUES = 10
"""A batch of 500 bad readings has 500+ issues; the reason lists the first few and counts the rest."""

_KIND_TAGS = frozenset(kind.value for kind in ReadingKind)


def _location(loc: Sequence[int | str]) -> str:
    """`('readings', 0, 'blood_pressure', 'systolic_mmhg')` -> `readings.0.systolic_mmhg`.

    Pydantic puts the union tag after a list index; the index already names the item, so the tag goes.
    """
    if loc and loc[0] == "schema_version":
        loc = ("schema", *loc[1:])
    parts: list[str] = []
    previous: int | str | None = None
    for item in loc:
        if isinstance(previous, int) and item in _KIND_TAGS:
            previous = item
            continue
        parts.append(str(item))
        previous = item
    return ".".join(parts)


def _issues(exc: ValidationError) -> tuple[str, ...]:
    errors = exc.errors(include_url=False, include_input=False)
    # Pydantic drops invalid items before checking a tuple's length, then also reports "too short": noise
    # when the items' own errors are already listed.
    nested = {error["loc"][:i] for error in errors for i in range(1, len(error["loc"]))}
    issues = []
    for error in errors:
        if error["type"] == "too_short" and error["loc"] in nested:
            continue
        where = _location(error["loc"])
        issues.append(f"{where}: {error['msg']}" if where else error["msg"])
    return tuple(issues)


def _summary(issues: tuple[str, ...]) -> str:
    shown = "; ".join(issues[:MAX_REASON_ISSUES])
    hidden = len(issues) - MAX_REASON_ISSUES
    return f"{shown}; and {hidden} more" if hidden > 0 else shown


def _violation(exc: ValidationError, model: type[VersionedMessage]) -> ContractViolation:
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors:
        if error["type"] == UNSUPPORTED_SCHEMA:
            ctx: dict[str, Any] = error.get("ctx") or {}
            return UnsupportedSchemaVersion(error["msg"], version=str(ctx.get("version", "")))
    issues = _issues(exc)
    if not issues:  # pragma: no cover - pydantic always reports at least one error
        issues = (f"invalid {model.__name__}",)
    return ContractViolation(f"invalid {model.__name__}: {_summary(issues)}", issues)


def parse_message(channel: Channel | str, payload: bytes) -> Message:
    """Decode and validate a payload of `channel`; anything invalid raises `ContractViolation`."""
    try:
        model = MESSAGE_TYPES[Channel(channel)]
    except ValueError:
        raise ContractViolation(f"unknown channel {channel!r}") from None
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise ContractViolation(f"payload must be bytes, got {type(payload).__name__}")
    try:
        return model.model_validate_json(bytes(payload), strict=True, context=WIRE_CONTEXT)  # type: ignore[return-value]
    except ValidationError as exc:
        raise _violation(exc, model) from exc
    except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        # A validator let a non-validation error escape: still a refused payload, never a crashed consumer.
        reason = f"invalid {model.__name__}: {type(exc).__name__}: {exc}"
        raise ContractViolation(reason) from exc


def parse_hub_message(topic: str, payload: bytes) -> tuple[HubTopic, Message]:
    """Parse a received publish and check the payload's hub_id is the topic's.

    The broker's ACL proves which hub published on the topic; the payload's `hub_id` is only a claim, so a
    mismatch is a violation rather than a reading filed under another hub.
    """
    try:
        where = parse_hub_topic(topic)
    except TopicError as exc:
        raise ContractViolation(str(exc)) from exc
    message = parse_message(where.channel, payload)
    if message.hub_id != where.hub_id:
        raise ContractViolation(
            f"payload hub_id {message.hub_id!r} does not match topic hub {where.hub_id!r}"
        )
    return where, message


def encode(message: VersionedMessage) -> bytes:
    """Compact JSON of a message as it travels: aliases (`schema`), ISO 8601 UTC times, UUIDs as strings."""
    return message.model_dump_json(by_alias=True, exclude_none=True).encode()
