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

# Latest vitals older than this are not "latest" for a list.
LATEST_LOOKBACK = "400 days"
# Most patients of a monitoring program measure every few days: the latest reading of each kind is looked
# up in this recent window first (a couple of 7-day chunks), per patient and kind by the
# (patient_id, kind, measured_at DESC) index, newest chunk first.
LATEST_RECENT = "21 days"
PATIENT_COLUMNS = "patient_id, mrn, given_name, family_name, birth_date, timezone"
_LATEST_COLUMNS = "measured_at, systolic_mmhg, diastolic_mmhg, pulse_bpm, glucose_mg_dl, weight_kg"
_LATEST_RECENT = (
    "SELECT k0.patient_id, k1.kind, r.* FROM unnest(%(p)s::uuid[]) AS k0(patient_id)"
    " CROSS JOIN unnest(%(k)s::text[]) AS k1(kind)"
    f" JOIN LATERAL (SELECT {_LATEST_COLUMNS} FROM readings x WHERE x.patient_id = k0.patient_id"
    f" AND x.kind = k1.kind AND x.measured_at > now() - interval '{LATEST_RECENT}'"
    " ORDER BY x.measured_at DESC LIMIT 1) r ON true"
)
# The pairs not found recently, all in one scan per older chunk (patient_id = ANY, kind = ANY on the same
# index) rather than one probe of every chunk per patient and kind: a patient who never measures a kind
# costs one index descent per chunk instead of a rescan of the whole chunk list.
_LATEST_OLDER = (
    f"SELECT DISTINCT ON (patient_id, kind) patient_id, kind, {_LATEST_COLUMNS} FROM readings"
    " WHERE patient_id = ANY(%(p)s::uuid[]) AND kind = ANY(%(k)s::text[])"
    f" AND measured_at > now() - interval '{LATEST_LOOKBACK}'"
    f" AND measured_at <= now() - interval '{LATEST_RECENT}'"
    " ORDER BY patient_id, kind, measured_at DESC"
)
# Per kind: the key of its time in a list row, and its value columns (schemas.LatestVital values).
LATEST_KINDS = {
    "blood_pressure": ("bp_at", ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm")),
    "glucose": ("glucose_at", ("glucose_mg_dl",)),
    "weight": ("weight_at", ("weight_kg",)),
}


def latest_vitals(
    conn: psycopg.Connection, patient_ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], dict]:
    """The newest reading of each kind (within LATEST_LOOKBACK) of each patient, by (patient_id, kind)."""
    found: dict[tuple[uuid.UUID, str], dict] = {}
    if not patient_ids:
        return found
    with conn.cursor(row_factory=dict_row) as cur:
        # Planning these over every chunk of the hypertable costs more than running them: let the server
        # keep a generic plan (chunks excluded at executor startup); the SET travels with the first query.
        with conn.pipeline():
            cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cur.execute(_LATEST_RECENT, {"p": patient_ids, "k": list(LATEST_KINDS)})
        for row in cur:
            found[(row["patient_id"], row["kind"])] = row
        missing = [(p, k) for p in patient_ids for k in LATEST_KINDS if (p, k) not in found]
        if missing:
            params = {
                "p": list(dict.fromkeys(p for p, _ in missing)),
                "k": list(dict.fromkeys(k for _, k in missing)),
            }
            for row in cur.execute(_LATEST_OLDER, params):
                found.setdefault((row["patient_id"], row["kind"]), row)
    return found


def _attach_latest(row: dict[str, Any], found: dict[tuple[uuid.UUID, str], dict]) -> None:
    """Add bp_at, systolic_mmhg, ..., weight_at, weight_kg to a patient row (None where there is none)."""
    for kind, (at_key, columns) in LATEST_KINDS.items():
        reading = found.get((row["patient_id"], kind))
        row[at_key] = reading["measured_at"] if reading else None
        for column in columns:
            row[column] = reading[column] if reading else None


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
    if with_vitals:
        found = latest_vitals(conn, [r["patient_id"] for r in rows])
        for row in rows:
            _attach_latest(row, found)
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
