"""Hubs provisioned while the broker is stopped are loaded when it starts, with the same ACLs as live ones."""

from __future__ import annotations

import shutil
import socket
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.admin.accounts import INGEST_ACCOUNT
from broker.topics import Channel, hub_topic
from rpmctl.services.layout import StateLayout
from rpmctl.services.mosquitto import LocalMosquitto
from rpmctl.services.progress import Progress
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient, TlsFiles

pytestmark = pytest.mark.services

NOT_AUTHORIZED = 135


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stopped_broker() -> Iterator[LocalMosquitto]:
    """A second Mosquitto of the project's configuration, set up but not started, with a state dir the
    `mosquitto` user can reach (a pytest tmp dir is private to root)."""
    state = Path("/var/lib/rpm-gateway") / f"scratch-broker-{uuid.uuid4().hex[:8]}"
    layout = StateLayout(state_dir=state, mqtt_port=_free_port(), db_port=1, mqtts_port=_free_port())
    broker = LocalMosquitto(layout, Progress(quiet=True))
    state.mkdir(parents=True)
    broker.dir.mkdir()
    broker.admin().init()
    try:
        yield broker
    finally:
        broker.down()
        shutil.rmtree(state, ignore_errors=True)


def test_hubs_written_offline_connect_once_the_broker_starts(
    stopped_broker: LocalMosquitto, tmp_path: Path
) -> None:
    admin = stopped_broker.admin()
    assert admin.control_url is None, "the broker should be stopped"
    hub_url = f"mqtts://127.0.0.1:{stopped_broker.layout.mqtts_port}"
    ids = [f"off-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    bundles = admin.add_hubs(ids, broker_url=hub_url, out_dir=tmp_path)
    assert set(ids) <= set(admin.hubs())

    stopped_broker.up()
    hubs = []
    for bundle in bundles:
        password = tomllib.loads(bundle.config_file.read_text())["password"]
        tls = TlsFiles(
            bundle.directory / "ca.crt", bundle.directory / "hub.crt", bundle.directory / "hub.key"
        )
        hubs.append(ProvisionedHub(bundle.hub_id, password, hub_url, tls))
    ingest_password = stopped_broker.admin().service_password(INGEST_ACCOUNT)
    services_url = f"mqtt://{INGEST_ACCOUNT}:{ingest_password}@127.0.0.1:{stopped_broker.layout.mqtt_port}"
    watcher = TestClient(services_url, f"ingest-{uuid.uuid4().hex[:8]}").connect()
    first = hubs[0].client().connect()
    try:
        watcher.subscribe(hub_topic(hubs[0].hub_id, Channel.READINGS))
        own = first.publish(hub_topic(hubs[0].hub_id, Channel.READINGS), b"{}")
        assert own is not None
        assert not own.is_failure
        assert watcher.messages.get(timeout=5).payload == b"{}"
        other = first.publish(hub_topic(hubs[1].hub_id, Channel.READINGS), b"{}")
        assert other is not None
        assert other.value == NOT_AUTHORIZED
    finally:
        first.close()
        watcher.close()
    # And the running broker takes the next hubs live, beside the ones it loaded.
    live = stopped_broker.admin().add_hubs(
        [f"live-{uuid.uuid4().hex[:8]}"], broker_url=hub_url, out_dir=tmp_path
    )
    assert live[0].hub_id in stopped_broker.admin().hubs()
