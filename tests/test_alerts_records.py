"""The readings window as binary records (alerts.records, through alerts.loader) against the same rows read
plainly: every kind, missing values, a value outside its kind, quality flags and meals, readings tied in time,
the window's edges and patients not asked for."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest

from alerts.errors import LoadError
from alerts.loader import LOOKBACK, load_readings
from alerts.readings import (
    FASTING_MEALS,
    FLAG_FASTING,
    FLAG_IMPOSSIBLE,
    FLAG_PULSE_DOUBTFUL,
    IMPOSSIBLE_QUALITY_FLAGS,
    KIND_CODES,
    VALUE_COLUMNS,
)
from alerts.records import segments
from tests.test_alerts_scenarios import NOW, World
from tests.test_alerts_scenarios import world as world  # the fixture

_COLUMNS = "systolic_mmhg, diastolic_mmhg, pulse_bpm, glucose_mg_dl, weight_kg"


def _expected(world: World, patients: list[uuid.UUID]) -> dict[str, np.ndarray]:
    """The window of `patients` read row by row, in the canonical order (patient, time, reading id)."""
    rows = world.conn.execute(
        "SELECT patient_id, (date_part('epoch', measured_at) * 1000)::int8,"
        " (date_part('epoch', ingested_at) * 1000)::int8, reading_id, kind, quality_flags, meal,"
        f" {_COLUMNS} FROM readings WHERE patient_id = ANY(%s) AND measured_at > %s AND measured_at <= %s",
        (patients, NOW - LOOKBACK, NOW),
    ).fetchall()
    rows.sort(key=lambda r: (patients.index(r[0]), r[1], r[3].bytes))

    def flags(quality: list[str], meal: str | None) -> int:
        return (
            (FLAG_IMPOSSIBLE if set(quality) & set(IMPOSSIBLE_QUALITY_FLAGS) else 0)
            | (FLAG_PULSE_DOUBTFUL if "pulse_implausible" in quality else 0)
            | (FLAG_FASTING if meal in FASTING_MEALS else 0)
        )

    return {
        "seg": np.array([patients.index(r[0]) for r in rows]),
        "t": np.array([r[1] for r in rows]),
        "ingested": np.array([r[2] for r in rows]),
        "ids": np.array([r[3].bytes for r in rows], dtype="V16"),
        "kind": np.array([KIND_CODES[r[4]] for r in rows]),
        "flags": np.array([flags(r[5], r[6]) for r in rows]),
    } | {
        name: np.array([np.nan if r[7 + i] is None else r[7 + i] for r in rows], dtype=np.float64)
        for i, name in enumerate(VALUE_COLUMNS)
    }


def test_the_binary_window_holds_exactly_the_rows_of_the_window(world: World) -> None:
    a, b, elsewhere = world.patient(), world.patient(), world.patient()
    world.reading(a, 1, "blood_pressure", systolic=121.0, diastolic=79.0, pulse=70.0)
    world.reading(a, 2, "blood_pressure", systolic=118.5, diastolic=76.0)  # no pulse
    world.reading(a, 3, "blood_pressure", flags=("pulse_implausible",), systolic=130, diastolic=85, pulse=250)
    world.reading(a, 4, "blood_pressure", flags=("systolic_impossible",), systolic=320.0, diastolic=130.0)
    world.reading(a, 5, "glucose", meal="preprandial", glucose=95.0)
    world.reading(a, 6, "glucose", meal="postprandial", glucose=181.0)
    world.reading(a, 7, "weight", weight=80.45)
    world.reading(a, 8, "weight", meal="fasting", flags=("weight_impossible",), weight=0.0)
    world.reading(a, 9, "blood_pressure", systolic=140.0, diastolic=90.0, glucose=99.0)  # a value of glucose
    world.reading(a, 10, "glucose", glucose=70.0, pulse=64.0)  # a pulse on a glucose reading
    for _ in range(3):  # tied in time: ordered by reading id
        world.reading(a, 11, "weight", weight=81.0)
    world.reading(a, LOOKBACK / timedelta(hours=1) + 1, "weight", weight=82.0)  # before the window
    world.reading(a, -1, "weight", weight=83.0)  # after it
    world.reading(b, 0.5, "glucose", glucose=49.0)
    world.reading(b, 30, "blood_pressure", systolic=150.0, diastolic=95.0, pulse=88.0)
    world.reading(elsewhere, 1, "glucose", glucose=100.0)
    patients = [b, a]  # any order: segment i is patients[i]

    with world.conn.transaction():
        loaded = load_readings(world.conn, patients, NOW)
    expected = _expected(world, patients)
    assert len(loaded) == 15
    for name in ("seg", "t", "ingested", "ids", "kind", "flags"):
        assert np.array_equal(getattr(loaded, name), expected[name]), name
    for name in VALUE_COLUMNS:
        assert np.array_equal(loaded.raw[name], expected[name], equal_nan=True), name


def test_an_empty_window_loads_no_readings(world: World) -> None:
    with world.conn.transaction():
        loaded = load_readings(world.conn, [world.patient()], NOW)
    assert (len(loaded), loaded.n_patients) == (0, 1)


def test_segments_compare_both_halves_of_a_patient_id() -> None:
    first_half = 0x1234_5678_9ABC_DEF0 << 64
    twins = [uuid.UUID(int=first_half | low) for low in (7, 3, 5)]  # the same first 64 bits
    other = uuid.UUID(int=1 << 64)
    asked = [*twins, other]
    records = np.array([p.bytes for p in (twins[2], other, twins[0], twins[1], twins[2])], dtype="V16")
    assert segments(records, asked).tolist() == [2, 3, 0, 1, 2]
    stranger = np.array([uuid.UUID(int=first_half | 4).bytes], dtype="V16")
    with pytest.raises(LoadError, match="not asked for"):
        segments(stranger, asked)
