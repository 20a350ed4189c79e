"""Vitals as the care team reads them: time_bucket trends, raw readings by keyset pages, latest values.

All queries go through the readings hypertable's (patient_id, kind, measured_at DESC) and
(patient_id, measured_at DESC) indexes; buckets are cut in the patient's own time zone so a "day" is the
patient's day.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any, Literal

import psycopg

from careteam_api.errors import BadRequest

Bucket = Literal["hour", "day", "week"]
Kind = Literal["blood_pressure", "glucose", "weight"]
BUCKET_WIDTH: dict[str, str] = {"hour": "1 hour", "day": "1 day", "week": "1 week"}
# Which canonical columns each kind carries, and their units (UCUM), in chart order.
METRICS: dict[str, tuple[tuple[str, str], ...]] = {
    "blood_pressure": (("systolic_mmhg", "mm[Hg]"), ("diastolic_mmhg", "mm[Hg]"), ("pulse_bpm", "/min")),
    "glucose": (("glucose_mg_dl", "mg/dL"),),
    "weight": (("weight_kg", "kg"),),
}
ALL_METRICS = tuple(dict.fromkeys(m for ms in METRICS.values() for m, _ in ms))
READING_COLUMNS = (
    "measured_at, reading_id, kind, source, systolic_mmhg, diastolic_mmhg, mean_arterial_mmhg, pulse_bpm,"
    " glucose_mg_dl, weight_kg, bmi, device_id, hub_id, meal, quality_flags, status"
)


_AGGREGATES = ", ".join(f"count({m}), min({m}), max({m}), avg({m})" for m in ALL_METRICS)
TREND = (
    f"SELECT kind, time_bucket(%s::interval, measured_at, %s) AS b, {_AGGREGATES} FROM readings"
    " WHERE patient_id = %s AND measured_at >= %s AND measured_at < %s GROUP BY kind, b ORDER BY kind, b"
)
# Per kind: (metric, unit, offset of its count/min/max/avg in a TREND row), in chart order.
_TREND_COLUMNS = {
    kind: tuple((m, unit, 2 + 4 * ALL_METRICS.index(m)) for m, unit in metrics)
    for kind, metrics in METRICS.items()
}
# A custom plan of TREND costs more to plan (constraint exclusion over every chunk, then paths for each of
# the ~14 chunks a 90-day window touches) than to run; a generic plan excludes chunks at executor startup
# instead. psycopg prepares a statement after a few runs on a connection; this SET LOCAL, sent in the same
# round trip as the query, lets the server keep its generic plan.
GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"


def trend_params(
    patient_id: uuid.UUID, timezone: str, bucket: Bucket, start: datetime, end: datetime
) -> tuple[Any, ...]:
    return (BUCKET_WIDTH[bucket], timezone, patient_id, start, end)


def trend_series(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """TREND rows as the API's series: per (kind, metric) with readings, one point per bucket with count,
    min, max and mean (plain values, in the shape of schemas.TrendSeries)."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        kind, at = row[0], row[1]
        for metric, unit, i in _TREND_COLUMNS[kind]:
            count = row[i]
            if not count:
                continue
            found = series.get((kind, metric))
            if found is None:
                found = series[(kind, metric)] = {"kind": kind, "metric": metric, "unit": unit, "points": []}
            found["points"].append(
                {"t": at, "count": count, "min": row[i + 1], "max": row[i + 2], "mean": float(row[i + 3])}
            )
    return list(series.values())


def encode_cursor(measured_at: datetime, reading_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{measured_at.isoformat()}|{reading_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, reading_id = raw.split("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        return parsed, uuid.UUID(reading_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            "the cursor is not one this API returned; pass next_cursor from the previous page"
        ) from exc


def readings_page(
    conn: psycopg.Connection,
    patient_id: uuid.UUID,
    *,
    kind: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    since: datetime | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the cursor names the last row returned, the next page starts after it."""
    where = ["patient_id = %(p)s"]
    params: dict[str, Any] = {"p": patient_id, "n": limit + 1}
    if kind is not None:
        where.append("kind = %(k)s")
        params["k"] = kind
    if since is not None:
        where.append("measured_at >= %(since)s")
        params["since"] = since
    if before is not None:
        where.append("measured_at <= %(bt)s AND (measured_at < %(bt)s OR reading_id < %(bid)s)")
        params["bt"], params["bid"] = before
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            f"SELECT {READING_COLUMNS} FROM readings WHERE {' AND '.join(where)}"
            " ORDER BY measured_at DESC, reading_id DESC LIMIT %(n)s",
            params,
        )
        rows = cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1]["measured_at"], rows[-1]["reading_id"]) if more else None
    return rows, cursor


_LATEST = (
    "SELECT r.kind, r.measured_at, r.systolic_mmhg,"
    " r.diastolic_mmhg, r.pulse_bpm, r.glucose_mg_dl, r.weight_kg"
    " FROM unnest(%s::text[]) AS k(kind) CROSS JOIN LATERAL (SELECT * FROM readings x"
    "  WHERE x.patient_id = %s AND x.kind = k.kind ORDER BY x.measured_at DESC LIMIT 1) r"
)


def latest(conn: psycopg.Connection, patient_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """The newest reading of each kind."""
    out: dict[str, dict[str, Any]] = {}
    for kind, at, sys_, dia, pulse, glucose, weight in conn.execute(_LATEST, (list(METRICS), patient_id)):
        values = {
            "systolic_mmhg": sys_,
            "diastolic_mmhg": dia,
            "pulse_bpm": pulse,
            "glucose_mg_dl": glucose,
            "weight_kg": weight,
        }
        out[kind] = {
            "measured_at": at,
            "values": {m: values[m] for m, _ in METRICS[kind] if values[m] is not None},
        }
    return out
