"""Contract-valid hub traffic of one simulated home: readings of its cuff, meter and scale, and statuses.

Values follow a per-home baseline with day-to-day noise, so a fleet looks like a population: systolic
baselines of 105-165 mmHg (a hypertension programme's spread), glucose around a fasting baseline of
85-180 mg/dL with higher post-meal values, weight 50-140 kg drifting by grams a day. Every value lies inside
`broker.plausibility`'s possible ranges. Payloads are built as JSON text directly, which is what makes a
fleet cheap to run; `tests/test_fleet.py` validates them with the contract.

Reading ids follow the contract's identity strategy (sequence number and raw device time), and the device
time is the wall clock at microsecond precision, so repeated runs over the same hubs never reuse an id.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from typing import Any

from broker.contract import SCHEMA_VERSION, reading_id_for, reading_identity

KIND_WEIGHTS = (("blood_pressure", 0.6), ("glucose", 0.25), ("weight", 0.15))
"""Share of each kind in a fleet's readings: RPM programmes are mostly hypertension, then diabetes and heart
failure (daily weights)."""

SOFTWARE_VERSION = "fleet-sim"

DEVICES = {
    "blood_pressure": ("BP", "UA-651BLE", "and-ua-651ble"),
    "glucose": ("GL", "Accu-Chek Guide", "accu-chek-guide"),
    "weight": ("WT", "UC-352BLE", "and-uc-352ble"),
}
"""Per kind: the device id suffix, model and firmware profile of a home's device."""


def device_id_for(hub_id: str, kind: str) -> str:
    """The stable id of the home's device of `kind` (benchmarks assign these to patients)."""
    return f"{hub_id}-{DEVICES[kind][0]}"


def _iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class Home:
    """One home's baseline and device counters; `seed` makes its values reproducible."""

    hub_id: str
    seed: int = 0
    sequences: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = random.Random(f"{self.hub_id}/{self.seed}")
        self._rng = rng
        self.systolic = rng.uniform(105, 165)
        self.diastolic = self.systolic * rng.uniform(0.55, 0.68)
        self.pulse = rng.uniform(58, 92)
        self.fasting_glucose = rng.uniform(85, 180)
        self.weight_kg = rng.uniform(50, 140)
        self.height_m = rng.uniform(1.5, 1.95)
        kinds, weights = zip(*KIND_WEIGHTS, strict=True)
        self._kinds, self._weights = kinds, weights

    def reading(self, now: dt.datetime | None = None, kind: str | None = None) -> dict[str, Any]:
        """One reading as the hub sends it, measured a few seconds to minutes before `now`."""
        rng = self._rng
        now = now or dt.datetime.now(dt.UTC)
        kind = kind or rng.choices(self._kinds, self._weights)[0]
        suffix, model, profile = DEVICES[kind]
        device_id = f"{self.hub_id}-{suffix}"
        sequence = self.sequences.get(kind, 0) + 1
        self.sequences[kind] = sequence
        measured_at = now - dt.timedelta(seconds=rng.uniform(2, 120))
        device_time = measured_at.replace(tzinfo=None)
        identity = reading_identity(sequence=sequence, device_time=device_time)
        reading: dict[str, Any] = {
            "kind": kind,
            "reading_id": str(reading_id_for(device_id, kind, identity)),
            "device": {"device_id": device_id, "model": model, "profile": profile},
            "measured_at": _iso(measured_at),
            "device_time": device_time.isoformat(),
            "time_source": "device_raw",
            "received_at": _iso(now),
            "sequence": sequence,
        }
        reading.update(self._values(kind))
        return reading

    def _values(self, kind: str) -> dict[str, Any]:
        rng = self._rng
        if kind == "blood_pressure":
            systolic = round(self.systolic + rng.gauss(0, 8))
            diastolic = min(round(self.diastolic + rng.gauss(0, 5)), systolic - 15)
            return {
                "systolic_mmhg": float(systolic),
                "diastolic_mmhg": float(diastolic),
                "mean_arterial_mmhg": round(diastolic + (systolic - diastolic) / 3, 1),
                "pulse_bpm": float(round(self.pulse + rng.gauss(0, 6))),
                "device_unit": "mmHg",
            }
        if kind == "glucose":
            meal = rng.choice(("fasting", "preprandial", "postprandial", "bedtime"))
            rise = rng.uniform(30, 90) if meal == "postprandial" else rng.uniform(-10, 20)
            return {
                "glucose_mg_dl": round(min(max(self.fasting_glucose + rise + rng.gauss(0, 10), 40), 500), 1),
                "device_unit": "mg/dL",
                "specimen": "capillary_whole_blood",
                "sample_location": "finger",
                "meal": meal,
            }
        self.weight_kg += rng.gauss(0, 0.05)
        weight = round(self.weight_kg + rng.gauss(0, 0.3), 1)
        return {
            "weight_kg": weight,
            "bmi": round(weight / (self.height_m * self.height_m), 1),
            "height_m": round(self.height_m, 3),
            "device_unit": "kg",
        }

    def batch(self, readings: list[dict[str, Any]], now: dt.datetime | None = None) -> bytes:
        """The payload of `rpm/v1/hubs/<hub>/readings` carrying `readings`."""
        document = {
            "schema": SCHEMA_VERSION,
            "hub_id": self.hub_id,
            "sent_at": _iso(now or dt.datetime.now(dt.UTC)),
            "readings": readings,
        }
        return json.dumps(document, separators=(",", ":")).encode()

    def status(self, uptime_s: int, outbox_depth: int = 0, now: dt.datetime | None = None) -> bytes:
        """The payload of `rpm/v1/hubs/<hub>/status`: online, with its devices' battery and signal."""
        rng = self._rng
        now = now or dt.datetime.now(dt.UTC)
        devices = [
            {
                "device_id": device_id_for(self.hub_id, kind),
                "battery_pct": rng.randint(20, 100),
                "rssi_dbm": rng.randint(-90, -45),
                "last_seen": _iso(now - dt.timedelta(minutes=rng.randint(1, 600))),
            }
            for kind in DEVICES
        ]
        document = {
            "schema": SCHEMA_VERSION,
            "hub_id": self.hub_id,
            "online": True,
            "sent_at": _iso(now),
            "software_version": SOFTWARE_VERSION,
            "uptime_s": uptime_s,
            "outbox_depth": outbox_depth,
            "devices": devices,
        }
        return json.dumps(document, separators=(",", ":")).encode()
