"""`rpm patients import FILE --practice P`: load a panel from CSV or FHIR R4 and report CCM eligibility.

Exit 0 when every row loaded, 1 when some were rejected (the good ones are loaded all the same),
2 when the file or the practice is unusable.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rpmctl.errors import CommandError

if TYPE_CHECKING:
    from careteam_api.program.importing.loader import ImportReport


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="load patients and chronic conditions from CSV or a FHIR R4 Bundle")
    imp.add_argument("file", type=Path, help="a .csv panel or a FHIR R4 Bundle (JSON)")
    imp.add_argument("--practice", required=True, help="practice id or exact name")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")


def _database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    from rpmctl.services.endpoints import resolve
    from rpmctl.services.layout import StateLayout

    return resolve(StateLayout.from_environment()).database_url


def run(args: argparse.Namespace) -> int:
    import psycopg

    from careteam_api.program.errors import ImportFileError, NotFound
    from careteam_api.program.importing.loader import load, parse_file
    from careteam_api.program.patients import find_practice

    try:
        with psycopg.connect(_database_url(args)) as conn:
            practice = find_practice(conn, args.practice)
            parsed = parse_file(args.file, default_timezone=practice.timezone, today=date.today())
            report = load(conn, practice, parsed)
    except NotFound as exc:
        raise CommandError(
            str(exc), fix="list practices in the database, or create it first", exit_code=2
        ) from exc
    except ImportFileError as exc:
        raise CommandError(
            str(exc), fix="see `rpm patients import --help` for the formats", exit_code=2
        ) from exc
    except psycopg.OperationalError as exc:
        raise CommandError(
            f"cannot reach the database: {exc}".strip(), fix="start it with `rpm services up`"
        ) from exc
    print(_as_json(report) if args.json else _as_text(report))
    return 1 if report.rejected else 0


def _as_text(report: ImportReport) -> str:
    lines = [
        f"loaded {len(report.loaded)} patients ({report.count('created')} new,"
        f" {report.count('updated')} updated, {report.count('unchanged')} unchanged);"
        f" rejected {len(report.rejected)}",
        f"CCM-eligible: {len(report.eligible)} of {len(report.loaded)}",
    ]
    lines += [f"  MRN {i.mrn} {i.name}: {i.eligibility.explain()}" for i in report.loaded]
    if report.rejected:
        lines.append("rejected:")
        lines += [f"  {r.where}: {r.reason}" for r in report.rejected]
    return "\n".join(lines)


def _as_json(report: ImportReport) -> str:
    return json.dumps(
        {
            "loaded": [
                {
                    "where": i.where,
                    "mrn": i.mrn,
                    "name": i.name,
                    "outcome": i.outcome,
                    "ccm_eligible": i.eligibility.eligible,
                    "qualifying_conditions": [c.icd10 for c in i.eligibility.qualifying],
                    "not_counted": [{"icd10": c.icd10, "why": why} for c, why in i.eligibility.not_counted],
                }
                for i in report.loaded
            ],
            "rejected": [{"where": r.where, "reason": r.reason} for r in report.rejected],
        },
        indent=2,
    )
