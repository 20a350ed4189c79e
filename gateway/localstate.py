"""What `rpm hub status` shows, read from the state directory alone (no broker, hub running or not)."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from broker.contract import DeviceSeen
from gateway.hubconfig import load_saved
from gateway.outbox_db import OutboxDb, OutboxStats
from gateway.settings import HubSettings
from gateway.state import open_db, read_all
from gateway.status import SEEN_KEY


@dataclass(frozen=True)
class LocalState:
    hub_id: str
    state_dir: str
    outbox: OutboxStats | None
    config_version: int | None
    config_devices: tuple[str, ...]
    devices: tuple[DeviceSeen, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["devices"] = [d.model_dump(mode="json", exclude_none=True) for d in self.devices]
        return data


def read_local_state(settings: HubSettings) -> LocalState:
    outbox = None
    if settings.outbox_path.exists():
        db = OutboxDb(settings.outbox_path, limit_bytes=settings.outbox_max_bytes, read_only=True)
        try:
            outbox = db.stats()
        finally:
            db.close()
    config = load_saved(settings.config_path, settings.hub_id)
    devices: tuple[DeviceSeen, ...] = ()
    if settings.devices_path.exists():
        conn = open_db(settings.devices_path, read_only=True)
        try:
            saved = read_all(conn, SEEN_KEY)
        finally:
            conn.close()
        devices = tuple(DeviceSeen.model_validate_json(text) for _, text in sorted(saved.items()))
    return LocalState(
        hub_id=settings.hub_id,
        state_dir=str(settings.state_dir),
        outbox=outbox,
        config_version=config.version if config else None,
        config_devices=tuple(d.device_id for d in config.devices) if config else (),
        devices=devices,
    )


def _when(at: float | None, now: float) -> str:
    if at is None:
        return "never"
    stamp = dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{stamp} ({_age(now - at)} ago)"


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def render_text(state: LocalState, now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines = [f"hub {state.hub_id}  (state: {state.state_dir})"]
    box = state.outbox
    if box is None:
        lines.append("outbox: none yet (the hub has not run)")
    else:
        lines += [
            f"outbox depth: {box.depth} readings unsent, {box.events_pending} events unsent",
            f"oldest unsent: {_when(box.oldest_unsent_at, now)}",
            f"last upload: {_when(box.last_upload_at, now)}",
            f"disk: {box.stored_bytes} of {box.limit_bytes} bytes; {box.acked_held} delivered rows kept, "
            f"{box.delivered_ids} delivered ids remembered",
        ]
        if box.last_refusal:
            lines.append(f"last broker refusal: {_when(box.last_refusal_at, now)}: {box.last_refusal}")
    version = state.config_version if state.config_version is not None else "none (waiting for the broker)"
    lines.append(f"config version: {version}; assigned devices: {', '.join(state.config_devices) or 'none'}")
    for device in state.devices:
        seen = _when(device.last_seen.timestamp(), now) if device.last_seen else "never"
        battery, rssi = _opt(device.battery_pct, "%"), _opt(device.rssi_dbm, " dBm")
        offset = _opt(device.clock_offset_s, " s")
        lines.append(
            f"  {device.device_id}: battery {battery}, RSSI {rssi}, clock offset {offset}, last seen {seen}"
        )
    return "\n".join(lines)


def _opt(value: object, unit: str) -> str:
    return "?" if value is None else f"{value}{unit}"


def render_json(state: LocalState) -> str:
    return json.dumps(state.as_json(), indent=2, sort_keys=True, default=str)
