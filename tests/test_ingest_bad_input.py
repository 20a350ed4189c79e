"""Every kind of bad input lands in dead_letters with a reason; good readings beside it are stored.

One worker ingests all cases once (module fixture); each test checks one case.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from broker.admin.accounts import BrokerAdmin
from broker.topics import Channel, hub_topic
from database.migrate import migrate
from rpmctl.services.endpoints import Endpoints
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TlsFiles
from tests.test_ingest_support import (
    BASE_TIME,
    batch_payload,
    bp_reading,
    hub_publisher,
    iso,
    publish_all,
    scalar,
    seed_assignment,
    unique,
    wait_for,
    worker_config,
    worker_thread,
)

pytestmark = pytest.mark.services


@dataclass(frozen=True)
class Case:
    """A payload, what must land in dead_letters (category, reason fragment, reading index) and how many
    good readings of the same payload must be stored."""

    channel: Channel
    payload: Callable[[str], bytes]
    category: str
    reason: str
    reading_index: int | None = None
    stored: int = 0


def _batch(device: str, *bad: tuple[int, dict[str, object]]) -> Callable[[str], bytes]:
    """Three readings of `device`; the ones named in `bad` get the given changes (None deletes a field)."""

    def build(hub_id: str) -> bytes:
        readings = [bp_reading(device, i) for i in range(3)]
        for index, changes in bad:
            for key, value in changes.items():
                if value is None:
                    readings[index].pop(key)
                else:
                    readings[index][key] = value
        return batch_payload(hub_id, readings)

    return build


def _status(hub_id: str, **changes: object) -> bytes:
    document = {"schema": "1.0", "hub_id": hub_id, "online": True, "sent_at": iso(BASE_TIME)}
    document.update({"software_version": "1.0.0", "uptime_s": 10, "outbox_depth": 0})
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def _event(hub_id: str, **changes: object) -> bytes:
    document = {
        "schema": "1.0",
        "hub_id": hub_id,
        "event_id": str(uuid.uuid4()),
        "at": iso(BASE_TIME),
        "type": "hub_started",
        "message": "started",
    }
    document.update(changes)
    return json.dumps(document).encode()


CASES = {
    "invalid-json": Case(Channel.READINGS, lambda hub: b'{"schema": "1.0", "hub_id": ', "invalid", "JSON"),
    "not-an-object": Case(Channel.READINGS, lambda hub: b"[1, 2, 3]", "invalid", "ReadingBatch"),
    "unknown-schema-version": Case(
        Channel.READINGS,
        lambda hub: batch_payload(hub, [bp_reading("SN-V", 0)], schema="2.0"),
        "unsupported_schema",
        "unsupported schema version 2.0",
    ),
    "envelope-missing-sent-at": Case(
        Channel.READINGS,
        lambda hub: json.dumps(
            {"schema": "1.0", "hub_id": hub, "readings": [bp_reading("SN-E", 0)]}
        ).encode(),
        "invalid",
        "sent_at",
    ),
    "hub-id-not-the-topics": Case(
        Channel.READINGS,
        lambda hub: batch_payload("someone-else", [bp_reading("SN-H", 0)]),
        "invalid",
        "does not match topic hub",
    ),
    "one-reading-wrong-unit": Case(
        Channel.READINGS, _batch("SN-U", (1, {"device_unit": "psi"})), "invalid", "device_unit", 1, stored=2
    ),
    "one-reading-missing-field": Case(
        Channel.READINGS,
        _batch("SN-M", (2, {"systolic_mmhg": None})),
        "invalid",
        "systolic_mmhg",
        2,
        stored=2,
    ),
    "one-reading-impossible": Case(
        Channel.READINGS,
        _batch("SN-I", (0, {"systolic_mmhg": 350.0})),
        "impossible",
        "systolic 350",
        0,
        stored=2,
    ),
    "every-reading-bad": Case(
        Channel.READINGS,
        _batch("SN-X", *((i, {"kind": "thermometer"}) for i in range(3))),
        "invalid",
        "readings.0",
    ),
    "status-online-without-uptime": Case(
        Channel.STATUS, lambda hub: _status(hub, uptime_s=None), "invalid", "uptime_s"
    ),
    "event-decode-error-without-bytes": Case(
        Channel.EVENTS, lambda hub: _event(hub, type="decode_error", device_id="SN-D"), "invalid", "raw_hex"
    ),
}


@dataclass(frozen=True)
class Ingested:
    url: str
    hub_id: str
    payloads: dict[str, bytes]


@pytest.fixture(scope="module")
def module_database(database_url: str) -> Iterator[str]:
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    migrate(url)
    yield url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def ingested(
    module_database: str,
    mqtt_url: str,
    broker_admin: BrokerAdmin,
    services: Endpoints,
    tmp_path_factory: pytest.TempPathFactory,
) -> Ingested:
    """Publish every case (each twice: a redelivery must not add a second dead letter) plus good input."""
    # `provision_hub` is function-scoped; this module provisions its one hub the same way.
    hub_id = unique("hub")
    bundle = broker_admin.add_hub(
        hub_id, broker_url=services.mqtt_hub_url, out_dir=tmp_path_factory.mktemp("hub")
    )
    password = tomllib.loads(bundle.config_file.read_text())["password"]
    tls = TlsFiles(bundle.directory / "ca.crt", bundle.directory / "hub.crt", bundle.directory / "hub.key")
    hub = ProvisionedHub(hub_id, password, services.mqtt_hub_url, tls)
    for device in ("SN-U", "SN-M", "SN-I", "SN-Q"):
        seed_assignment(module_database, device)
    payloads = {name: case.payload(hub_id) for name, case in CASES.items()}
    quality = batch_payload(hub_id, [bp_reading("SN-Q", 0, pulse_bpm=310.0)])
    with worker_thread(worker_config(module_database, mqtt_url)):
        pub = hub_publisher(hub)
        try:
            for name, case in CASES.items():
                publish_all(pub, hub_topic(hub_id, case.channel), [payloads[name]] * 2)
            publish_all(pub, hub_topic(hub_id, Channel.READINGS), [quality])
        finally:
            pub.close()
        mine = "SELECT count(*) FROM dead_letters WHERE hub_id = %s OR hub_id IS NULL"
        wait_for(
            lambda: (
                scalar(module_database, "SELECT count(*) FROM readings WHERE device_id = 'SN-Q'") == 1
                and scalar(module_database, mine, (hub_id,)) >= len(CASES)
            ),
            "every case to be ingested",
        )
    return Ingested(module_database, hub_id, payloads)


def _letters(ingested: Ingested, name: str) -> list[tuple[str, str, int | None]]:
    case, payload = CASES[name], ingested.payloads[name]
    with psycopg.connect(ingested.url, autocommit=True) as conn:
        if case.reading_index is None:
            rows = conn.execute(
                "SELECT category, reason, reading_index FROM dead_letters WHERE payload = %s", (payload,)
            ).fetchall()
        else:
            device = json.loads(payload)["readings"][0]["device"]["device_id"]
            rows = conn.execute(
                "SELECT category, reason, reading_index FROM dead_letters WHERE reading_index IS NOT NULL"
                " AND convert_from(payload, 'UTF8')::jsonb -> 'device' ->> 'device_id' = %s",
                (device,),
            ).fetchall()
    return rows


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_dead_lettered_once_with_its_reason(ingested: Ingested, name: str) -> None:
    case = CASES[name]
    letters = _letters(ingested, name)
    assert len(letters) == 1, letters
    category, reason, reading_index = letters[0]
    assert category == case.category
    assert case.reason in reason
    assert reading_index == case.reading_index


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.stored])
def test_good_readings_of_a_partly_bad_batch_are_stored(ingested: Ingested, name: str) -> None:
    device = json.loads(ingested.payloads[name])["readings"][0]["device"]["device_id"]
    stored = scalar(ingested.url, "SELECT count(*) FROM readings WHERE device_id = %s", (device,))
    assert stored == CASES[name].stored


def test_implausible_but_possible_reading_is_stored_with_quality_flags(ingested: Ingested) -> None:
    flags = scalar(ingested.url, "SELECT quality_flags FROM readings WHERE device_id = 'SN-Q'")
    assert flags == ["pulse_implausible"]


def test_hub_status_keeps_the_newest_and_events_are_stored_once(
    scratch_database_url: str, mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    migrate(scratch_database_url)
    url, hub = scratch_database_url, provision_hub()
    newer, older = BASE_TIME + dt.timedelta(minutes=5), BASE_TIME
    event = _event(hub.hub_id, type="battery_low", device_id="SN-B", message="battery at 5%")
    with worker_thread(worker_config(url, mqtt_url)):
        pub = hub_publisher(hub)
        try:
            publish_all(pub, hub_topic(hub.hub_id, Channel.STATUS), [_status(hub.hub_id, sent_at=iso(newer))])
            publish_all(
                pub,
                hub_topic(hub.hub_id, Channel.STATUS),
                [_status(hub.hub_id, sent_at=iso(older), outbox_depth=99)],
            )
            publish_all(pub, hub_topic(hub.hub_id, Channel.EVENTS), [event, event])
        finally:
            pub.close()
        # One worker commits in arrival order: once the event (published last) is stored, so is each status.
        wait_for(lambda: scalar(url, "SELECT count(*) FROM hub_events") == 1, "the event")
    assert scalar(url, "SELECT sent_at FROM hub_status WHERE hub_id = %s", (hub.hub_id,)) == newer
    assert scalar(url, "SELECT outbox_depth FROM hub_status WHERE hub_id = %s", (hub.hub_id,)) == 0
    assert scalar(url, "SELECT type FROM hub_events") == "battery_low"
