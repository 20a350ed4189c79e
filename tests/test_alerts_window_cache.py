"""The alert engine's kept readings windows (alerts.window_cache) against the window read whole: the same
readings through rounds of new, late, future and tied readings; what a warm entry does not see and when it
is read whole again; eviction; and the ingest transaction bound the cache relies on."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from alerts.loader import LOOKBACK, load_readings
from alerts.readings import VALUE_COLUMNS, Readings
from alerts.runner import FRESH_MARGIN
from alerts.window_cache import SETTLE, WindowCache
from ingest import db as ingest_db
from tests.test_alerts_scenarios import NOW, World
from tests.test_alerts_scenarios import world as world  # the fixture


def _same(kept: Readings, whole: Readings) -> None:
    assert kept.n_patients == whole.n_patients
    for name in ("seg", "t", "ingested", "ids", "kind", "flags"):
        assert np.array_equal(getattr(kept, name), getattr(whole, name)), name
    for name in VALUE_COLUMNS:
        assert np.array_equal(kept.raw[name], whole.raw[name], equal_nan=True), name


def _read_both(world: World, cache: WindowCache, patients: list[uuid.UUID], until: datetime) -> Readings:
    with world.conn.transaction():
        kept = cache.read(world.conn, patients, until)
        whole = load_readings(world.conn, patients, until)
    _same(kept, whole)
    return kept


def _random_reading(world: World, rng: random.Random, patient: uuid.UUID, now_hours: float) -> None:
    """A reading as ingest stores them (ingested now), measured recently, late (an outage's backlog, up to
    the window's start and before it), in the future, or tied in time with another."""
    hours_ago = rng.choice(
        [
            now_hours + rng.uniform(0, 2),
            now_hours + rng.uniform(0, LOOKBACK / timedelta(hours=1) + 24),
            now_hours - rng.uniform(0, 12),
            now_hours + 1.0,
        ]
    )
    kind = rng.choice(["blood_pressure", "glucose", "weight"])
    values = {
        "blood_pressure": {"systolic": rng.randint(90, 200), "diastolic": rng.randint(50, 89)},
        "glucose": {"glucose": rng.randint(40, 300)},
        "weight": {"weight": round(rng.uniform(60, 120), 1)},
    }[kind]
    world.reading(patient, hours_ago, kind, ingested=datetime.now(UTC), **values)


def test_kept_windows_hold_exactly_the_readings_of_a_whole_read(world: World) -> None:
    rng = random.Random(20261127)
    patients = [world.patient() for _ in range(6)]
    cache = WindowCache()
    for hours in range(0, 48, 4):  # the window slides forward: older readings leave it
        for _ in range(rng.randint(0, 12)):
            _random_reading(world, rng, rng.choice(patients), -hours)
        batch = rng.sample(patients, rng.randint(1, len(patients)))
        _read_both(world, cache, batch, NOW + timedelta(hours=hours))
    kept = _read_both(world, cache, patients, NOW + timedelta(hours=48))
    assert len(kept) > 20
    assert len(cache) == len(patients)


def test_a_warm_entry_reads_only_what_was_ingested_since_and_is_read_whole_again_later(world: World) -> None:
    patient = world.patient()
    world.reading(patient, 1, "weight", ingested=datetime.now(UTC), weight=80.0)
    clock = [0.0]
    cache = WindowCache(monotonic=lambda: clock[0])
    with world.conn.transaction():
        assert len(cache.read(world.conn, [patient], NOW)) == 1
    # Written behind ingest's back: stamped as ingested long before the entry was read.
    world.reading(patient, 2, "weight", ingested=datetime.now(UTC) - 2 * SETTLE, weight=81.0)
    world.reading(patient, 3, "weight", ingested=datetime.now(UTC), weight=82.0)
    with world.conn.transaction():
        warm = cache.read(world.conn, [patient], NOW)
    assert sorted(warm.raw["weight"]) == [80.0, 82.0]
    clock[0] += 31 * 60  # past REFRESH_AFTER
    _read_both(world, cache, [patient], NOW)


def test_no_patients_read_nothing(world: World) -> None:
    with world.conn.transaction():
        readings = WindowCache().read(world.conn, [], NOW)
    assert (len(readings), readings.n_patients) == (0, 0)


def test_the_least_recently_read_patients_leave_first(world: World) -> None:
    a, b, c = (world.patient() for _ in range(3))
    cache = WindowCache(max_patients=2)
    with world.conn.transaction():
        cache.read(world.conn, [a], NOW)
        cache.read(world.conn, [b], NOW)
        cache.read(world.conn, [a], NOW)
        cache.read(world.conn, [c], NOW)
    assert len(cache) == 2
    world.reading(b, 1, "weight", ingested=datetime.now(UTC) - 2 * SETTLE, weight=80.0)
    world.reading(a, 1, "weight", ingested=datetime.now(UTC) - 2 * SETTLE, weight=80.0)
    with world.conn.transaction():
        assert len(cache.read(world.conn, [a], NOW)) == 0  # still kept: the backdated row is not asked for
        assert len(cache.read(world.conn, [b], NOW)) == 1  # evicted: read whole, sees the backdated row


def test_ingest_transactions_end_before_the_cache_settles(scratch_database_url: str) -> None:
    assert SETTLE > ingest_db.TRANSACTION_TIMEOUT
    assert FRESH_MARGIN > ingest_db.TRANSACTION_TIMEOUT
    with ingest_db.connect(scratch_database_url, "ingest-test") as conn:
        (setting,) = conn.execute("SHOW transaction_timeout").fetchone()
        assert setting == "5min"
        conn.execute("SET transaction_timeout = '200ms'")  # the server enforces it: shown on a short one
        with pytest.raises(psycopg.errors.TransactionTimeout), conn.transaction():
            conn.execute("SELECT pg_sleep(1)")
