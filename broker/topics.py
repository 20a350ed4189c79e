"""MQTT topic scheme v1: `rpm/v1/hubs/{hub_id}/{channel}`.

The broker's per-hub ACL grants each hub `rpm/v1/hubs/<its own id>/...` only, so a hub id must be exactly
one topic level and must never contain MQTT wildcards or start a `$` system topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from broker.errors import TopicError

TOPIC_PREFIX = "rpm/v1/hubs"
"""Every topic of this contract lives here; `v1` changes only with an incompatible topic layout."""

HUB_ID_RULE = "1-64 characters from A-Z, a-z, 0-9, '_' and '-', starting with a letter or digit"
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
HUB_ID_PATTERN = f"^{_ID_PATTERN.pattern}$"
"""The same rule as a JSON Schema pattern (one topic level, no '/', '+', '#', '$')."""


class Channel(StrEnum):
    """The last topic level: what kind of message travels on the topic."""

    READINGS = "readings"
    STATUS = "status"
    EVENTS = "events"
    CONFIG = "config"


@dataclass(frozen=True)
class HubTopic:
    """A parsed hub topic."""

    hub_id: str
    channel: Channel

    @property
    def topic(self) -> str:
        """The topic string this value was parsed from (or would be published to)."""
        return f"{TOPIC_PREFIX}/{self.hub_id}/{self.channel}"


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TopicError(f"{what} must be a string, got {type(value).__name__}")
    if _ID_PATTERN.fullmatch(value) is None:
        raise TopicError(f"invalid {what} {value!r}: must be {HUB_ID_RULE}")
    return value


def validate_hub_id(hub_id: str) -> str:
    """Return `hub_id` unchanged if it is one safe topic level, else raise `TopicError` naming the rule."""
    return _check_id(hub_id, "hub_id")


def validate_share_group(group: str) -> str:
    """Return `group` if it is a valid MQTT 5 share name (same rule as a hub id), else raise `TopicError`."""
    return _check_id(group, "share group")


def _channel(channel: Channel | str) -> Channel:
    try:
        return Channel(channel)
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise TopicError(f"unknown channel {channel!r}: expected one of {known}") from None


def hub_topic(hub_id: str, channel: Channel | str) -> str:
    """The topic a hub publishes `channel` messages to (or, for config, subscribes to)."""
    return f"{TOPIC_PREFIX}/{validate_hub_id(hub_id)}/{_channel(channel)}"


def parse_hub_topic(topic: str) -> HubTopic:
    """Split a received topic into hub id and channel; raise `TopicError` saying what is wrong."""
    if not isinstance(topic, str):
        raise TopicError(f"topic must be a string, got {type(topic).__name__}")
    levels = topic.split("/")
    prefix = TOPIC_PREFIX.split("/")
    if len(levels) != len(prefix) + 2 or levels[: len(prefix)] != prefix:
        raise TopicError(f"topic {topic!r} does not match {TOPIC_PREFIX}/{{hub_id}}/{{channel}}")
    return HubTopic(hub_id=validate_hub_id(levels[-2]), channel=_channel(levels[-1]))


def all_hubs_filter(channel: Channel | str) -> str:
    """Subscription filter for one channel of every hub, e.g. `rpm/v1/hubs/+/readings`."""
    return f"{TOPIC_PREFIX}/+/{_channel(channel)}"


def shared_filter(group: str, channel: Channel | str) -> str:
    """MQTT 5 shared subscription, so workers of one `group` split the messages between them."""
    return f"$share/{validate_share_group(group)}/{all_hubs_filter(channel)}"
