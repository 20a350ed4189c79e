"""Technical checks from hub_status: the patient's hub offline or silent, a device battery low."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from alerts.checks.common import Settings, settle
from alerts.lifecycle import Evidence, Outcome
from alerts.rules import time_based


def _hubs_of_patients(conn: psycopg.Connection, now: datetime) -> list[tuple]:
    """(patient, hub, online, sent_at, devices JSON, device) for devices assigned now."""
    return conn.execute(
        "SELECT a.patient_id, d.hub_id, s.online, s.sent_at, s.devices, d.device_id"
        " FROM device_assignments a JOIN devices d USING (device_id)"
        " LEFT JOIN hub_status s ON s.hub_id = d.hub_id"
        " WHERE a.valid @> %s::timestamptz AND d.hub_id IS NOT NULL ORDER BY a.patient_id, d.hub_id",
        (now,),
    ).fetchall()


def hub_offline(conn: psycopg.Connection, now: datetime) -> Outcome:
    rows = _hubs_of_patients(conn, now)
    if not rows:
        return Outcome()
    s = Settings(conn, time_based.HUB_OFFLINE, sorted({r[0] for r in rows}), now)
    firing = {}
    for patient, hub, online, sent_at, _devices, _device in rows:
        if sent_at is None or not s.enabled(patient):
            continue
        limit = timedelta(hours=s.params(patient).silent_hours)  # type: ignore[attr-defined]
        if online is False or now - sent_at > limit:
            why = "reported offline (last will)" if online is False else f"silent since {sent_at.isoformat()}"
            evidence = Evidence(
                key=f"hub:{hub}:{sent_at.isoformat()}",
                observed_at=sent_at,
                value=round((now - sent_at) / timedelta(hours=1), 2),
                severity=(now - sent_at).total_seconds(),
                details={"hub_id": hub, "online": online, "why": why},
            )
            firing[patient] = (evidence, {"hub_id": hub, "last_status": sent_at.isoformat()})
    return settle(conn, s, firing, now, "the hub is back online")


def battery_low(conn: psycopg.Connection, now: datetime) -> Outcome:
    rows = _hubs_of_patients(conn, now)
    if not rows:
        return Outcome()
    s = Settings(conn, time_based.BATTERY_LOW, sorted({r[0] for r in rows}), now)
    firing = {}
    for patient, hub, _online, _sent, devices, device in rows:
        if not s.enabled(patient):
            continue
        below = s.params(patient).below_percent  # type: ignore[attr-defined]
        for seen in devices or []:
            pct = seen.get("battery_pct")
            if seen.get("device_id") == device and pct is not None and pct < below:
                evidence = Evidence(
                    key=f"battery:{device}:{pct}",
                    observed_at=now,
                    value=float(pct),
                    severity=float(below - pct),
                    details={"device_id": device, "hub_id": hub, "battery_pct": pct},
                )
                firing[patient] = (evidence, {"device_id": device})
    return settle(conn, s, firing, now, "battery replaced or charged")
