"""`rpm db migrate`."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    mig = sub.add_parser("migrate", help="apply the migrations that have not been applied (idempotent)")
    mig.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's database")


def run(args: argparse.Namespace) -> int:
    import psycopg

    from database.migrate import MigrationError, migrate
    from rpmctl.errors import CommandError
    from rpmctl.services.endpoints import resolve
    from rpmctl.services.layout import StateLayout

    url = args.database_url or resolve(StateLayout.from_environment()).database_url
    try:
        result = migrate(url)
    except MigrationError as exc:
        raise CommandError(str(exc), fix="see the migration named above") from exc
    except psycopg.OperationalError as exc:
        raise CommandError(
            f"cannot reach the database: {exc}".strip(),
            fix="start it with `rpm services up`, or check RPM_DATABASE_URL",
        ) from exc
    for migration in result.applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print(f"database is up to date ({len(result.applied)} applied now, {result.already} before)")
    return 0
