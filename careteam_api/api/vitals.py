"""Vitals trends (time_bucket with the patient's limits and alerts on the same axis) and raw readings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from careteam_api import alert_marks, vitals
from careteam_api.api import API_PREFIX, window
from careteam_api.api.schemas import LimitPublic, ReadingPage, TrendPoint, TrendPublic, TrendSeries
from careteam_api.api.scope import ClinicalPatient
from careteam_api.db import DbSession
from careteam_api.errors import BadRequest
from careteam_api.program.care_plans import history
from careteam_api.thresholds import limits_for

router = APIRouter(prefix=API_PREFIX + "/patients/{patient_id}", tags=["vitals"])
# A year of daily points, or 400 days: the console's widest zoom with some margin.
MAX_TREND_DAYS = 400
# Hourly buckets over more than 31 days would be thousands of points per series: use day or week.
MAX_HOURLY_DAYS = 31


@router.get("/trends", response_model=TrendPublic)
def trends(
    patient: ClinicalPatient,
    request: Request,
    conn: DbSession,
    bucket: Annotated[vitals.Bucket, Query(description="bucket width")] = "day",
    days: Annotated[
        int, Query(ge=1, le=MAX_TREND_DAYS, description="window length when start is not given")
    ] = 90,
    start: datetime | None = None,
    end: datetime | None = None,
) -> TrendPublic:
    """Per vital and bucket: count, min, max, mean; the care plan's (or default) limits; alerts."""
    start, end = window.resolve(start, end, days, MAX_TREND_DAYS)
    if bucket == "hour" and (end - start).days > MAX_HOURLY_DAYS:
        raise BadRequest(f"hourly buckets cover at most {MAX_HOURLY_DAYS} days; use bucket=day")
    points = vitals.trend(conn, patient.patient_id, patient.timezone, bucket, start, end)
    units = {m: u for ms in vitals.METRICS.values() for m, u in ms}
    series = [
        TrendSeries(
            kind=kind, metric=metric, unit=units[metric], points=[TrendPoint(**p.__dict__) for p in pts]
        )
        for (kind, metric), pts in points.items()
    ]
    plans = history(conn, patient.patient_id)
    limits = limits_for(plans[-1].alert_thresholds if plans else None)
    markers = (
        alert_marks.markers(conn, patient.practice_id, patient.patient_id, start, end)
        if request.app.state.alerts_tables
        else None
    )
    return TrendPublic(
        patient_id=patient.patient_id,
        bucket=bucket,
        start=start,
        end=end,
        timezone=patient.timezone,
        series=series,
        limits=[LimitPublic(**limit.__dict__) for limit in limits],
        alerts=markers,
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
