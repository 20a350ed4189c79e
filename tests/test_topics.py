"""Topic scheme v1: building, parsing and subscription filters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.errors import ContractError, TopicError
from broker.topics import (
    Channel,
    HubTopic,
    all_hubs_filter,
    hub_topic,
    parse_hub_topic,
    shared_filter,
    validate_hub_id,
)

hub_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True)


@given(hub_id=hub_ids, channel=st.sampled_from(Channel))
def test_built_topic_parses_back(hub_id: str, channel: Channel) -> None:
    topic = hub_topic(hub_id, channel)
    parsed = parse_hub_topic(topic)
    assert parsed == HubTopic(hub_id, channel)
    assert parsed.topic == topic


@pytest.mark.parametrize(
    ("channel", "expected"),
    [(c, f"rpm/v1/hubs/hub-7/{c.value}") for c in Channel],
    ids=[c.value for c in Channel],
)
def test_hub_topic_layout(channel: Channel, expected: str) -> None:
    assert hub_topic("hub-7", channel) == expected
    assert hub_topic("hub-7", channel.value) == expected


def test_filters() -> None:
    assert all_hubs_filter(Channel.READINGS) == "rpm/v1/hubs/+/readings"
    assert shared_filter("ingest", "readings") == "$share/ingest/rpm/v1/hubs/+/readings"
    assert shared_filter("status-watch", Channel.STATUS) == "$share/status-watch/rpm/v1/hubs/+/status"


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        pytest.param("rpm/v1/hubs/hub-1", "does not match rpm/v1/hubs/{hub_id}/{channel}", id="too-short"),
        pytest.param("rpm/v1/hubs/a/b/readings", "does not match", id="hub-id-with-slash"),
        pytest.param("rpm/v2/hubs/hub-1/readings", "does not match", id="other-version"),
        pytest.param("/rpm/v1/hubs/hub-1/readings", "does not match", id="leading-slash"),
        pytest.param("", "does not match", id="empty"),
        pytest.param("$share/ingest/rpm/v1/hubs/hub-1/readings", "does not match", id="share-prefix"),
        pytest.param("rpm/v1/hubs/hub-1/telemetry", "unknown channel 'telemetry'", id="unknown-channel"),
        pytest.param("rpm/v1/hubs/+/readings", "invalid hub_id '+'", id="wildcard-hub"),
        pytest.param("rpm/v1/hubs//readings", "invalid hub_id ''", id="empty-hub"),
        pytest.param("rpm/v1/hubs/hub-1/Readings", "unknown channel", id="channel-case"),
    ],
)
def test_parse_rejects_foreign_topics(topic: str, message: str) -> None:
    with pytest.raises(TopicError) as caught:
        parse_hub_topic(topic)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "hub_id",
    [
        pytest.param("", id="empty"),
        pytest.param("a/b", id="slash"),
        pytest.param("+", id="plus"),
        pytest.param("hub#", id="hash"),
        pytest.param("$SYS", id="dollar"),
        pytest.param("-hub", id="leading-dash"),
        pytest.param("_hub", id="leading-underscore"),
        pytest.param("hub 1", id="space"),
        pytest.param("hüb", id="non-ascii"),
        pytest.param("h" * 65, id="65-chars"),
    ],
)
def test_invalid_hub_ids_are_refused_naming_the_rule(hub_id: str) -> None:
    with pytest.raises(TopicError) as caught:
        validate_hub_id(hub_id)
    assert "must be 1-64 characters from A-Z, a-z, 0-9, '_' and '-'" in str(caught.value)
    with pytest.raises(TopicError):
        hub_topic(hub_id, Channel.READINGS)


@pytest.mark.parametrize(
    "hub_id",
    ["h", "H0", "hub-1", "hub_1", "0" * 64],
    ids=["one-char", "caps", "dash", "underscore", "64-chars"],
)
def test_valid_hub_ids_pass_unchanged(hub_id: str) -> None:
    assert validate_hub_id(hub_id) == hub_id


def test_non_string_hub_id_is_a_topic_error() -> None:
    with pytest.raises(TopicError, match="hub_id must be a string, got int"):
        validate_hub_id(7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "group", ["", "a/b", "+", "#", "$g"], ids=["empty", "slash", "plus", "hash", "dollar"]
)
def test_invalid_share_group_is_refused(group: str) -> None:
    with pytest.raises(TopicError, match="invalid share group"):
        shared_filter(group, Channel.READINGS)


def test_unknown_channel_in_builders_is_a_topic_error() -> None:
    with pytest.raises(
        TopicError, match="unknown channel 'telemetry': expected one of readings, status, events, config"
    ):
        all_hubs_filter("telemetry")


def test_topic_error_is_a_contract_error() -> None:
    assert issubclass(TopicError, ContractError)
