"""`rpm hub status` from local state alone, the hub file's validation, config judging and reconnect jitter."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from broker.contract import DeviceSeen, encode
from gateway.backoff import Backoff
from gateway.errors import SettingsError
from gateway.hubconfig import ConfigStore, Verdict
from gateway.outbox import Outbox
from gateway.settings import load_settings
from gateway.state import DeviceStateStore
from gateway.status import SEEN_KEY, seen_json
from rpmctl.main import main
from tests.test_hub_support import BASE_TIME, bp_reading, config_message

HUB = "hub-cli-test"


def _bundle(tmp_path: Path, **extra: object) -> Path:
    for name in ("ca.crt", "hub.crt", "hub.key"):
        (tmp_path / name).write_text("not used by these tests\n")
    lines = [
        f'hub_id = "{HUB}"',
        'broker_url = "mqtts://broker.example.org:8883"',
        f'username = "{HUB}"',
        'password = "secret"',
        'ca_file = "ca.crt"',
        'cert_file = "hub.crt"',
        'key_file = "hub.key"',
        'state_dir = "state"',
        *(f"{key} = {json.dumps(value)}" for key, value in extra.items()),
    ]
    path = tmp_path / "hub.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    settings = load_settings(_bundle(tmp_path, timezone="America/Chicago"))
    assert settings.cert_file == tmp_path.resolve() / "hub.crt"
    assert settings.state_dir == tmp_path.resolve() / "state"
    assert (settings.host, settings.port) == ("broker.example.org", 8883)
    assert settings.zone() is not None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        pytest.param(
            {"broker_url": "mqtt://b:1883"}, "broker_url: must start with mqtts://", id="plain-mqtt"
        ),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone: unknown time zone", id="bad-zone"),
        pytest.param({"log_level": "LOUD"}, "log_level: Input should be", id="bad-level"),
        pytest.param({"outbox_max_bytes": 10}, "outbox_max_bytes: Input should be greater", id="tiny-outbox"),
        pytest.param({"colour": "red"}, "colour: Extra inputs are not permitted", id="typo"),
    ],
)
def test_invalid_hub_files_name_the_field_and_reason(tmp_path: Path, extra: dict, problem: str) -> None:
    path = _bundle(tmp_path)
    text = path.read_text()
    for key, value in extra.items():
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key} ="))
        text += f"\n{key} = {json.dumps(value)}\n"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_a_missing_certificate_is_named(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    (tmp_path / "hub.key").unlink()
    with pytest.raises(SettingsError, match=r"key_file: file .* does not exist"):
        load_settings(path)


def test_rpm_hub_run_refuses_a_bad_file_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["hub", "run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_rpm_hub_status_reads_local_state_without_a_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    settings = load_settings(_bundle(tmp_path))

    async def prepare() -> None:
        async with Outbox(settings.outbox_path, hub_id=HUB, limit_bytes=settings.outbox_max_bytes) as box:
            for n in range(5):
                await box.add(bp_reading("SN-BP-1", n))
            rows = await box.unsent(0, 2)
            await box.mark_acked([row.seq for row in rows])
        store = DeviceStateStore(settings.devices_path)
        seen = DeviceSeen(
            device_id="SN-BP-1", battery_pct=15, rssi_dbm=-71, last_seen=BASE_TIME, clock_offset_s=42.0
        )
        await store.set("SN-BP-1", SEEN_KEY, seen_json(seen))
        await store.close()
        await ConfigStore(settings.config_path, HUB).offer(encode(config_message(HUB, 4)))

    asyncio.run(prepare())
    assert main(["hub", "status", "--config", str(tmp_path / "hub.toml")]) == 0
    text = capsys.readouterr().out
    assert "outbox depth: 3 readings unsent" in text
    assert "last upload: 20" in text
    assert "config version: 4" in text
    assert "SN-BP-1: battery 15%, RSSI -71 dBm, clock offset 42.0 s" in text
    assert main(["hub", "status", "--config", str(tmp_path / "hub.toml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outbox"]["depth"] == 3
    assert data["config_version"] == 4
    assert data["devices"][0]["battery_pct"] == 15


def test_config_store_judges_versions_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = tmp_path / "config.json"

    async def scenario() -> list[Verdict]:
        store = ConfigStore(path, HUB)
        verdicts = [
            (await store.offer(encode(config_message(HUB, 2)))).verdict,
            (await store.offer(encode(config_message(HUB, 2)))).verdict,
            (await store.offer(encode(config_message(HUB, 1)))).verdict,
            (await store.offer(b"{not json")).verdict,
            (await store.offer(encode(config_message("another-hub", 9)))).verdict,
            (await store.offer(b"")).verdict,
        ]
        assert store.current is not None
        assert store.current.version == 2
        return verdicts

    assert asyncio.run(scenario()) == [
        Verdict.APPLIED,
        Verdict.SAME,
        Verdict.STALE,
        Verdict.REJECTED,
        Verdict.REJECTED,
        Verdict.CLEARED,
    ]
    reloaded = ConfigStore(path, HUB).current
    assert reloaded is not None
    assert reloaded.version == 2


def test_reconnect_delays_use_full_jitter_within_doubling_windows() -> None:
    backoff = Backoff(base_s=5.0, cap_s=300.0, rng=random.Random(1))
    windows = []
    for _ in range(10):
        window = backoff.window_s()
        assert 0 <= backoff.next_delay_s() <= window
        windows.append(window)
    assert windows == [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]
    # 10,000 hubs dropped at once spread their first attempt evenly over the first window.
    first = [Backoff(rng=random.Random(seed)).next_delay_s() for seed in range(10_000)]
    per_second = [sum(1 for d in first if s <= d < s + 1) for s in range(5)]
    assert max(per_second) < 2_300
    assert min(per_second) > 1_700
