"""`rpm schema`: work with the wire contract from the command line.

`rpm schema export DIR` writes the JSON Schema of every message, e.g. for a non-Python consumer or to diff
the contract in review.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the `schema` subcommands; nothing heavy is imported here."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write one JSON Schema file per message (reading-batch.v1.json, ...) into DIR",
        description="Write one JSON Schema file per message into DIR, creating it if needed.",
    )
    export.add_argument("directory", metavar="DIR", type=Path, help="output directory")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; failures become `CommandError`s that say how to fix them."""
    from broker.schema_export import export_schemas
    from rpmctl.errors import CommandError

    if args.action != "export":  # argparse only lets declared actions through
        raise CommandError(f"unknown action {args.action!r}", fix="run `rpm schema --help`", exit_code=2)
    directory: Path = args.directory
    try:
        written = export_schemas(directory)
    except NotADirectoryError as exc:
        raise CommandError(
            f"cannot export schemas: {directory} is not a directory",
            fix="pass a directory path (it is created if missing), or move the file out of the way",
            exit_code=2,
        ) from exc
    except OSError as exc:
        raise CommandError(
            f"cannot write schemas to {directory}: {exc.strerror or exc}",
            fix="check that the directory is writable, or choose another one",
        ) from exc
    for path in written:
        print(f"wrote {path}")
    return 0
