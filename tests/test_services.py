"""`rpm services`: real Mosquitto and TimescaleDB started, stopped and inspected by the project."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from rpmctl.errors import CommandError
from rpmctl.main import main
from rpmctl.services import system
from rpmctl.services.endpoints import Endpoints
from rpmctl.services.layout import StateLayout
from rpmctl.services.mosquitto import LocalMosquitto
from rpmctl.services.progress import Progress
from rpmctl.services.stack import LocalStack


def test_status_reports_versions_and_license(services: Endpoints, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["services", "status"]) == 0
    out = capsys.readouterr().out
    assert "mosquitto:   up" in out
    assert "timescaledb: up" in out
    assert "TimescaleDB 2." in out
    assert "license" in out
    assert "***" in out, "the database password must not be printed"


def test_status_json_is_machine_readable(services: Endpoints, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["services", "status", "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["healthy"] is True
    if "timescaledb" in state:
        assert state["timescaledb"]["license"] in {"apache", "timescale"}


def test_up_down_up_keeps_data(
    local_stack: LocalStack, services: Endpoints, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if services.database_external or services.mqtt_external:
        pytest.fail("this test restarts the local stack; unset RPM_DATABASE_URL / RPM_MQTT_URL to run it")
    marker = f"kept-{id(local_stack)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS services_restart_check (marker text PRIMARY KEY)")
        conn.execute("INSERT INTO services_restart_check VALUES (%s) ON CONFLICT DO NOTHING", (marker,))

    assert main(["services", "down"]) == 0
    assert main(["services", "status"]) == 1, "status must exit non-zero when the services are down"
    assert "DOWN" in capsys.readouterr().out

    assert main(["services", "up"]) == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT marker FROM services_restart_check WHERE marker = %s", (marker,)
        ).fetchone()
        conn.execute("DELETE FROM services_restart_check WHERE marker = %s", (marker,))
    assert row == (marker,)
    assert local_stack.status().healthy


def test_second_up_is_a_no_op(local_stack: LocalStack, services: Endpoints) -> None:
    before = local_stack.mosquitto.status().pid
    local_stack.up()
    assert local_stack.mosquitto.status().pid == before


def test_port_taken_by_another_program_names_cause_and_fix(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        layout = StateLayout(state_dir=tmp_path, mqtt_port=port, db_port=1)
        with pytest.raises(CommandError, match=f"port {port} is taken") as caught:
            LocalMosquitto(layout, Progress(quiet=True)).up()
    assert caught.value.fix is not None
    assert "RPM_MQTT_PORT" in caught.value.fix


def test_install_without_root_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "is_root", lambda: False)
    with pytest.raises(CommandError, match="needs root") as caught:
        system.apt_install(["rpm-gateway-no-such-package"], Progress(quiet=True))
    assert "sudo" in (caught.value.fix or "")


def test_bad_port_setting_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RPM_DB_PORT", "fifty")
    assert main(["services", "status"]) == 1
    err = capsys.readouterr().err
    assert "RPM_DB_PORT='fifty' is not a port number" in err
    assert "fix:" in err


def test_failed_command_reports_disk_full_plainly() -> None:
    with pytest.raises(CommandError, match="the disk is full"):
        system.run(["sh", "-c", "echo 'write error: No space left on device'; exit 1"], what="copying")


def test_unknown_command_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "services" in capsys.readouterr().err
