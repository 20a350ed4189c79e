"""The broker's security with its real configuration: identities, ACLs, TLS, revocation."""

from __future__ import annotations

import datetime as dt
import queue
import ssl
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.admin import dynsec, pki
from broker.admin.accounts import BrokerAdmin, ProvisioningError
from broker.errors import TopicError
from broker.topics import Channel, hub_topic
from rpmctl.services.endpoints import Endpoints
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TestClient, TlsFiles

NOT_AUTHORIZED = 0x87


def _ingest(mqtt_url: str) -> TestClient:
    return TestClient(mqtt_url, f"ingest-{uuid.uuid4().hex[:8]}").connect()


def test_hub_cannot_publish_to_another_hubs_topics(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    mallory, victim = provision_hub(), provision_hub()
    watcher = _ingest(mqtt_url)
    attacker = mallory.client().connect()
    try:
        watcher.subscribe(hub_topic(victim.hub_id, Channel.READINGS))
        for channel in (Channel.READINGS, Channel.STATUS, Channel.EVENTS, Channel.CONFIG):
            reason = attacker.publish(hub_topic(victim.hub_id, channel), b"{}")
            assert reason is not None
            assert reason.value == NOT_AUTHORIZED, f"{channel}: {reason}"
        with pytest.raises(queue.Empty):
            watcher.messages.get(timeout=0.5)
        # Its own topic works, proving the refusals above are the ACL and not a broken client.
        own = attacker.publish(hub_topic(mallory.hub_id, Channel.READINGS), b"{}")
        assert own is not None
        assert not own.is_failure
    finally:
        attacker.close()
        watcher.close()


@pytest.mark.parametrize(
    "topic_for",
    [
        pytest.param(lambda me, other: "#", id="everything"),
        pytest.param(lambda me, other: "rpm/v1/hubs/+/readings", id="all-readings"),
        pytest.param(lambda me, other: hub_topic(other, Channel.CONFIG), id="other-hubs-config"),
        pytest.param(lambda me, other: hub_topic(other, Channel.READINGS), id="other-hubs-readings"),
        pytest.param(lambda me, other: "$share/ingest/rpm/v1/hubs/+/readings", id="ingest-share"),
    ],
)
def test_hub_cannot_subscribe_beyond_its_config(
    provision_hub: Callable[..., ProvisionedHub], topic_for: Callable[[str, str], str]
) -> None:
    me, other = provision_hub(), provision_hub()
    client = me.client().connect()
    try:
        reason = client.subscribe(topic_for(me.hub_id, other.hub_id))
    finally:
        client.close()
    assert reason.value == NOT_AUTHORIZED, str(reason)


def test_hub_receives_its_retained_config_from_admin(
    services: Endpoints, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    admin = TestClient(services.mqtt_admin_url, f"admin-{uuid.uuid4().hex[:8]}").connect()
    try:
        reason = admin.publish(hub_topic(hub.hub_id, Channel.CONFIG), b'{"version": 1}', retain=True)
        assert reason is not None
        assert not reason.is_failure
    finally:
        admin.close()
    client = hub.client().connect()
    try:
        assert not client.subscribe(hub_topic(hub.hub_id, Channel.CONFIG)).is_failure
        [message] = client.receive(1)
    finally:
        client.close()
    assert message.payload == b'{"version": 1}'
    assert message.retain


def test_ingest_account_cannot_publish_readings(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    hub = provision_hub()
    ingest = _ingest(mqtt_url)
    try:
        reason = ingest.publish(hub_topic(hub.hub_id, Channel.READINGS), b"{}")
    finally:
        ingest.close()
    assert reason is not None
    assert reason.value == NOT_AUTHORIZED


def test_hub_client_id_is_forced_to_its_hub_id(
    mqtt_url: str, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    """A hub choosing another hub's client id must not take over that hub's session."""
    victim, mallory = provision_hub(), provision_hub()
    honest = victim.client().connect()
    impostor = TestClient(
        mallory.url, victim.hub_id, tls=mallory.tls, username=mallory.hub_id, password=mallory.password
    ).connect()
    try:
        assert not honest.disconnected.wait(0.5), "the victim hub was kicked off by a client-id takeover"
    finally:
        impostor.close()
        honest.close()


def test_wrong_password_is_refused(provision_hub: Callable[..., ProvisionedHub]) -> None:
    hub = provision_hub()
    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        TestClient(
            hub.url, hub.hub_id, tls=hub.tls, username=hub.hub_id, password="not-the-password"
        ).connect()


def test_anonymous_is_refused_on_the_services_listener(mqtt_url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(mqtt_url)
    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        TestClient(f"mqtt://{parts.hostname}:{parts.port}", "anonymous").connect()


def test_certificate_from_an_unknown_ca_is_refused(
    provision_hub: Callable[..., ProvisionedHub], tmp_path: Path
) -> None:
    hub = provision_hub()
    rogue = pki.CertificateAuthority.create("rogue CA")
    cert, key = rogue.issue(hub.hub_id, server=False, validity=dt.timedelta(days=30))
    (tmp_path / "rogue.crt").write_bytes(pki.cert_pem(cert))
    pki.write_private(tmp_path / "rogue.key", pki.private_key_pem(key))
    tls = TlsFiles(hub.tls.ca_file, tmp_path / "rogue.crt", tmp_path / "rogue.key")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        TestClient(hub.url, hub.hub_id, tls=tls, username=hub.hub_id, password=hub.password).connect()


def test_expired_certificate_is_refused(provision_hub: Callable[..., ProvisionedHub]) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    hub = provision_hub(validity=dt.timedelta(days=30), not_before=long_ago)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        hub.client().connect()


def test_no_client_certificate_is_refused(provision_hub: Callable[..., ProvisionedHub]) -> None:
    hub = provision_hub()
    tls = TlsFiles(hub.tls.ca_file)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        TestClient(hub.url, hub.hub_id, tls=tls, username=hub.hub_id, password=hub.password).connect()


def test_plaintext_to_the_tls_listener_is_refused(provision_hub: Callable[..., ProvisionedHub]) -> None:
    hub = provision_hub()
    plain_url = hub.url.replace("mqtts://", "mqtt://")
    with pytest.raises(ConnectionError):
        TestClient(plain_url, hub.hub_id, username=hub.hub_id, password=hub.password).connect()


def test_revoked_hub_is_cut_off_without_disturbing_others(
    broker_admin: BrokerAdmin, provision_hub: Callable[..., ProvisionedHub]
) -> None:
    revoked, bystander = provision_hub(), provision_hub()
    live_revoked = revoked.client().connect()
    live_bystander = bystander.client().connect()
    try:
        broker_admin.revoke_hub(revoked.hub_id)
        assert live_revoked.disconnected.wait(5), "the revoked hub's live connection was not closed"
        assert not live_bystander.disconnected.is_set()
        reason = live_bystander.publish(hub_topic(bystander.hub_id, Channel.READINGS), b"{}")
        assert reason is not None
        assert not reason.is_failure
    finally:
        live_revoked.close()
        live_bystander.close()
    with pytest.raises(ConnectionRefusedError, match="Not authorized"):
        revoked.client().connect()


def test_hub_cannot_be_provisioned_twice_or_with_a_bad_id(
    broker_admin: BrokerAdmin,
    provision_hub: Callable[..., ProvisionedHub],
    services: Endpoints,
    tmp_path: Path,
) -> None:
    hub = provision_hub()
    with pytest.raises(ProvisioningError, match="already has credentials"):
        broker_admin.add_hub(hub.hub_id, broker_url=services.mqtt_hub_url, out_dir=tmp_path)
    with pytest.raises(TopicError, match="invalid hub_id"):
        broker_admin.add_hub("../etc", broker_url=services.mqtt_hub_url, out_dir=tmp_path)


def test_bulk_provisioning_is_all_or_nothing(
    broker_admin: BrokerAdmin,
    provision_hub: Callable[..., ProvisionedHub],
    services: Endpoints,
    tmp_path: Path,
) -> None:
    taken = provision_hub()
    fresh = [f"bulk-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    with pytest.raises(ProvisioningError, match="already has credentials"):
        broker_admin.add_hubs([*fresh, taken.hub_id], broker_url=services.mqtt_hub_url, out_dir=tmp_path)
    assert not set(fresh) & set(broker_admin.hubs()), "a refused bulk request registered hubs"

    # The broker refuses the last hub (its role exists already): the hubs before it are undone.
    clash = dynsec.hub_role_name(fresh[-1])
    broker_admin._control().run([{"command": "createRole", "rolename": clash}])
    with pytest.raises(ProvisioningError, match="refused 3 hubs"):
        broker_admin.add_hubs(fresh, broker_url=services.mqtt_hub_url, out_dir=tmp_path)
    assert not set(fresh) & set(broker_admin.hubs())
    with pytest.raises(dynsec.DynsecError, match="not found"):
        broker_admin._control().run([{"command": "getClient", "username": fresh[0]}])

    bundles = broker_admin.add_hubs(fresh, broker_url=services.mqtt_hub_url, out_dir=tmp_path)
    try:
        assert [b.hub_id for b in bundles] == fresh
        assert set(fresh) <= set(broker_admin.hubs())
        for bundle in bundles:
            assert (bundle.directory / "hub.key").exists()
            assert bundle.config_file.exists()
    finally:
        for hub_id in fresh:
            broker_admin.revoke_hub(hub_id)


def test_bundle_secrets_are_private(provision_hub: Callable[..., ProvisionedHub]) -> None:
    hub = provision_hub()
    directory = hub.tls.cert_file.parent if hub.tls.cert_file else None
    assert directory is not None
    for name in ("hub.toml", "hub.key"):
        assert (directory / name).stat().st_mode & 0o077 == 0, f"{name} is readable by others"


def test_service_roles_are_brought_up_to_date(broker_admin: BrokerAdmin, mqtt_url: str) -> None:
    """A broker provisioned by older code gets the ACLs this code needs (here: shared subscriptions)."""
    shared = "$share/+/rpm/v1/hubs/+/readings"
    broker_admin._control().run(
        [
            {
                "command": "removeRoleACL",
                "rolename": "role.svc.ingest",
                "acltype": "subscribePattern",
                "topic": shared,
            }
        ]
    )
    refused = _ingest(mqtt_url)
    try:
        assert refused.subscribe("$share/g1/rpm/v1/hubs/+/readings").value == NOT_AUTHORIZED
    finally:
        refused.close()
    assert broker_admin.sync_service_roles() == 1
    assert broker_admin.sync_service_roles() == 0
    granted = _ingest(mqtt_url)
    try:
        assert not granted.subscribe("$share/g2/rpm/v1/hubs/+/readings").is_failure
    finally:
        granted.close()
