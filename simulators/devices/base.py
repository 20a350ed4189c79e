"""The part every simulated health device shares, built from its firmware profile.

The GATT table (measurement services, clock, Device Information, battery, RACP), the advertised name and
services, bonding (none / just works / passkey, pairable only with records) and the clock all come from the
same profile the hub uses, so a profile and its simulated device cannot disagree about the basics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from firmware_profiles import BondingMode, ClockMode, Profile, RecordStrategy
from firmware_profiles.schema import normalize_uuid
from gateway.ble.codec.battery import BatteryLevel, encode_battery_level
from gateway.ble.codec.date_time import (
    CURRENT_TIME_UUID,
    DeviceDateTime,
    current_time_for,
    decode_current_time,
    decode_date_time,
    encode_current_time,
    encode_date_time,
)
from gateway.ble.codec.errors import DecodeError
from gateway.ble.codec.registry import decode
from simulators.ble import AttError, Faults, SimCharacteristic, SimService, SimulatedPeripheral
from simulators.devices.clock import DeviceClock

CURRENT_TIME_SERVICE: Final = normalize_uuid("1805")
DEVICE_INFORMATION_SERVICE: Final = normalize_uuid("180A")
BATTERY_SERVICE: Final = normalize_uuid("180F")
ATT_PROCEDURE_ALREADY_IN_PROGRESS: Final = 0x80
"""GLS/CTS application error 0x80: RACP busy, or (some devices) a time write they nonetheless apply."""
ATT_CCCD_IMPROPERLY_CONFIGURED: Final = 0x81


def _dis(profile: Profile, serial: str) -> SimService:
    info = profile.device_information
    strings = {"2A29": info.manufacturer, "2A24": info.model_number, "2A25": serial}
    if info.firmware is not None:
        strings["2A26"] = info.firmware
    return SimService(
        DEVICE_INFORMATION_SERVICE,
        [SimCharacteristic(normalize_uuid(u), ["read"], text.encode()) for u, text in strings.items()],
    )


GARBLE_ATTEMPTS: Final = 1000
"""Draws of the garbler before giving up on finding bytes the decoder refuses (random bytes of a plausible
length often decode: about one draw in three for a cuff's or a scale's record)."""


def undecodable(uuid: str, record: bytes, faults: Faults) -> bytes:
    """Garbage in place of `record` that the codec refuses, so the hub sees a decode error, not a reading
    with random values. Drawn from `faults.garble` and `faults.rng`: the same device garbles the same way."""
    garbage = record
    for _ in range(GARBLE_ATTEMPTS):
        garbage = faults.garble(record, faults.rng)
        try:
            decode(uuid, garbage)
        except DecodeError:
            return garbage
    raise ValueError(f"the garbler kept producing decodable values for {uuid}: {garbage.hex()}")


class ProfiledDevice(SimulatedPeripheral):
    """A SimulatedPeripheral whose table and behaviour come from a `Profile`."""

    def __init__(
        self,
        profile: Profile,
        address: str,
        clock: DeviceClock,
        *,
        serial: str = "SN0001",
        name: str | None = None,
        battery_pct: int = 80,
        passkey: int | None = 123456,
        faults: Faults | None = None,
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.garbage_records = 0
        """The next N measurement records go out as garbage (unlike `Faults.garbage_next`, which hits any
        payload, the hub's Device Information and clock reads included)."""
        self.serial = serial
        prefix = profile.recognition.name_prefixes[0] if profile.recognition.name_prefixes else "SIM-"
        bonding = profile.bonding.mode
        super().__init__(
            address,
            name if name is not None else f"{prefix}{serial}",
            services=self._table(profile, serial, battery_pct),
            advertised_service_uuids=[m.service for m in profile.measurements],
            requires_bonding=bonding is not BondingMode.NONE,
            passkey=passkey if bonding is BondingMode.PASSKEY else None,
            disconnect_after_flush=profile.link.device_disconnects_after_sending,
            faults=faults,
        )

    # the table

    def _table(self, profile: Profile, serial: str, battery_pct: int) -> list[SimService]:
        services: dict[str, SimService] = {}
        for m in profile.measurements:
            service = services.setdefault(m.service, SimService(m.service))
            service.characteristics.append(SimCharacteristic(m.characteristic, [m.mode]))
            if m.context_characteristic is not None:
                service.characteristics.append(SimCharacteristic(m.context_characteristic, ["notify"]))
        first = services[profile.measurements[0].service]
        if profile.records.strategy is RecordStrategy.RACP_SINCE_LAST:
            assert profile.records.racp_characteristic is not None
            first.characteristics.append(
                SimCharacteristic(profile.records.racp_characteristic, ["write", "indicate"])
            )
        clock = profile.clock
        if clock.mode is not ClockMode.NONE and clock.characteristic is not None:
            properties: list = []
            if clock.readable or clock.mode is ClockMode.READ_ONLY:
                properties.append("read")
            if clock.mode is ClockMode.WRITE_ON_CONNECT:
                properties.append("write")
            char = SimCharacteristic(
                clock.characteristic, properties, on_read=self._read_clock, on_write=self._write_clock
            )
            if clock.characteristic == normalize_uuid("2A2B"):
                services.setdefault(
                    CURRENT_TIME_SERVICE, SimService(CURRENT_TIME_SERVICE)
                ).characteristics.append(char)
            else:
                first.characteristics.append(char)
        result: list[SimService] = [*services.values(), _dis(profile, serial)]
        if profile.battery:
            level = encode_battery_level(BatteryLevel(battery_pct))
            result.append(
                SimService(BATTERY_SERVICE, [SimCharacteristic(normalize_uuid("2A19"), ["read"], level)])
            )
        return result

    @property
    def measurement_uuid(self) -> str:
        return self.profile.measurements[0].characteristic

    @property
    def clock_is_current_time(self) -> bool:
        return self.profile.clock.characteristic == normalize_uuid(f"{CURRENT_TIME_UUID:04X}")

    # clock

    def _read_clock(self) -> bytes:
        now = self.clock.now_local()
        if self.clock_is_current_time:
            return encode_current_time(current_time_for(now))
        return encode_date_time(DeviceDateTime.from_datetime(now))

    def _write_clock(self, data: bytes) -> None:
        value = (
            decode_current_time(data).value if self.clock_is_current_time else decode_date_time(data).value
        )
        if value is not None:
            self.clock.set_local(value)
            self.on_clock_written()
        if self.profile.clock.ignore_write_error:
            raise AttError(ATT_PROCEDURE_ALREADY_IN_PROGRESS)

    def on_air(self, record: bytes) -> bytes:
        """What a measurement record goes out as: itself, or garbage while `garbage_records` lasts.

        Garbling here rather than through `Faults.garbage_next` ties the garbage to the record: a record
        that never went out (link gone) leaves no pending garbage behind to spoil an unrelated read later."""
        if self.garbage_records <= 0:
            return record
        self.garbage_records -= 1
        return undecodable(self.measurement_uuid, record, self.faults)

    def on_clock_written(self) -> None:
        """Hook: the hub set the clock (A&D cuffs start sending here)."""

    def stamp(self, at: datetime | None) -> DeviceDateTime:
        """The device's time stamp for a measurement taken at true time `at` (default: now)."""
        true = at if at is not None else self.clock.sim.wallclock()
        return DeviceDateTime.from_datetime(self.clock.local_at(true))

    # bonding

    def has_records(self) -> bool:
        return False

    def check_passkey(self, passkey: int | None) -> bool:
        if self.profile.bonding.pairable_only_with_records and not self.has_records():
            return False
        return super().check_passkey(passkey)  # type: ignore[return-value]
