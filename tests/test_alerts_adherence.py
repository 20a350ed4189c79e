"""The time-based adherence rule of alert-rules.md: a 30-day RPM period that can no longer reach 16 data days
(99454), or 2 (99445), raises a low-priority alert; a period that still can does not.

Data days so far plus every day left (today included unless it already counts) against the need: patients
at the same point of their period differ by one data day on each side of the line.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.checks import adherence
from careteam_api.program import episodes
from tests.test_alerts_scenarios import NOW, World, _bp
from tests.test_alerts_scenarios import world as world  # the fixture

ZONE = ZoneInfo("America/Chicago")  # World.patient's time zone
TODAY = NOW.astimezone(ZONE).date()


def _monitored(world: World, period_day: int, data_days: list[int], today: bool = False) -> uuid.UUID:
    """A patient on day `period_day` (1 = its first) of an RPM period, with one cuff reading at local noon
    `data_days` days ago (and one now if `today`)."""
    patient = world.patient()
    episodes.start_episode(world.conn, patient, TODAY - timedelta(days=period_day - 1))
    for days_ago in data_days:
        noon = datetime.combine(TODAY - timedelta(days=days_ago), time(12), tzinfo=ZONE)
        world.reading(patient, (NOW - noon) / timedelta(hours=1), "blood_pressure", **_bp(124, 78))
    if today:
        world.reading(patient, 0, "blood_pressure", **_bp(124, 78))
    return patient


def _check(world: World, at: datetime) -> None:
    with world.conn.transaction():
        adherence.rpm_days(world.conn, at)


def test_a_period_that_can_no_longer_reach_16_or_2_data_days_raises_an_alert(world: World) -> None:
    # day 16: 14 days left after today, so today and the days left make 15
    can_reach_16 = _monitored(world, 16, [3])
    cannot_reach_16 = _monitored(world, 16, [])
    # day 30, the last: only today is left
    can_reach_2 = _monitored(world, 30, [5])
    cannot_reach_2 = _monitored(world, 30, [])
    today_counts_once = _monitored(world, 30, [], today=True)
    _check(world, NOW)

    assert world.alerts(can_reach_16) == {}
    assert set(world.alerts(cannot_reach_16)) == {"rpm_16_days_unreachable"}
    assert set(world.alerts(can_reach_2)) == {"rpm_16_days_unreachable"}
    assert set(world.alerts(cannot_reach_2)) == {"rpm_16_days_unreachable", "rpm_2_days_unreachable"}
    assert set(world.alerts(today_counts_once)) == {"rpm_16_days_unreachable", "rpm_2_days_unreachable"}
    alert = world.alerts(cannot_reach_16)["rpm_16_days_unreachable"]
    assert (alert["state"], alert["priority"]) == ("open", "low")
    evidence = world.conn.execute(
        "SELECT value, details FROM alert_evidence WHERE alert_id = %s", (alert["id"],)
    ).fetchone()
    assert evidence[0] == 0
    assert {k: evidence[1][k] for k in ("data_days", "days_left", "needed")} == {
        "data_days": 0,
        "days_left": 15,
        "needed": 16,
    }


def test_the_alert_stays_one_alert_and_resolves_when_a_new_period_begins(world: World) -> None:
    patient = _monitored(world, 16, [])
    _check(world, NOW)
    _check(world, NOW + timedelta(days=1))  # the same period: the same evidence
    alert = world.alerts(patient)["rpm_16_days_unreachable"]
    assert (alert["state"], alert["count"]) == ("open", 1)
    _check(world, NOW + timedelta(days=15, hours=12))  # early in the next period: 29 or 30 days ahead
    assert world.alerts(patient)["rpm_16_days_unreachable"]["state"] == "auto_resolved"
