"""A GLS glucometer: numbered records, Measurement Context, and the Record Access Control Point.

RACP requests are answered the way GLS meters do: records are notified on 0x2A18 (and 0x2A34 when a context
exists), then a response code is indicated on the RACP. A write before the RACP indication is enabled gets
ATT 0x81; a second request while one runs gets ATT 0x80. Faults: `Faults.drop_link_after_notifications` cuts
a transfer, `garbage_records` garbles the next records, `Faults.response_delay` and `record_interval_s` slow
it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from gateway.ble.codec.errors import DecodeError
from gateway.ble.codec.glucose import (
    GlucoseLocation,
    GlucoseMeasurement,
    GlucoseSensorStatus,
    GlucoseType,
    GlucoseUnit,
    encode_glucose_measurement,
)
from gateway.ble.codec.glucose_context import GlucoseContext, Meal, encode_glucose_context
from gateway.ble.codec.racp import (
    RacpOpcode,
    RacpOperator,
    RacpRecordCount,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    decode_racp,
    encode_racp,
)
from simulators.ble import AttError
from simulators.devices.base import (
    ATT_CCCD_IMPROPERLY_CONFIGURED,
    ATT_PROCEDURE_ALREADY_IN_PROGRESS,
    ProfiledDevice,
)

KG_PER_L_PER_MG_DL = 1e-5
"""1 mg/dL = 10^-5 kg/L (GLS sends kg/L for mg/dL meters)."""


@dataclass
class GlucoseRecord:
    sequence: int
    measurement: GlucoseMeasurement
    context: GlucoseContext | None
    taken_at: datetime


class SimGlucometer(ProfiledDevice):
    def __init__(self, *args: object, record_interval_s: float = 0.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.records: list[GlucoseRecord] = []
        self.next_sequence = 1
        self.record_interval_s = record_interval_s
        self.transfers = 0
        self._transfer: asyncio.Task[None] | None = None

    @property
    def context_uuid(self) -> str | None:
        return self.profile.measurements[0].context_characteristic

    @property
    def racp_uuid(self) -> str:
        assert self.profile.records.racp_characteristic is not None
        return self.profile.records.racp_characteristic

    def has_records(self) -> bool:
        return bool(self.records)

    def measure(
        self,
        mg_dl: float,
        *,
        at: datetime | None = None,
        meal: Meal | None = None,
        control_solution: bool = False,
        status: GlucoseSensorStatus | None = None,
    ) -> GlucoseRecord:
        """Take a blood (or control-solution) test; it gets the next sequence number."""
        taken = at if at is not None else self.clock.sim.wallclock()
        sequence = self.next_sequence
        self.next_sequence += 1
        has_context = meal is not None and self.context_uuid is not None
        measurement = GlucoseMeasurement(
            sequence,
            self.stamp(taken),
            GlucoseUnit.KG_PER_L,
            None,
            round(mg_dl * KG_PER_L_PER_MG_DL, 8),
            GlucoseType.CONTROL_SOLUTION if control_solution else GlucoseType.CAPILLARY_PLASMA,
            GlucoseLocation.CONTROL_SOLUTION if control_solution else GlucoseLocation.FINGER,
            status,
            has_context,
        )
        context = GlucoseContext(sequence, meal=meal) if has_context else None
        record = GlucoseRecord(sequence, measurement, context, taken)
        self.records.append(record)
        self.start_advertising()
        return record

    # firmware

    async def on_connect(self) -> None:
        if self.faults.send_before_subscribe and self.records:
            # before connect() returns on the hub side: nobody can be subscribed yet, the value is lost
            await self._send_records(self.records[-1:])

    def on_write(self, uuid: str, data: bytes) -> None:
        if uuid != self.racp_uuid:
            return super().on_write(uuid, data)  # type: ignore[return-value]
        link = self.link
        if link is None or uuid not in link.subscriptions:
            raise AttError(ATT_CCCD_IMPROPERLY_CONFIGURED)
        try:
            request = decode_racp(data)
        except DecodeError:
            self._respond_later(data[0] if data else 0, RacpResponseCode.INVALID_OPERAND)
            return None
        if not isinstance(request, RacpRequest):
            self._respond_later(data[0], RacpResponseCode.OPCODE_NOT_SUPPORTED)
            return None
        if request.opcode is RacpOpcode.ABORT_OPERATION:
            if self._transfer is not None:
                self._transfer.cancel()
            self._respond_later(request.opcode, RacpResponseCode.SUCCESS)
            return None
        if self._transfer is not None and not self._transfer.done():
            raise AttError(ATT_PROCEDURE_ALREADY_IN_PROGRESS)
        self._transfer = self.spawn(self._serve(request), name="racp")
        return None

    def _select(self, request: RacpRequest) -> list[GlucoseRecord] | None:
        op = request.operator
        if op is RacpOperator.ALL_RECORDS:
            return list(self.records)
        if op is RacpOperator.FIRST_RECORD:
            return self.records[:1]
        if op is RacpOperator.LAST_RECORD:
            return self.records[-1:]
        low = request.minimum if isinstance(request.minimum, int) else None
        high = request.maximum if isinstance(request.maximum, int) else None
        if op is RacpOperator.GREATER_THAN_OR_EQUAL_TO and low is not None:
            return [r for r in self.records if r.sequence >= low]
        if op is RacpOperator.LESS_THAN_OR_EQUAL_TO and high is not None:
            return [r for r in self.records if r.sequence <= high]
        if op is RacpOperator.WITHIN_RANGE_OF and low is not None and high is not None:
            return [r for r in self.records if low <= r.sequence <= high]
        return None

    async def _serve(self, request: RacpRequest) -> None:
        selected = self._select(request)
        if selected is None:
            await self._respond(request.opcode, RacpResponseCode.OPERATOR_NOT_SUPPORTED)
            return
        if request.opcode is RacpOpcode.REPORT_NUMBER_OF_STORED_RECORDS:
            await self.notify(self.racp_uuid, encode_racp(RacpRecordCount(len(selected))))
            return
        if not selected:
            await self._respond(request.opcode, RacpResponseCode.NO_RECORDS_FOUND)
            return
        if request.opcode is RacpOpcode.DELETE_STORED_RECORDS:
            doomed = {r.sequence for r in selected}
            self.records = [r for r in self.records if r.sequence not in doomed]
            await self._respond(request.opcode, RacpResponseCode.SUCCESS)
            return
        self.transfers += 1
        await self._send_records(selected)
        await self._respond(request.opcode, RacpResponseCode.SUCCESS)

    async def _send_records(self, records: list[GlucoseRecord]) -> None:
        for record in records:
            if self.record_interval_s > 0:
                await self.air.clock.sleep(self.record_interval_s)
            await self.notify(
                self.measurement_uuid, self.on_air(encode_glucose_measurement(record.measurement))
            )
            if record.context is not None and self.context_uuid is not None:
                await self.notify(self.context_uuid, encode_glucose_context(record.context))

    async def _respond(self, opcode: int, code: RacpResponseCode) -> None:
        await self.notify(self.racp_uuid, encode_racp(RacpResponse(RacpOpcode(opcode), code)))

    def _respond_later(self, opcode: int, code: RacpResponseCode) -> None:
        self.spawn(self._respond(opcode, code), name="racp-response")
