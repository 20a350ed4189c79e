"""The devices file of a simulated home (`--devices spec.toml`), validated by pydantic.

```toml
timezone = "America/New_York"        # what device clocks show; default: the hub's zone

[[devices]]
profile = "omron-bp7250"             # a firmware profile id: decides the simulated model
address = "C0:00:00:00:00:01"
serial = "SN-BP-1"
clock_offset_s = -300                # device clock minus true time
drift_ppm = 20
garbage_records = 2                  # the next 2 records it sends go out as undecodable bytes
readings = [{ minutes_ago = 180, systolic = 128, diastolic = 82, pulse = 71 }]
series = { count = 20, every_minutes = 720, seed = 1 }   # generated history, oldest first
schedule = [{ after_s = 30, systolic = 141, diastolic = 92 }]  # measurements while the home runs
```

Relative times (`minutes_ago`, series) are resolved once, at the home's first start, and remembered with the
device's memory: a restarted home must present the same records, or re-read records would get new ids.
"""

from __future__ import annotations

import random
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from broker.contract.fields import UtcDatetime
from broker.contract.readings import ReadingKind

MEALS: Final = ("preprandial", "postprandial", "fasting", "casual", "bedtime")
"""Meal context names of the Glucose Measurement Context (GLS 0x2A34), as `GlucoseContext.meal` labels."""

TYPICAL: Final = {
    ReadingKind.BLOOD_PRESSURE: {"systolic": (132.0, 9.0), "diastolic": (84.0, 6.0), "pulse": (72.0, 6.0)},
    ReadingKind.GLUCOSE: {"mg_dl": (118.0, 22.0)},
    ReadingKind.WEIGHT: {"weight_kg": (82.0, 0.6)},
}
"""Mean and spread of generated series: an adult with treated hypertension, type 2 diabetes, overweight."""


class Measurement(BaseModel):
    """The values of one measurement; which ones are needed depends on what the device measures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    systolic: float | None = Field(default=None, gt=0, lt=400)
    diastolic: float | None = Field(default=None, gt=0, lt=400)
    pulse: float | None = Field(default=None, gt=0, lt=300)
    mg_dl: float | None = Field(default=None, gt=0, lt=2000)
    meal: str | None = None
    control_solution: bool = False
    weight_kg: float | None = Field(default=None, gt=0, lt=650)

    @field_validator("meal")
    @classmethod
    def _meal(cls, value: str | None) -> str | None:
        if value is not None and value not in MEALS:
            raise ValueError(f"meal must be one of {', '.join(MEALS)}")
        return value

    def check(self, kind: ReadingKind) -> Measurement:
        """Raise `ValueError` unless the values fit a device measuring `kind`."""
        needed = {
            ReadingKind.BLOOD_PRESSURE: ("systolic", "diastolic"),
            ReadingKind.GLUCOSE: ("mg_dl",),
            ReadingKind.WEIGHT: ("weight_kg",),
        }[kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {kind.value} measurement needs {', '.join(missing)}")
        return self


class StoredReading(Measurement):
    """A reading already in the device's memory when the home starts."""

    at: UtcDatetime | None = None
    minutes_ago: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_time(self) -> StoredReading:
        if (self.at is None) == (self.minutes_ago is None):
            raise ValueError("give exactly one of `at` (UTC time) or `minutes_ago`")
        return self

    def taken_at(self, start: datetime) -> datetime:
        return self.at if self.at is not None else start - timedelta(minutes=self.minutes_ago or 0.0)


class Series(BaseModel):
    """`count` generated readings `every_minutes` apart, the newest `newest_minutes_ago` before start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(ge=1, le=10_000)
    every_minutes: float = Field(default=720.0, gt=0)
    newest_minutes_ago: float = Field(default=60.0, ge=0)
    seed: int = 0

    def generate(self, kind: ReadingKind, start: datetime) -> list[tuple[datetime, Measurement]]:
        """Oldest first; the same seed gives the same values."""
        rng = random.Random(self.seed)
        out = []
        for i in range(self.count):
            minutes = self.newest_minutes_ago + (self.count - 1 - i) * self.every_minutes
            values = {name: round(rng.gauss(mean, sd), 1) for name, (mean, sd) in TYPICAL[kind].items()}
            if kind is ReadingKind.BLOOD_PRESSURE:
                values = {name: float(round(v)) for name, v in values.items()}
            out.append((start - timedelta(minutes=minutes), Measurement(**values)))
        return out


class Scheduled(Measurement):
    """A measurement the simulated patient takes `after_s` seconds after the home first started."""

    after_s: float = Field(ge=0)


class DeviceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    address: str = Field(pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
    serial: str = Field(min_length=1, max_length=64)
    name: str | None = None
    passkey: int | None = Field(default=123456, ge=0, le=999_999)
    battery_pct: int = Field(default=80, ge=0, le=100)
    clock_offset_s: float = 0.0
    drift_ppm: float = Field(default=0.0, ge=-1000, le=1000)
    record_interval_s: float = Field(default=0.0, ge=0, le=10)
    """Meters only: pause between records of a transfer (slow meters; lets a test stop a hub mid-transfer)."""
    garbage_records: int = Field(default=0, ge=0, le=10_000, strict=True)
    """The next N measurement records the device sends go out as bytes no decoder accepts (a corrupted
    transfer): the hub must record each as a decode error with its raw bytes and keep going. Counted from
    the home's first start; what is left is kept with the device's memory, so a restart does not re-arm it."""
    readings: tuple[StoredReading, ...] = ()
    series: Series | None = None
    schedule: tuple[Scheduled, ...] = ()

    @field_validator("address")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class HomeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = None
    devices: tuple[DeviceSpec, ...] = ()

    @field_validator("devices")
    @classmethod
    def _unique(cls, devices: tuple[DeviceSpec, ...]) -> tuple[DeviceSpec, ...]:
        addresses = [d.address for d in devices]
        duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
        if duplicates:
            raise ValueError(f"address used twice: {', '.join(duplicates)}")
        return devices


class SpecError(ValueError):
    """The devices file is missing or invalid; the message names the field."""


def load_spec(path: Path) -> HomeSpec:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return HomeSpec.model_validate(raw)
    except FileNotFoundError:
        raise SpecError(f"devices file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"devices file {path} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise SpecError(f"devices file {path}: {problems}") from None
