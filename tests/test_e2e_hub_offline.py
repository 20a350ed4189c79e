"""A hub that was offline for a day, end to end: while its hub is stopped, the home's cuff and meter record a
day of readings; when the hub starts again it collects and uploads them, `rpm ingest run` stores each exactly
once, and the alert engine evaluates them (a crisis and a severe low among them become critical alerts in the
care team's queue). The hub going offline and coming back is seen too: its last status is `online: false`
while stopped, and a fresh online status follows its return.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from broker.admin.accounts import BrokerAdmin
from rpmctl.services.endpoints import Endpoints
from simulators.home.spec import Measurement
from tests.e2e_support import (
    WAIT_S,
    RunningHome,
    Stack,
    assign_devices,
    create_clinic,
    enroll_patient,
    identity,
    measure_while_hub_stopped,
    provision_hub,
    readings_of,
    rows,
    running_stack,
    spec_for,
    wait_for_readings,
)
from tests.test_home_support import CUFF, METER, METER_PIN
from tests.test_ingest_support import wait_for

pytestmark = pytest.mark.services

CRISIS = Measurement(systolic=184, diastolic=122, pulse=96)
SEVERE_LOW = Measurement(mg_dl=48, meal="fasting")
TOLERANCE_S = 1.5
"""Device clocks are corrected to within a second (tests/test_home_e2e.py); a reading is matched to the record
it came from by its time within this margin."""


def _offline_day(now: datetime) -> list[tuple[str, datetime, Measurement]]:
    """A day without a hub: the cuff every 2 h (one crisis among them), the meter every 4 h (a severe low)."""
    day: list[tuple[str, datetime, Measurement]] = []
    for n in range(12):
        at = now - timedelta(hours=24) + timedelta(hours=2 * n, minutes=7)
        values = CRISIS if n == 6 else Measurement(systolic=126 + n % 4, diastolic=80, pulse=70)
        day.append((CUFF, at, values))
    for n in range(6):
        at = now - timedelta(hours=23) + timedelta(hours=4 * n)
        day.append((METER, at, SEVERE_LOW if n == 3 else Measurement(mg_dl=104 + 3 * n, meal="fasting")))
    return day


def _status(url: str, hub_id: str) -> tuple[bool | None, datetime]:
    """The hub's last status as ingest stored it: (online, sent at); (None, the epoch) before the first."""
    found = rows(url, "SELECT online, sent_at FROM hub_status WHERE hub_id = %s", (hub_id,))
    return (found[0][0], found[0][1]) if found else (None, datetime.min.replace(tzinfo=UTC))


@pytest.fixture(scope="module")
def stack(services: Endpoints, mqtt_url: str) -> Iterator[Stack]:
    with running_stack(services, mqtt_url) as running:
        yield running


def test_a_day_of_readings_held_while_the_hub_was_stopped_arrives_once_and_is_evaluated(
    stack: Stack, broker_admin: BrokerAdmin, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = stack.database_url
    clinic = create_clinic(stack, "offline")
    hub = provision_hub(broker_admin, stack.services, tmp_path_factory.mktemp("hubs"))
    tag = uuid.uuid4().hex[:8]
    devices = [identity(CUFF, f"E2E-BP-{tag}"), identity(METER, f"E2E-GL-{tag}")]
    patient_id = enroll_patient(stack, clinic, hub.hub_id, devices)
    spec = spec_for(devices, **{METER: {"passkey": METER_PIN}})

    # The hub runs: pairs with both devices, sets their clocks and delivers a first reading of each.
    with RunningHome(hub, spec) as home:
        assign_devices(stack.services, hub.hub_id, devices)
        home.configured(1)
        home.take(CUFF, systolic=128, diastolic=82, pulse=68)
        home.take(METER, mg_dl=112, meal="fasting")
        first = {r[0] for r in wait_for_readings(url, patient_id, 2)}
    wait_for(lambda: _status(url, hub.hub_id)[0] is False, "the hub's offline status", WAIT_S)
    _, stopped_at = _status(url, hub.hub_id)

    # A day passes without the hub; the devices keep recording.
    day = _offline_day(datetime.now(UTC))
    records = measure_while_hub_stopped(hub, spec, day)

    # The hub starts again and delivers the backlog.
    expected = 2 + len(records)
    with RunningHome(hub, spec):
        wait_for_readings(url, patient_id, expected)
        wait_for(lambda: _online_after(url, hub.hub_id, stopped_at), "the hub's online status", WAIT_S)
        wait_for(lambda: len(_critical(url, patient_id)) >= 2, "the backlog's critical alerts", WAIT_S)
    # Every reading exactly once: one row per reading id, one reading id per device record.
    stored = readings_of(url, patient_id)
    assert len(stored) == expected, [r[1] for r in stored]
    assert max(Counter(r[0] for r in stored).values()) == 1
    assert {r[6:] for r in stored} == {("ble", hub.hub_id)}
    backlog = [r for r in stored if r[0] not in first]
    assert len(backlog) == len(records)
    for record, (_address, at, values) in zip(records, sorted(day, key=lambda d: d[1]), strict=True):
        assert record.taken_at == at
        (match,) = [r for r in backlog if abs((r[1] - at).total_seconds()) < TOLERANCE_S]
        if values.systolic is not None:
            assert (match[2], match[3], match[4]) == ("blood_pressure", values.systolic, values.diastolic)
        else:
            assert match[2] == "glucose"
            assert match[5] == pytest.approx(values.mg_dl)
    counts = rows(
        url,
        "SELECT (SELECT count(*) FROM dead_letters), (SELECT count(*) FROM parked_readings)",
    )
    assert counts == [(0, 0)]

    # Evaluated: the crisis and the severe low are critical alerts whose evidence is those readings.
    (crisis_row,) = [r for r in stored if r[3] == CRISIS.systolic]
    (low_row,) = [r for r in stored if r[5] is not None and r[5] == pytest.approx(SEVERE_LOW.mg_dl)]
    alerts = _critical(url, patient_id)
    assert alerts["bp_crisis"] == {str(crisis_row[0])}
    assert alerts["glucose_hypo_level2"] == {str(low_row[0])}
    queue = clinic.get("/alerts", patient_id=str(patient_id), priority="critical")
    assert queue.status_code == 200, queue.text
    assert {a["rule"] for a in queue.json()["items"]} == {"bp_crisis", "glucose_hypo_level2"}


def _online_after(url: str, hub_id: str, since: datetime) -> bool:
    online, sent_at = _status(url, hub_id)
    return online is True and sent_at > since


def _critical(url: str, patient_id: uuid.UUID) -> dict[str, set[str]]:
    """Critical alerts of the patient: rule -> evidence keys."""
    found: dict[str, set[str]] = {}
    for rule, key in rows(
        url,
        "SELECT a.rule, e.evidence_key FROM alerts a JOIN alert_evidence e USING (alert_id)"
        " WHERE a.patient_id = %s AND a.priority = 'critical'",
        (patient_id,),
    ):
        found.setdefault(rule, set()).add(key)
    return found
