"""A real write and read of the readings hypertable and its neighbours on our TimescaleDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from database.migrate import migrate


@pytest.fixture
def conn(scratch_database_url: str) -> Iterator[psycopg.Connection]:
    migrate(scratch_database_url)
    with psycopg.connect(scratch_database_url, autocommit=True) as connection:
        yield connection


def _patient_with_device(conn: psycopg.Connection) -> tuple[uuid.UUID, str]:
    practice = conn.execute(
        "INSERT INTO practices (name) VALUES ('Riverside') RETURNING practice_id"
    ).fetchone()[0]
    patient = conn.execute(
        "INSERT INTO patients (practice_id, mrn, given_name, family_name, timezone)"
        " VALUES (%s, 'MRN-1', 'Ada', 'Lovelace', 'America/Chicago') RETURNING patient_id",
        (practice,),
    ).fetchone()[0]
    conn.execute("INSERT INTO hubs (hub_id, practice_id) VALUES ('hub-1', %s)", (practice,))
    conn.execute(
        "INSERT INTO devices (device_id, model, profile, hub_id)"
        " VALUES ('SN-1', 'UA-651BLE', 'and_ua651ble', 'hub-1')"
    )
    conn.execute(
        "INSERT INTO device_assignments (device_id, patient_id, valid)"
        " VALUES ('SN-1', %s, tstzrange(%s, NULL))",
        (patient, datetime(2026, 1, 1, tzinfo=UTC)),
    )
    return patient, "SN-1"


INSERT_BP = (
    "INSERT INTO readings (measured_at, reading_id, patient_id, device_id, hub_id, kind, source,"
    " systolic_mmhg, diastolic_mmhg, pulse_bpm, device_unit, time_source, received_at)"
    " VALUES (%s, %s, %s, %s, 'hub-1', 'blood_pressure', 'ble', %s, %s, %s, 'mmHg', 'device_corrected', %s)"
    " ON CONFLICT DO NOTHING"
)


def test_redelivered_reading_is_stored_once(conn: psycopg.Connection) -> None:
    patient, device = _patient_with_device(conn)
    at = datetime(2026, 3, 2, 13, 40, tzinfo=UTC)
    reading_id = uuid.uuid4()
    for _ in range(3):
        conn.execute(INSERT_BP, (at, reading_id, patient, device, 142.0, 91.0, 72.0, at))
    rows = conn.execute("SELECT systolic_mmhg, diastolic_mmhg FROM readings").fetchall()
    assert rows == [(142.0, 91.0)]


def test_daily_buckets_over_weeks(conn: psycopg.Connection) -> None:
    patient, device = _patient_with_device(conn)
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for day in range(30):
        for hour in (0, 10):
            at = start + timedelta(days=day, hours=hour)
            conn.execute(INSERT_BP, (at, uuid.uuid4(), patient, device, 120.0 + day, 80.0, 70.0, at))
    rows = conn.execute(
        "SELECT time_bucket('1 day', measured_at) AS day, avg(systolic_mmhg), count(*)"
        " FROM readings WHERE patient_id = %s AND kind = 'blood_pressure' GROUP BY day ORDER BY day",
        (patient,),
    ).fetchall()
    assert len(rows) == 30
    assert rows[0][1:] == (120.0, 2)
    assert rows[-1][1:] == (149.0, 2)
    chunks = conn.execute(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'"
    )
    assert chunks.fetchone()[0] >= 2, "30 days in 28-day chunks span at least 2 chunks"


def test_overlapping_assignments_of_one_device_are_refused(conn: psycopg.Connection) -> None:
    patient, device = _patient_with_device(conn)
    with pytest.raises(psycopg.errors.ExclusionViolation):
        conn.execute(
            "INSERT INTO device_assignments (device_id, patient_id, valid)"
            " VALUES (%s, %s, tstzrange(%s, %s))",
            (device, patient, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        )


def test_device_resolves_to_the_patient_assigned_at_measurement_time(conn: psycopg.Connection) -> None:
    patient, device = _patient_with_device(conn)
    query = "SELECT patient_id FROM device_assignments WHERE device_id = %s AND valid @> %s::timestamptz"
    assert conn.execute(query, (device, datetime(2026, 6, 1, tzinfo=UTC))).fetchall() == [(patient,)]
    assert conn.execute(query, (device, datetime(2025, 6, 1, tzinfo=UTC))).fetchall() == []


def test_readings_refuse_an_unknown_kind(conn: psycopg.Connection) -> None:
    patient, device = _patient_with_device(conn)
    at = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            INSERT_BP.replace("'blood_pressure'", "'temperature'"),
            (at, uuid.uuid4(), patient, device, 1, 1, 1, at),
        )
