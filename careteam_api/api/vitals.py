"""Vitals trends (time_bucket with the patient's limits and alerts on the same axis) and raw readings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from careteam_api import trend_chart, vitals
from careteam_api.api import API_PREFIX, window
from careteam_api.api.rendering import json_response
from careteam_api.api.schemas import ReadingPage, TrendPublic
from careteam_api.api.scope import ClinicalPatient, ClinicalReadPatient
from careteam_api.db import DbSession, ReadSession, commit_read_now
from careteam_api.errors import BadRequest

router = APIRouter(prefix=API_PREFIX + "/patients/{patient_id}", tags=["vitals"])
# A year of daily points, or 400 days: the console's widest zoom with some margin.
MAX_TREND_DAYS = 400
# Hourly buckets over more than 31 days would be thousands of points per series: use day or week.
MAX_HOURLY_DAYS = 31


@router.get("/trends", response_model=TrendPublic)
async def trends(
    patient: ClinicalReadPatient,
    request: Request,
    conn: ReadSession,
    bucket: Annotated[vitals.Bucket, Query(description="bucket width")] = "day",
    days: Annotated[
        int, Query(ge=1, le=MAX_TREND_DAYS, description="window length when start is not given")
    ] = 90,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Response:
    """Per vital and bucket: count, min, max, mean; the care plan's (or default) limits; alerts."""
    start, end = window.resolve(start, end, days, MAX_TREND_DAYS)
    if bucket == "hour" and (end - start).days > MAX_HOURLY_DAYS:
        raise BadRequest(f"hourly buckets cover at most {MAX_HOURLY_DAYS} days; use bucket=day")
    async with conn.pipeline():
        chart = await trend_chart.queue(
            conn,
            patient_id=patient.patient_id,
            practice_id=patient.practice_id,
            timezone=patient.timezone,
            bucket=bucket,
            start=start,
            end=end,
            with_alerts=request.app.state.alerts_tables,
        )
        await commit_read_now(conn, request)
    data = await chart.result()
    return json_response(
        {
            "patient_id": patient.patient_id,
            "bucket": bucket,
            "start": start,
            "end": end,
            "timezone": patient.timezone,
            **data,
        }
    )


@router.get("/readings", response_model=ReadingPage)
def readings(
    patient: ClinicalPatient,
    conn: DbSession,
    kind: vitals.Kind | None = None,
    since: datetime | None = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReadingPage:
    """Readings newest first, in keyset pages (stable while new readings arrive)."""
    since_at = window.resolve(since, None, 1, 100 * 366)[0] if since is not None else None
    rows, next_cursor = vitals.readings_page(
        conn,
        patient.patient_id,
        kind=kind,
        before=vitals.decode_cursor(cursor) if cursor else None,
        since=since_at,
        limit=limit,
    )
    return ReadingPage(items=rows, next_cursor=next_cursor)
