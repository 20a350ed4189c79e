"""The hub's local settings: one TOML file written by `rpm broker add-hub`, validated at start.

Only what the hub needs before it can reach the broker lives here (identity, credentials, paths, logging,
time zone, local disk budget). What the cloud decides (devices, scan and upload settings) arrives on the
retained config topic instead, so changing it never means editing files on a box in a patient's home.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from broker.errors import TopicError
from broker.topics import validate_hub_id
from gateway.backoff import DEFAULT_RECONNECT_BASE_S, DEFAULT_RECONNECT_CAP_S
from gateway.errors import SettingsError

MQTTS_DEFAULT_PORT = 8883
"""IANA port of MQTT over TLS, used when the URL names none."""

DEFAULT_OUTBOX_MAX_BYTES = 256 * 1024 * 1024
"""Payload bytes the outbox may hold. A reading is ~600 B, so 256 MiB is ~400,000 readings: years of a
household's readings even if none were ever sent. SQLite's pages and indexes add up to about as much again,
so the database stays under ~0.5 GiB, a small share of the 8 GB SD card of the smallest supported box."""

MIN_OUTBOX_MAX_BYTES = 16 * 1024
"""Room for a few dozen readings: smaller limits exist only to test the full-disk policy."""

MAX_PASSKEY = 999_999
"""BLE passkey entry exchanges a number of at most six decimal digits (Core spec, Vol 3 Part H 2.3.5.3)."""

_ADDRESS = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2}){5}")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]


class HubSettings(BaseModel):
    """The validated hub file; paths are absolute (resolved against the file's directory)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hub_id: str
    broker_url: str
    username: str = Field(min_length=1)
    password: SecretStr
    ca_file: Path
    cert_file: Path
    key_file: Path
    state_dir: Path
    log_level: LogLevel = "INFO"
    timezone: str | None = Field(
        default=None, description="IANA zone of the home (device clocks show local time); None = system's."
    )
    outbox_max_bytes: int = Field(default=DEFAULT_OUTBOX_MAX_BYTES, ge=MIN_OUTBOX_MAX_BYTES)
    reconnect_base_s: PositiveSeconds = DEFAULT_RECONNECT_BASE_S
    reconnect_cap_s: PositiveSeconds = DEFAULT_RECONNECT_CAP_S
    passkeys: dict[str, int] = Field(
        default_factory=dict,
        description="`[passkeys]` table: BLE address -> the 6-digit PIN the device shows (passkey bonding).",
    )

    @field_validator("hub_id")
    @classmethod
    def _hub_id(cls, value: str) -> str:
        try:
            return validate_hub_id(value)
        except TopicError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        """Hubs reach the broker over the Internet: TLS only, and credentials belong in their own fields."""
        parts = urlsplit(value)
        if parts.scheme != "mqtts":
            raise ValueError(f"must start with mqtts:// (hubs connect over TLS only), got {value!r}")
        if not parts.hostname:
            raise ValueError(f"names no host: {value!r}")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use the username and password fields")
        try:
            parts.port  # noqa: B018 - urlsplit validates the port lazily
        except ValueError as exc:
            raise ValueError(f"has an invalid port: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as 'America/Chicago')"
            ) from None
        return value

    @field_validator("passkeys")
    @classmethod
    def _passkeys(cls, value: dict[str, int]) -> dict[str, int]:
        """Addresses are compared upper-case (as bleak reports them); a PIN has at most six digits."""
        pins: dict[str, int] = {}
        for address, pin in value.items():
            if not _ADDRESS.fullmatch(address.upper()):
                raise ValueError(f"{address!r} is not a Bluetooth address like 'AA:BB:CC:DD:EE:FF'")
            if not 0 <= pin <= MAX_PASSKEY:
                raise ValueError(f"the PIN of {address} must have at most 6 digits, got {pin}")
            pins[address.upper()] = pin
        return pins

    @property
    def host(self) -> str:
        return urlsplit(self.broker_url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.broker_url).port or MQTTS_DEFAULT_PORT

    def zone(self) -> zoneinfo.ZoneInfo | None:
        """The home's time zone, or None to use the system's local time."""
        return zoneinfo.ZoneInfo(self.timezone) if self.timezone else None

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite3"

    @property
    def devices_path(self) -> Path:
        return self.state_dir / "devices.sqlite3"

    @property
    def config_path(self) -> Path:
        """The last good HubConfig, so a restart without a broker still knows its devices."""
        return self.state_dir / "config.json"


_PATH_FIELDS = ("ca_file", "cert_file", "key_file", "state_dir")
_FILE_FIELDS = ("ca_file", "cert_file", "key_file")


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def load_settings(path: Path) -> HubSettings:
    """Read and validate the hub file; raise `SettingsError` listing every `field: reason`."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(path, ("file not found",), fix="pass the hub.toml of the hub's bundle") from None
    except PermissionError:
        raise SettingsError(path, ("permission denied",), fix="run as the hub's service user") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(path, (f"not valid TOML: {exc}",)) from None
    base = path.resolve().parent
    for name in _PATH_FIELDS:
        if isinstance(raw.get(name), str):
            raw[name] = base / raw[name]
    try:
        settings = HubSettings.model_validate(raw)
    except ValidationError as exc:
        problems = tuple(
            f"{_location(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise SettingsError(path, problems) from None
    missing = tuple(
        f"{name}: file {getattr(settings, name)} does not exist"
        for name in _FILE_FIELDS
        if not getattr(settings, name).is_file()
    )
    if missing:
        raise SettingsError(path, missing, fix="copy the whole bundle written by `rpm broker add-hub`")
    return settings
