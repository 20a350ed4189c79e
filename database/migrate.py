"""Apply the ordered SQL files in `database/migrations/` exactly once each.

Files are named `NNNN_name.sql`. Each runs in its own transaction and is recorded with a
checksum in `schema_migrations`; an applied file that was edited afterwards is refused, because
the database would no longer match the code. An advisory lock lets several processes run
`migrate` at once (the first applies, the others wait and find nothing to do).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

# Any fixed number works; it only has to be the same for every process that migrates.
MIGRATION_LOCK_KEY = 0x52504D_0001
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration could not be applied or the recorded history does not match the files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The packaged migrations, in order; refuses gaps and duplicate numbers."""
    found: list[Migration] = []
    for entry in resources.files("database").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
            continue
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migrations must be numbered 1, 2, 3...: expected {expected:04d}, found "
                f"{migration.version:04d}_{migration.name}.sql"
            )
    return found


@dataclass(frozen=True)
class MigrationResult:
    applied: list[Migration]
    already: int


def migrate(conninfo: str) -> MigrationResult:
    """Bring the database at `conninfo` up to date."""
    migrations = load_migrations()
    applied: list[Migration] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            recorded = {
                row[0]: (row[1], row[2])
                for row in conn.execute("SELECT version, name, checksum FROM schema_migrations")
            }
            for migration in migrations:
                if migration.version in recorded:
                    _name, checksum = recorded[migration.version]
                    if checksum != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version:04d}_{migration.name}.sql was changed after "
                            "it was applied; add a new migration instead of editing an applied one"
                        )
                    continue
                try:
                    with conn.transaction():
                        conn.execute(migration.sql)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name}.sql failed: {exc}"
                    ) from exc
                applied.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return MigrationResult(applied=applied, already=len(migrations) - len(applied))
