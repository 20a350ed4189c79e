"""`rpm billing export|evaluate|claims|audit|metrics`.

`export` writes a month's activity from the database; `evaluate` decides the codes from such a file alone,
so an auditor can re-run the decision. `claims`, `audit` and `metrics` take either a file (`--input`) or the
database (`--practice` and `--month`). Invalid input exits 2 with one line naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from rpmctl.errors import CommandError

if TYPE_CHECKING:
    from careteam_api.billing.model import MonthInput, MonthResult


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", type=Path, help="a file written by `rpm billing export` (no database needed)"
    )
    parser.add_argument("--practice", help="practice id or exact name (reads the database)")
    parser.add_argument("--month", help="YYYY-MM (with --practice)")
    parser.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")
    parser.add_argument(
        "--payment", action="append", default=[], metavar="CODE=USD", help="override a payment"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    exp = sub.add_parser("export", help="write a month's billing input (JSON) from the database")
    exp.add_argument("file", type=Path, help="where to write; - for standard output")
    exp.add_argument("--practice", required=True, help="practice id or exact name")
    exp.add_argument("--month", required=True, help="YYYY-MM")
    exp.add_argument("--setup-min-data-days", type=int, default=None, help="99453 data days (default 2)")
    exp.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")
    ev = sub.add_parser("evaluate", help="print the codes of a billing input file as JSON")
    ev.add_argument("file", type=Path, help="a billing input file; - for standard input")
    claims = sub.add_parser("claims", help="the month's claims as CSV")
    _source_options(claims)
    claims.add_argument("--out", type=Path, help="default: standard output")
    audit = sub.add_parser("audit", help="one patient's month: every minute traced, consent, care plan")
    _source_options(audit)
    audit.add_argument("--patient", required=True, help="patient id or MRN")
    metrics = sub.add_parser("metrics", help="enrolment, engagement, thresholds reached, revenue by code")
    _source_options(metrics)


def _database_url(args: argparse.Namespace) -> str:
    if getattr(args, "database_url", None):
        return str(args.database_url)
    from rpmctl.services.endpoints import resolve
    from rpmctl.services.layout import StateLayout

    return resolve(StateLayout.from_environment()).database_url


def _read_input(path: Path) -> MonthInput:
    from pydantic import ValidationError

    from careteam_api.billing.model import MonthInput

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}", exit_code=2) from exc
    try:
        return MonthInput.model_validate_json(text)
    except ValidationError as exc:
        raise CommandError(f"{path}: {_first_error(exc)}", exit_code=2) from exc


def _first_error(exc: Exception) -> str:
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    errors = exc.errors()
    first = errors[0]
    where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in first["loc"]).replace(".[", "[")
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"{where or 'file'}: {message}{more}"


def _export(args: argparse.Namespace) -> MonthInput:
    import psycopg

    from careteam_api.billing.export import build_month_input
    from careteam_api.billing.model import MonthInput
    from careteam_api.billing.rules import BillingRules
    from careteam_api.program.errors import NotFound
    from careteam_api.program.patients import find_practice

    if not args.practice or not args.month:
        raise CommandError("give --input FILE, or --practice and --month", exit_code=2)
    try:
        MonthInput(month=args.month, patients=[])
    except ValueError as exc:
        raise CommandError(f"--month: {_first_error(exc)}", exit_code=2) from exc
    overrides = {}
    if getattr(args, "setup_min_data_days", None) is not None:
        overrides["setup_min_data_days"] = args.setup_min_data_days
    try:
        with psycopg.connect(_database_url(args)) as conn:
            practice = find_practice(conn, args.practice)
            return build_month_input(conn, practice, args.month, BillingRules(**overrides))
    except NotFound as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    except psycopg.OperationalError as exc:
        raise CommandError(
            f"cannot reach the database: {exc}".strip(), fix="start it with `rpm services up`"
        ) from exc


def _month(args: argparse.Namespace) -> MonthInput:
    month = _read_input(args.input) if args.input else _export(args)
    if not args.payment:
        return month
    payments = dict(month.rules.payments)
    for item in args.payment:
        code, _, amount = item.partition("=")
        try:
            payments[code.strip()] = Decimal(amount)
        except InvalidOperation as exc:
            raise CommandError(
                f"--payment {item!r}: expected CODE=USD, like 99490=66.00", exit_code=2
            ) from exc
    return month.model_copy(update={"rules": month.rules.model_copy(update={"payments": payments})})


def _evaluate(month: MonthInput) -> MonthResult:
    from careteam_api.billing.engine import evaluate

    return evaluate(month)


def run(args: argparse.Namespace) -> int:
    if args.action == "export":
        month = _export(args)
        text = month.model_dump_json(indent=2, exclude_none=True)
        if str(args.file) == "-":
            print(text)
        else:
            args.file.write_text(text + "\n", encoding="utf-8")
            print(f"wrote {len(month.patients)} patients of {month.month} to {args.file}", file=sys.stderr)
        return 0
    if args.action == "evaluate":
        print(_evaluate(_read_input(args.file)).model_dump_json(indent=2))
        return 0
    month = _month(args)
    result = _evaluate(month)
    if args.action == "claims":
        from careteam_api.billing.reports import claims_csv

        text = claims_csv(month, result)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0
    if args.action == "audit":
        from careteam_api.billing.reports import audit_report

        matches = [p.id for p in month.patients if args.patient in (p.id, p.mrn)]
        if len(matches) != 1:
            raise CommandError(
                f"no single patient with id or MRN {args.patient!r} in {month.month}", exit_code=2
            )
        print(audit_report(month, result, matches[0]).model_dump_json(indent=2))
        return 0
    from careteam_api.billing.reports import program_metrics

    print(json.dumps(program_metrics(month, result).model_dump(mode="json"), indent=2))
    return 0
