"""Devices assigned to a patient and the practice's hubs, with what the hubs last reported.

A hub counts as offline when its retained status says so or when it has been silent longer than
HUB_SILENT_AFTER (alert-rules.md: "hub silent > 24 h"); a battery under BATTERY_LOW_PCT is low (same source).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

HUB_SILENT_AFTER = timedelta(hours=24)
BATTERY_LOW_PCT = 20

_HUB_STATE = (
    "hs.online AS reported_online, hs.sent_at AS hub_last_seen, hs.software_version,"
    " hs.outbox_depth, (hs.hub_id IS NULL OR NOT hs.online OR hs.sent_at < now() - %(silent)s) AS hub_offline"
)


def patient_devices(conn: psycopg.Connection, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    query = (
        "SELECT d.device_id, d.model, d.profile, d.serial, d.firmware, d.hub_id, a.user_index,"
        " lower(a.valid) AS assigned_from, upper(a.valid) AS assigned_until,"
        f" {_HUB_STATE}, st.battery_pct, st.last_seen AS device_last_seen,"
        " (SELECT max(r.measured_at) FROM readings r WHERE r.device_id = d.device_id"
        "   AND r.patient_id = a.patient_id) AS last_reading_at"
        " FROM device_assignments a JOIN devices d USING (device_id)"
        " LEFT JOIN hub_status hs ON hs.hub_id = d.hub_id"
        " LEFT JOIN LATERAL (SELECT (e->>'battery_pct')::int AS battery_pct,"
        "   (e->>'last_seen')::timestamptz AS last_seen FROM jsonb_array_elements(hs.devices) e"
        "   WHERE e->>'device_id' = d.device_id LIMIT 1) st ON true"
        " WHERE a.patient_id = %(p)s AND a.valid @> now() ORDER BY d.device_id"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, {"p": patient_id, "silent": HUB_SILENT_AFTER}).fetchall()
    for row in rows:
        row["battery_low"] = row["battery_pct"] is not None and row["battery_pct"] < BATTERY_LOW_PCT
    return rows


def hubs(conn: psycopg.Connection, practice_id: uuid.UUID, hub_id: str | None = None) -> list[dict[str, Any]]:
    query = (
        f"SELECT h.hub_id, h.label, {_HUB_STATE}, coalesce(jsonb_array_length(hs.devices), 0) AS devices_seen"
        " FROM hubs h LEFT JOIN hub_status hs USING (hub_id) WHERE h.practice_id = %(pr)s"
        + (" AND h.hub_id = %(h)s" if hub_id is not None else "")
        + " ORDER BY h.hub_id"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, {"pr": practice_id, "h": hub_id, "silent": HUB_SILENT_AFTER}).fetchall()


def hub_events(conn: psycopg.Connection, hub_id: str, limit: int = 20) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT at, type, device_id, message FROM hub_events WHERE hub_id = %s ORDER BY at DESC LIMIT %s",
            (hub_id, limit),
        ).fetchall()
