"""The shape of a firmware profile: what one device model does on the air, as data validated at load.

A profile answers the questions the session code would otherwise answer with `if model == ...`: how to
recognise the model, which characteristic carries its measurements and how (notify or indicate), what to do
with its clock, how to get stored records, how to bond, whether it hangs up by itself, and which quirks it has
(each with the source that documents it). Golden and corrupt byte cases travel with the profile, so a model is
never added without proof that the codec reads it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from broker.contract.readings import ReadingKind
from gateway.ble.codec.errors import UnknownCharacteristicError
from gateway.ble.codec.registry import lookup

BLUETOOTH_BASE_UUID = "0000{:04x}-0000-1000-8000-00805f9b34fb"
"""A 16-bit SIG UUID is shorthand for this 128-bit form (Core spec Vol 3 Part B 2.5.1); bleak reports it."""

_SHORT_UUID = re.compile(r"(?:0x)?([0-9a-fA-F]{4})")
_FULL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PROFILE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

MAX_TRANSFER_TIMEOUT_S = 600.0
"""A meter holds at most a few thousand records, sent at ~20 per second: ten minutes bounds any transfer."""


def normalize_uuid(value: str) -> str:
    """`2A35`, `0x2A35` or a 128-bit UUID -> bleak's lower-case 128-bit form."""
    text = value.strip()
    short = _SHORT_UUID.fullmatch(text)
    if short is not None:
        return BLUETOOTH_BASE_UUID.format(int(short.group(1), 16))
    if _FULL_UUID.fullmatch(text) is None:
        raise ValueError(f"{value!r} is not a UUID; write 2A35, 0x2A35 or a 128-bit UUID")
    return text.lower()


def _codec_uuid(value: str) -> str:
    """A characteristic the codec can decode (the session never parses bytes itself)."""
    uuid = normalize_uuid(value)
    try:
        lookup(uuid)
    except UnknownCharacteristicError as exc:
        raise ValueError(f"{value!r} has no decoder in gateway.ble.codec ({exc})") from None
    return uuid


Uuid = Annotated[str, AfterValidator(normalize_uuid)]
CodecUuid = Annotated[str, AfterValidator(_codec_uuid)]


def _profile_id(value: str) -> str:
    if _PROFILE_ID.fullmatch(value) is None:
        raise ValueError("profile id is lower-case letters, digits and dashes, at most 64 ('and-ua-651ble')")
    return value


def _hex(value: str) -> str:
    try:
        bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{value!r} is not hex bytes (e.g. '1e 78 00')") from None
    return value


HexBytes = Annotated[str, AfterValidator(_hex)]


class _Strict(BaseModel):
    """Unknown keys are typos: refusing them beats silently ignoring a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Recognition(_Strict):
    """How a scan result is recognised as this model; the most specific evidence wins (see `ProfileSet`)."""

    name_prefixes: tuple[str, ...] = ()
    service_uuids: tuple[Uuid, ...] = ()
    manufacturer_ids: tuple[Annotated[int, Field(ge=0, le=0xFFFF)], ...] = ()

    @model_validator(mode="after")
    def _some_evidence(self) -> Recognition:
        if not (self.name_prefixes or self.service_uuids or self.manufacturer_ids):
            raise ValueError("give at least one of name_prefixes, service_uuids, manufacturer_ids")
        if any(not prefix for prefix in self.name_prefixes):
            raise ValueError("an empty name prefix would match every device")
        return self


class Measurement(_Strict):
    """One measurement characteristic the hub subscribes to."""

    kind: ReadingKind
    service: Uuid
    characteristic: CodecUuid
    mode: Literal["notify", "indicate"]
    context_characteristic: CodecUuid | None = Field(
        default=None, description="Glucose Measurement Context 0x2A34, paired to its record by sequence."
    )


class ClockMode(StrEnum):
    WRITE_ON_CONNECT = "write_on_connect"
    """The hub writes its time (device-local) every session; the device wants it (A&D) or syncs (Omron)."""
    READ_ONLY = "read_only"
    """The hub reads the device clock to estimate the offset but never sets it (meters)."""
    NONE = "none"
    """The device exposes no clock; time stamps (if any) are taken as they come."""


class Clock(_Strict):
    mode: ClockMode
    characteristic: CodecUuid | None = Field(
        default=None, description="Current Time 0x2A2B or Date Time 0x2A08."
    )
    readable: bool = Field(default=True, description="Read before writing: the offset stored records carry.")
    offset_from_live_measurement: bool = Field(
        default=False,
        description="The device sends a reading right after taking it, so its time stamp versus the receive "
        "time estimates the clock offset when the clock cannot be read.",
    )
    ignore_write_error: bool = Field(
        default=False,
        description="The device answers the time write with an ATT error and applies it anyway.",
    )

    @model_validator(mode="after")
    def _characteristic_when_used(self) -> Clock:
        if self.mode is not ClockMode.NONE and self.characteristic is None:
            raise ValueError(f"clock mode {self.mode.value} needs characteristic (2A2B or 2A08)")
        if self.characteristic is not None and self.characteristic not in (
            normalize_uuid("2A2B"),
            normalize_uuid("2A08"),
        ):
            raise ValueError("clock characteristic must be Current Time 2A2B or Date Time 2A08")
        return self


class RecordStrategy(StrEnum):
    RACP_SINCE_LAST = "racp_since_last"
    """RACP "report records with sequence >= last seen + 1" (first contact: all records)."""
    DEVICE_PUSHES = "device_pushes"
    """The device sends the stored records it has not sent yet on its own once subscribed."""
    LATEST_ONLY = "latest_only"
    """The device sends only its latest measurement; older ones are not retrievable."""


class Records(_Strict):
    strategy: RecordStrategy
    racp_characteristic: CodecUuid | None = None
    delete_after_transfer: bool = Field(
        default=False, description="RACP delete of the delivered records (after the sink stored them)."
    )
    transfer_timeout_s: float = Field(default=30.0, gt=0, le=MAX_TRANSFER_TIMEOUT_S)
    device_waits_for_clock: bool = Field(
        default=False, description="The device sends its records only after the hub wrote its clock."
    )

    @model_validator(mode="after")
    def _racp_needs_control_point(self) -> Records:
        if self.strategy is RecordStrategy.RACP_SINCE_LAST and self.racp_characteristic is None:
            raise ValueError("strategy racp_since_last needs racp_characteristic (2A52)")
        if self.strategy is not RecordStrategy.RACP_SINCE_LAST and self.delete_after_transfer:
            raise ValueError("delete_after_transfer needs strategy racp_since_last")
        return self


class BondingMode(StrEnum):
    NONE = "none"
    JUST_WORKS = "just_works"
    PASSKEY = "passkey"
    """The device shows a PIN that the operator enters at the hub (the hub's passkey agent)."""


class Bonding(_Strict):
    mode: BondingMode
    pairable_only_with_records: bool = Field(
        default=False, description="The device refuses pairing until it holds at least one measurement."
    )


class LinkBehaviour(_Strict):
    device_disconnects_after_sending: bool = False
    idle_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_TRANSFER_TIMEOUT_S,
        description="With nothing left to ask, how long to wait for pushed values before hanging up.",
    )


class Quirk(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    description: str = Field(min_length=1)
    source: str = Field(min_length=1, description="Where the behaviour is documented.")
    modelled: bool = Field(default=True, description="False: known, but the hub does not handle it (yet).")


class GoldenCase(_Strict):
    """Bytes this model sends, with the canonical values the codec must produce (`rpm decode` fields)."""

    characteristic: CodecUuid
    hex: HexBytes
    expect: dict[str, Any] = Field(min_length=1)


class CorruptCase(_Strict):
    """Bytes the codec must refuse with a `DecodeError` (truncated, impossible date, ...)."""

    characteristic: CodecUuid
    hex: HexBytes
    reason: str = Field(min_length=1)


class DeviceInformationDefaults(_Strict):
    """What the simulated model reports in Device Information; the hub reads the real device's."""

    manufacturer: str = Field(min_length=1)
    model_number: str = Field(min_length=1)
    firmware: str | None = None


class Profile(_Strict):
    """One device model."""

    id: Annotated[str, AfterValidator(_profile_id)]
    model: str = Field(min_length=1, max_length=64)
    manufacturer: str = Field(min_length=1, max_length=64)
    kinds: tuple[ReadingKind, ...] = Field(min_length=1)
    recognition: Recognition
    measurements: tuple[Measurement, ...] = Field(min_length=1)
    clock: Clock
    records: Records
    bonding: Bonding
    link: LinkBehaviour = LinkBehaviour()
    battery: bool = Field(default=True, description="The device has Battery Level 0x2A19.")
    device_information: DeviceInformationDefaults
    quirks: tuple[Quirk, ...] = ()
    golden: tuple[GoldenCase, ...] = Field(min_length=1)
    corrupt: tuple[CorruptCase, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        measured = {m.kind for m in self.measurements}
        if measured != set(self.kinds):
            raise ValueError(
                f"kinds {sorted(self.kinds)} must equal the measurements' kinds {sorted(measured)}"
            )
        characteristics = {m.characteristic for m in self.measurements} | {
            m.context_characteristic for m in self.measurements if m.context_characteristic is not None
        }
        for case in self.golden:
            if case.characteristic not in characteristics:
                raise ValueError(f"golden case for {case.characteristic} is not one of the measurements")
        if not characteristics & {case.characteristic for case in self.corrupt}:
            raise ValueError("at least one corrupt case must target a measurement characteristic")
        ids = [q.id for q in self.quirks]
        if len(ids) != len(set(ids)):
            raise ValueError("quirk ids must be unique")
        return self

    def measurement_for(self, characteristic: str) -> Measurement | None:
        for measurement in self.measurements:
            if measurement.characteristic == characteristic:
                return measurement
        return None
