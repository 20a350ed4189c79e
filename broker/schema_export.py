"""JSON Schema documents of the wire contract, for people and for non-Python consumers.

Output is deterministic (sorted keys, fixed indentation, newline at the end), so the exported files can be
committed and a contract change shows up as a reviewable diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from broker.contract.codec import MESSAGE_TYPES
from broker.contract.version import SCHEMA_MAJOR, SCHEMA_VERSION
from broker.topics import TOPIC_PREFIX, Channel

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""Pydantic v2 generates JSON Schema draft 2020-12."""

FILE_STEMS: dict[Channel, str] = {
    Channel.READINGS: "reading-batch",
    Channel.STATUS: "hub-status",
    Channel.EVENTS: "hub-event",
    Channel.CONFIG: "hub-config",
}
"""File name (without version and extension) of each channel's message schema."""


def schema_file_name(channel: Channel) -> str:
    """E.g. `reading-batch.v1.json`: one file per message and MAJOR version."""
    return f"{FILE_STEMS[channel]}.v{SCHEMA_MAJOR}.json"


def message_schema(channel: Channel) -> dict[str, Any]:
    """The JSON Schema of the message on `channel`, annotated with its topic and contract version."""
    schema = MESSAGE_TYPES[channel].model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_file_name(channel),
        "x-topic": f"{TOPIC_PREFIX}/{{hub_id}}/{channel}",
        "x-schema-version": SCHEMA_VERSION,
        **schema,
    }


def render(schema: dict[str, Any]) -> str:
    """Serialise deterministically: the same contract always gives the same bytes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    """Write next to the target and rename, so a reader never sees half a schema."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_schemas(directory: Path) -> list[Path]:
    """Write one schema file per message into `directory` (created if missing); return the paths written.

    Raises `NotADirectoryError` when `directory` exists and is not a directory, and other `OSError`s as the
    file system reports them.
    """
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for channel in Channel:
        path = directory / schema_file_name(channel)
        _write_atomically(path, render(message_schema(channel)))
        written.append(path)
    return written
