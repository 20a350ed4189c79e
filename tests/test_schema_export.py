"""`rpm schema export DIR`: one deterministic JSON Schema file per message."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from broker import cli
from broker.contract import MESSAGE_TYPES, SCHEMA_VERSION
from broker.schema_export import export_schemas, message_schema, render, schema_file_name
from broker.topics import Channel
from rpmctl.errors import CommandError
from rpmctl.main import main

EXPECTED_FILES = {
    "reading-batch.v1.json": "ReadingBatch",
    "hub-status.v1.json": "HubStatus",
    "hub-event.v1.json": "HubEvent",
    "hub-config.v1.json": "HubConfig",
}


def test_export_writes_one_loadable_schema_per_message(tmp_path: Path) -> None:
    out = tmp_path / "new" / "schemas"
    written = export_schemas(out)
    assert sorted(p.name for p in written) == sorted(EXPECTED_FILES)
    for name, title in EXPECTED_FILES.items():
        text = (out / name).read_text(encoding="utf-8")
        assert text.endswith("}\n")
        schema = json.loads(text)
        assert schema["title"] == title
        assert schema["x-schema-version"] == SCHEMA_VERSION
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert "schema" in schema["required"]
        assert "default" not in schema["properties"]["schema"]


def test_export_is_deterministic(tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in export_schemas(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in export_schemas(tmp_path / "b")}
    assert first == second
    assert not list((tmp_path / "a").glob(".*"))


@pytest.mark.parametrize("channel", list(Channel), ids=str)
def test_rendered_schema_has_sorted_keys(channel: Channel) -> None:
    schema = message_schema(channel)
    assert (
        render(schema)
        == json.dumps(json.loads(render(schema)), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    assert schema["title"] == MESSAGE_TYPES[channel].__name__
    assert schema["x-topic"] == f"rpm/v1/hubs/{{hub_id}}/{channel}"


def test_reading_schema_documents_the_discriminator_and_limits() -> None:
    schema = message_schema(Channel.READINGS)
    readings = schema["properties"]["readings"]
    assert readings["maxItems"] == 500
    assert readings["items"]["discriminator"]["propertyName"] == "kind"
    assert schema["properties"]["hub_id"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
    assert "control_solution" not in json.dumps(schema)


def test_file_names_carry_the_major_version() -> None:
    assert [schema_file_name(c) for c in Channel] == list(EXPECTED_FILES)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rpm schema")
    cli.configure(parser)
    return parser.parse_args(argv)


def test_cli_export_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_parse("export", str(tmp_path / "out"))) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(EXPECTED_FILES)
    assert "wrote " in capsys.readouterr().out


def test_cli_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    target.write_text("not a directory")
    with pytest.raises(CommandError) as caught:
        cli.run(_parse("export", str(target)))
    assert "is not a directory" in str(caught.value)
    assert caught.value.fix
    assert caught.value.exit_code == 2


def test_cli_needs_an_action() -> None:
    with pytest.raises(SystemExit):
        _parse()


def test_rpm_console_script_runs_the_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "export", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.v1.json"))) == len(EXPECTED_FILES)
    (tmp_path / "file").write_text("x")
    assert main(["schema", "export", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert "rpm schema: cannot export schemas" in err
    assert "fix: " in err
