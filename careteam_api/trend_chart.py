"""A trend chart's data in one round trip: the buckets, the care plan's limits and the alert markers.

The three reads are queued on a pipeline (psycopg pipeline mode) of the request's async connection, with the
request's audit entries and COMMIT after them (db.commit_read_now), so a chart costs one round trip besides
the session lookup: under load every round trip is two context switches, on a server that shares its cores
with the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from careteam_api import alert_marks, vitals
from careteam_api.thresholds import limits_for

# The newest care-plan version's overrides (the limits the alert engine applies).
_PLAN_THRESHOLDS = (
    "SELECT alert_thresholds FROM care_plan_versions WHERE patient_id = %s ORDER BY version DESC LIMIT 1"
)


@dataclass(frozen=True)
class Pending:
    """The chart's reads, queued on a pipeline; `result` after the pipeline has synced."""

    buckets: psycopg.AsyncCursor
    plan: psycopg.AsyncCursor
    marks: psycopg.AsyncCursor | None

    async def result(self) -> dict[str, Any]:
        """series, limits and alerts (None without the alert engine's tables) as plain values in the shapes
        of schemas.TrendSeries, LimitPublic and AlertMarker."""
        thresholds = await self.plan.fetchone()
        marks = await self.marks.fetchall() if self.marks is not None else None
        return {
            "series": vitals.trend_series(await self.buckets.fetchall()),
            "limits": [limit.__dict__ for limit in limits_for(thresholds[0] if thresholds else None)],
            "alerts": alert_marks.with_metric(marks) if marks is not None else None,
        }


async def queue(
    conn: psycopg.AsyncConnection,
    *,
    patient_id: uuid.UUID,
    practice_id: uuid.UUID,
    timezone: str,
    bucket: vitals.Bucket,
    start: datetime,
    end: datetime,
    with_alerts: bool,
) -> Pending:
    """Queue the chart's reads on `conn`'s open pipeline (conn.pipeline())."""
    await conn.execute(vitals.GENERIC_PLANS)
    buckets = await conn.execute(vitals.TREND, vitals.trend_params(patient_id, timezone, bucket, start, end))
    plan = await conn.execute(_PLAN_THRESHOLDS, (patient_id,))
    marks = None
    if with_alerts:
        marks = await conn.cursor(row_factory=dict_row).execute(
            alert_marks.MARKERS, (practice_id, patient_id, start, end)
        )
    return Pending(buckets, plan, marks)
