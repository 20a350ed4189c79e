"""Mosquitto's dynamic-security plugin: its first configuration file and its control API.

Why this plugin and not `password_file` + `acl_file`: the ACL file cannot refuse a subscription
(a hub subscribing to `#` is granted and silently receives nothing), and it cannot express "this
client, only these topics" without patterns. The plugin refuses with a SUBACK/PUBACK reason code
(0x87, not authorized), applies changes while the broker runs, and disconnects a deleted client
at once, which is what revoking a hub needs.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from broker.admin.passwords import hash_password
from broker.topics import TOPIC_PREFIX, Channel

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
# Control commands are answered within milliseconds on a healthy broker.
CONTROL_TIMEOUT_S = 10.0
PER_COMMAND_TIMEOUT_S = 0.2
"""The plugin rewrites its whole config file after each change: with thousands of hubs registered, a bulk
request of hundreds of commands takes seconds."""


class DynsecError(Exception):
    """The plugin refused a command, or the broker did not answer."""


@dataclass(frozen=True)
class Acl:
    acltype: str  # publishClientSend, publishClientReceive, subscribeLiteral, subscribePattern, ...
    topic: str
    allow: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"acltype": self.acltype, "topic": self.topic, "allow": self.allow}


def _reads(topic: str, *, pattern: bool) -> list[Acl]:
    kind = "subscribePattern" if pattern else "subscribeLiteral"
    return [Acl(kind, topic), Acl("publishClientReceive", topic)]


def hub_role_name(hub_id: str) -> str:
    return f"hub.{hub_id}"


def hub_acls(hub_id: str) -> list[Acl]:
    """A hub publishes its own readings, status and events, and reads its own config. Nothing else."""
    own = f"{TOPIC_PREFIX}/{hub_id}"
    sends = [
        Acl("publishClientSend", f"{own}/{c}") for c in (Channel.READINGS, Channel.STATUS, Channel.EVENTS)
    ]
    return sends + _reads(f"{own}/{Channel.CONFIG}", pattern=False)


def ingest_acls() -> list[Acl]:
    """Every hub's readings, status and events, directly or through any shared-subscription group.

    Mosquitto checks a shared subscription's whole filter (`$share/<group>/...`) against the ACL, so
    the shared form needs its own entry; `+` lets deployments and tests pick their group names.
    """
    acls: list[Acl] = []
    for channel in (Channel.READINGS, Channel.STATUS, Channel.EVENTS):
        acls += _reads(f"{TOPIC_PREFIX}/+/{channel}", pattern=True)
        acls.append(Acl("subscribePattern", f"$share/+/{TOPIC_PREFIX}/+/{channel}"))
    return acls


def admin_acls() -> list[Acl]:
    """Publishes hub configs (retained) and watches hub status."""
    return [
        Acl("publishClientSend", f"{TOPIC_PREFIX}/+/{Channel.CONFIG}"),
        *_reads(f"{TOPIC_PREFIX}/+/{Channel.CONFIG}", pattern=True),
        *_reads(f"{TOPIC_PREFIX}/+/{Channel.STATUS}", pattern=True),
    ]


def provisioner_acls() -> list[Acl]:
    """The plugin's own control API, nothing of the patients' data."""
    return [
        Acl("publishClientSend", "$CONTROL/dynamic-security/#"),
        *_reads("$CONTROL/dynamic-security/#", pattern=True),
    ]


def initial_config(service_accounts: Iterable[tuple[str, str, list[Acl]]]) -> dict[str, Any]:
    """The plugin's first file: service clients (username, password, ACLs), everything else denied."""
    clients, roles = [], []
    for username, password, acls in service_accounts:
        hashed = hash_password(password)
        role = service_role_name(username)
        clients.append(
            {
                "username": username,
                "textName": f"rpm-gateway service account {username}",
                "password": hashed.password_b64,
                "salt": hashed.salt_b64,
                "iterations": hashed.iterations,
                "roles": [{"rolename": role}],
            }
        )
        roles.append({"rolename": role, "acls": [acl.as_json() for acl in acls]})
    return {
        "clients": clients,
        "groups": [],
        "roles": roles,
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def service_role_name(username: str) -> str:
    return f"role.{username}"


def role_sync_commands(
    rolename: str, current: list[dict[str, Any]], wanted: list[Acl]
) -> list[dict[str, Any]]:
    """Commands that make a role's ACLs exactly `wanted` (upgrades brokers provisioned by older code)."""
    have = {(a["acltype"], a["topic"], bool(a.get("allow", False))) for a in current}
    want = {(a.acltype, a.topic, a.allow) for a in wanted}
    commands: list[dict[str, Any]] = [
        {"command": "removeRoleACL", "rolename": rolename, "acltype": acltype, "topic": topic}
        for acltype, topic, _allow in sorted(have - want)
    ]
    commands += [
        {"command": "addRoleACL", "rolename": rolename, "acltype": acltype, "topic": topic, "allow": allow}
        for acltype, topic, allow in sorted(want - have)
    ]
    return commands


class ControlClient:
    """Sends commands to the plugin's control topic and waits for each answer."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self.username = username
        self.password = password

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run commands in order; raise DynsecError for the first one the plugin refused."""
        import paho.mqtt.client as mqtt

        parts = urlsplit(self.url)
        correlation = uuid.uuid4().hex
        done = threading.Event()
        ready = threading.Event()
        answers: list[dict[str, Any]] = []
        connect_error: list[str] = []
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"provisioner-{correlation[:12]}",
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(self.username, self.password)

        def on_connect(c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
            if reason.is_failure:
                connect_error.append(str(reason))
                ready.set()
                return
            c.subscribe(RESPONSE_TOPIC, qos=1)

        def on_subscribe(c: mqtt.Client, *_args: object) -> None:
            ready.set()

        def on_message(_c: mqtt.Client, _u: object, message: Any) -> None:
            body = json.loads(message.payload)
            mine = [
                r for r in body.get("responses", []) if r.get("correlationData", "").startswith(correlation)
            ]
            answers.extend(mine)
            if len(answers) >= len(commands):
                done.set()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        try:
            client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        except OSError as exc:
            raise DynsecError(f"cannot reach the broker at {parts.hostname}:{parts.port}: {exc}") from exc
        client.loop_start()
        try:
            if not ready.wait(CONTROL_TIMEOUT_S) or connect_error:
                raise DynsecError(
                    f"the broker refused the provisioning account: {connect_error or 'no answer'}"
                )
            tagged = [{**cmd, "correlationData": f"{correlation}-{i}"} for i, cmd in enumerate(commands)]
            client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
            if not done.wait(CONTROL_TIMEOUT_S + PER_COMMAND_TIMEOUT_S * len(commands)):
                raise DynsecError("the broker did not answer the provisioning commands")
        finally:
            client.disconnect()
            client.loop_stop()
        answers.sort(key=lambda r: int(r["correlationData"].rsplit("-", 1)[1]))
        for answer in answers:
            if answer.get("error"):
                raise DynsecError(f"{answer.get('command')}: {answer['error']}")
        return answers
