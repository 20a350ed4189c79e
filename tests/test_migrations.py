"""`rpm db migrate`: ordered SQL files applied once each, on a real TimescaleDB."""

from __future__ import annotations

import threading

import psycopg
import pytest

from database.migrate import MigrationError, load_migrations, migrate


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_applying_twice_is_clean(scratch_database_url: str) -> None:
    first = migrate(scratch_database_url)
    second = migrate(scratch_database_url)
    assert [m.version for m in first.applied] == [m.version for m in load_migrations()]
    assert second.applied == []
    assert second.already == len(load_migrations())
    with psycopg.connect(scratch_database_url) as conn:
        recorded = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert recorded == (len(load_migrations()),)


def test_readings_is_a_hypertable_on_measured_at(scratch_database_url: str) -> None:
    migrate(scratch_database_url)
    with psycopg.connect(scratch_database_url) as conn:
        row = conn.execute(
            "SELECT column_name FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'"
        ).fetchone()
    assert row == ("measured_at",)


def test_edited_migration_is_refused(scratch_database_url: str) -> None:
    migrate(scratch_database_url)
    with psycopg.connect(scratch_database_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(scratch_database_url)


def test_concurrent_migrate_applies_each_file_once(scratch_database_url: str) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(len(migrate(scratch_database_url).applied))
        except Exception as exc:  # noqa: BLE001 - collected, then asserted empty below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 0, len(load_migrations())]


def test_cli_migrate_reports_up_to_date(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from rpmctl.main import main

    assert main(["db", "migrate", "--database-url", database_url]) == 0
    assert "database is up to date" in capsys.readouterr().out


def test_cli_migrate_unreachable_database_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from rpmctl.main import main

    url = "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2"
    assert main(["db", "migrate", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the database" in err
    assert "rpm services up" in err
