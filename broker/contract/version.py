"""Schema versioning of top-level messages: `schema` is "MAJOR.MINOR".

Compatibility rule: a MINOR release only adds optional fields, so an older reader ignores what it does not
know and a newer MINOR of the same MAJOR is accepted. Anything an older reader would reject or misread (a new
reading kind, a new enum value, a renamed or tightened field, a new required field) needs a new MAJOR, which
readers refuse with `UnsupportedSchemaVersion` instead of guessing.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from broker.contract.fields import HubId

SCHEMA_MAJOR = 1
SCHEMA_MINOR = 0
SCHEMA_VERSION = f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}"
"""The version this build writes."""

SCHEMA_PATTERN = r"^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$"
_SCHEMA_RE = re.compile(SCHEMA_PATTERN)

UNSUPPORTED_SCHEMA = "unsupported_schema_version"
"""Error type of a refused MAJOR version, for `broker.contract.codec` to raise `UnsupportedSchemaVersion`."""

WIRE_CONTEXT = {"wire": True}
"""Validation context of payloads read off the wire: there `schema` is required, not defaulted."""


def check_schema_version(value: object) -> str:
    """Return a valid, supported version string or raise a PydanticCustomError saying why not."""
    if not isinstance(value, str) or _SCHEMA_RE.fullmatch(value) is None:
        raise PydanticCustomError(
            "schema_format",
            "schema must be a string 'MAJOR.MINOR' such as {expected}",
            {"expected": SCHEMA_VERSION},
        )
    major = int(value.split(".", 1)[0])
    if major != SCHEMA_MAJOR:
        raise PydanticCustomError(
            UNSUPPORTED_SCHEMA,
            "unsupported schema version {version}: this build understands {major}.x",
            {"version": value, "major": SCHEMA_MAJOR},
        )
    return value


class ContractModel(BaseModel):
    """Base of every model in the contract: immutable, and tolerant of fields added by a newer MINOR."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


_UNSET = ""
"""Placeholder default of `schema`: code-built messages get SCHEMA_VERSION, wire payloads an error."""


def _require_schema(schema: dict[str, Any]) -> None:
    """In the published JSON Schema, `schema` is required and has no default (the wire never omits it)."""
    schema["properties"]["schema"].pop("default", None)
    required = schema.setdefault("required", [])
    if "schema" not in required:
        required.insert(0, "schema")


class VersionedMessage(ContractModel):
    """A top-level message: the payload of one MQTT publish, carrying its schema version and hub id."""

    model_config = ConfigDict(json_schema_extra=_require_schema)

    schema_version: str = Field(
        default=_UNSET,
        alias="schema",
        validate_default=True,
        pattern=SCHEMA_PATTERN,
        description="Contract version 'MAJOR.MINOR' this message follows; readers accept their own MAJOR.",
    )
    hub_id: HubId

    @field_validator("schema_version", mode="before")
    @classmethod
    def _supported_version(cls, value: object, info: ValidationInfo) -> object:
        """Refuse a MAJOR this build does not know; fill in the current version for messages built in code."""
        if value == _UNSET:
            if (info.context or {}).get("wire"):
                raise PydanticCustomError(
                    "schema_missing", f'schema is required, e.g. "schema": "{SCHEMA_VERSION}"'
                )
            return SCHEMA_VERSION
        return check_schema_version(value)
