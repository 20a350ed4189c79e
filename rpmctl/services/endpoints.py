"""Where the services are: URLs from the environment, else the local stack's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from broker.admin.accounts import ADMIN_ACCOUNT, INGEST_ACCOUNT, BrokerFiles
from rpmctl.errors import CommandError
from rpmctl.services.layout import StateLayout
from rpmctl.services.timescale import APP_DATABASE, APP_ROLE

DATABASE_URL_ENV = "RPM_DATABASE_URL"
MQTT_URL_ENV = "RPM_MQTT_URL"
MQTT_ADMIN_URL_ENV = "RPM_MQTT_ADMIN_URL"
MQTT_HUB_URL_ENV = "RPM_MQTT_HUB_URL"


@dataclass(frozen=True)
class Endpoints:
    """URLs carry their credentials; print them through a redacting helper only."""

    database_url: str
    mqtt_url: str  # the ingest service account on the loopback listener
    database_external: bool
    mqtt_external: bool
    mqtt_admin_url: str = ""  # the config-publishing account
    mqtt_hub_url: str = ""  # the hubs' TLS listener (credentials come from each hub's bundle)


def resolve(layout: StateLayout) -> Endpoints:
    """The URLs every service and test connects to."""
    db_url = os.environ.get(DATABASE_URL_ENV) or ""
    mqtt_url = os.environ.get(MQTT_URL_ENV) or ""
    return Endpoints(
        database_url=db_url or _local_database_url(layout),
        mqtt_url=mqtt_url or _local_mqtt_url(layout, INGEST_ACCOUNT),
        database_external=bool(db_url),
        mqtt_external=bool(mqtt_url),
        mqtt_admin_url=os.environ.get(MQTT_ADMIN_URL_ENV) or _local_mqtt_url(layout, ADMIN_ACCOUNT),
        mqtt_hub_url=os.environ.get(MQTT_HUB_URL_ENV) or f"mqtts://127.0.0.1:{layout.mqtts_port}",
    )


def _local_mqtt_url(layout: StateLayout, account: str) -> str:
    secret = BrokerFiles(layout.mosquitto_dir).service_password_file(account)
    try:
        password = secret.read_text().strip()
    except FileNotFoundError:
        return f"mqtt://{account}@127.0.0.1:{layout.mqtt_port}"
    except PermissionError:
        raise CommandError(
            f"cannot read {secret}", fix=f"run as the user who ran `rpm services up`, or set {MQTT_URL_ENV}"
        ) from None
    return f"mqtt://{account}:{quote(password, safe='')}@127.0.0.1:{layout.mqtt_port}"


def _local_database_url(layout: StateLayout) -> str:
    secret = layout.secrets_dir / "db-rpm.password"
    try:
        password = secret.read_text().strip()
    except FileNotFoundError:
        return f"postgresql://{APP_ROLE}@127.0.0.1:{layout.db_port}/{APP_DATABASE}"
    except PermissionError:
        raise CommandError(
            f"cannot read {secret}",
            fix=f"run as the user who ran `rpm services up`, or set {DATABASE_URL_ENV}",
        ) from None
    return f"postgresql://{APP_ROLE}:{quote(password, safe='')}@127.0.0.1:{layout.db_port}/{APP_DATABASE}"
