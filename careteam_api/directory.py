"""The practice's patients: the list with latest vitals and open alerts (keyset pages), one patient's
record, and contact details."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from careteam_api.errors import BadRequest

# Latest vitals older than this are not "latest" for a list: bounding the look-up lets TimescaleDB skip the
# chunks of older data for patients with no reading of a kind.
LATEST_LOOKBACK = "400 days"
PATIENT_COLUMNS = "patient_id, mrn, given_name, family_name, birth_date, timezone"


def _lateral(kind: str, alias: str, columns: str) -> str:
    return (
        f" LEFT JOIN LATERAL (SELECT measured_at, {columns} FROM readings r WHERE r.patient_id = p.patient_id"
        f" AND r.kind = '{kind}' AND r.measured_at > now() - interval '{LATEST_LOOKBACK}'"
        f" ORDER BY r.measured_at DESC LIMIT 1) {alias} ON true"
    )


def encode_cursor(family: str, given: str, patient_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([family, given, str(patient_id)]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str, uuid.UUID]:
    try:
        family, given, pid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(family, str) or not isinstance(given, str):
            raise ValueError("names")
        return family, given, uuid.UUID(pid)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            "the cursor is not one this API returned; pass next_cursor from the previous page"
        ) from exc


def list_patients(
    conn: psycopg.Connection,
    practice_id: uuid.UUID,
    *,
    search: str | None,
    after: tuple[str, str, uuid.UUID] | None,
    limit: int,
    with_vitals: bool,
    with_alerts: bool,
) -> tuple[list[dict[str, Any]], str | None]:
    where = ["practice_id = %(pr)s"]
    params: dict[str, Any] = {"pr": practice_id, "n": limit + 1}
    if search:
        where.append("(mrn ILIKE %(q)s OR given_name || ' ' || family_name ILIKE %(q)s)")
        params["q"] = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if after is not None:
        where.append("(family_name, given_name, patient_id) > (%(af)s, %(ag)s, %(ai)s)")
        params["af"], params["ag"], params["ai"] = after
    select = ["p.*"]
    joins = ""
    if with_vitals:
        select += [
            "bp.measured_at AS bp_at, bp.systolic_mmhg, bp.diastolic_mmhg, bp.pulse_bpm",
            "g.measured_at AS glucose_at, g.glucose_mg_dl",
            "w.measured_at AS weight_at, w.weight_kg",
        ]
        joins += _lateral("blood_pressure", "bp", "systolic_mmhg, diastolic_mmhg, pulse_bpm")
        joins += _lateral("glucose", "g", "glucose_mg_dl")
        joins += _lateral("weight", "w", "weight_kg")
    if with_alerts:
        select.append("a.open_alerts, a.top_priority_rank")
        joins += (
            " LEFT JOIN LATERAL (SELECT count(*) AS open_alerts, min(priority_rank) AS top_priority_rank"
            " FROM alerts x WHERE x.practice_id = %(pr)s AND x.patient_id = p.patient_id"
            " AND x.state IN ('open', 'claimed', 'acknowledged', 'snoozed')) a ON true"
        )
    query = (
        f"WITH p AS (SELECT {PATIENT_COLUMNS} FROM patients WHERE {' AND '.join(where)}"
        " ORDER BY family_name, given_name, patient_id LIMIT %(n)s)"
        f" SELECT {', '.join(select)} FROM p{joins} ORDER BY p.family_name, p.given_name, p.patient_id"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (
        encode_cursor(rows[-1]["family_name"], rows[-1]["given_name"], rows[-1]["patient_id"])
        if more
        else None
    )
    return rows, cursor


def contact(conn: psycopg.Connection, patient_id: uuid.UUID) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT phone, email, preferred_contact, caregiver, updated_at FROM patient_contacts"
            " WHERE patient_id = %s",
            (patient_id,),
        ).fetchone()


def set_contact(
    conn: psycopg.Connection, patient_id: uuid.UUID, values: dict[str, Any], by: uuid.UUID
) -> None:
    conn.execute(
        "INSERT INTO patient_contacts (patient_id, phone, email, preferred_contact, caregiver, updated_by)"
        " VALUES (%(p)s, %(phone)s, %(email)s, %(preferred_contact)s, %(caregiver)s, %(by)s)"
        " ON CONFLICT (patient_id) DO UPDATE SET phone = EXCLUDED.phone, email = EXCLUDED.email,"
        " preferred_contact = EXCLUDED.preferred_contact, caregiver = EXCLUDED.caregiver,"
        " updated_by = EXCLUDED.updated_by, updated_at = now()",
        {"p": patient_id, "by": by, **values},
    )
