"""Stored-record transfer over the Record Access Control Point (GLS 0x2A52).

The meter answers a request by notifying the records on 0x2A18/0x2A34 and then indicating a response code on
the RACP. The hub must be subscribed to all three before writing (ATT 0x81 otherwise). A meter that stops
sending gets an abort after `idle_timeout` seconds without any record or answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from gateway.ble.codec.errors import DecodeError
from gateway.ble.codec.racp import (
    RacpFilterType,
    RacpOpcode,
    RacpOperator,
    RacpRecordCount,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    abort_operation,
    decode_racp,
    encode_racp,
    report_all_records,
    report_records_from,
)
from gateway.ble.errors import BleError, LinkLostError, RacpError, RacpTimeoutError
from gateway.ble.gatt import GattLink

MAX_SEQUENCE: Final = 0xFFFF
"""Sequence numbers are u16 (GLS)."""

ABORT_TIMEOUT_S: Final = 5.0
"""How long to wait for the meter to confirm an abort before giving up on the connection."""

_DONE_CODES: Final = frozenset({RacpResponseCode.SUCCESS, RacpResponseCode.NO_RECORDS_FOUND})


def delete_records_up_to(sequence: int) -> bytes:
    """`02 02 01 <N u16>`: delete records with sequence <= N (those the hub has stored)."""
    return encode_racp(
        RacpRequest(
            RacpOpcode.DELETE_STORED_RECORDS,
            RacpOperator.LESS_THAN_OR_EQUAL_TO,
            RacpFilterType.SEQUENCE_NUMBER,
            maximum=sequence,
        )
    )


class RacpClient:
    """One meter's control point; feed its indications to `on_indication`."""

    def __init__(
        self,
        link: GattLink,
        uuid: str,
        *,
        disconnected: asyncio.Event,
        activity: Callable[[], int],
    ) -> None:
        self._link = link
        self._uuid = uuid
        self._disconnected = disconnected
        self._activity = activity
        self._answers: asyncio.Queue[RacpResponse | RacpRecordCount] = asyncio.Queue()
        self.malformed: list[bytes] = []

    def on_indication(self, data: bytes) -> None:
        try:
            answer = decode_racp(data)
        except DecodeError:
            self.malformed.append(data)
            return
        if isinstance(answer, RacpResponse | RacpRecordCount):
            self._answers.put_nowait(answer)

    async def report_since(self, last_sequence: int | None, idle_timeout: float) -> RacpResponseCode:
        """Ask for records after `last_sequence` (all on first contact); returns when the meter says done."""
        if last_sequence is None:
            request = report_all_records()
        elif last_sequence >= MAX_SEQUENCE:
            return RacpResponseCode.NO_RECORDS_FOUND
        else:
            request = report_records_from(last_sequence + 1)
        return await self._run(request, RacpOpcode.REPORT_STORED_RECORDS, idle_timeout)

    async def delete_up_to(self, sequence: int, idle_timeout: float) -> RacpResponseCode:
        return await self._run(delete_records_up_to(sequence), RacpOpcode.DELETE_STORED_RECORDS, idle_timeout)

    async def _run(self, request: bytes, opcode: RacpOpcode, idle_timeout: float) -> RacpResponseCode:
        await self._link.write(self._uuid, request)
        response = await self._await_response(opcode, idle_timeout)
        if response.response_code not in _DONE_CODES:
            raise RacpError(
                self._link.address,
                f"meter answered {response.response_code.label} to {opcode.label}",
                int(response.response_code),
            )
        return response.response_code

    async def _await_response(self, opcode: RacpOpcode, idle_timeout: float) -> RacpResponse:
        """Wait for the response code; records arriving meanwhile keep the transfer alive."""
        seen = self._activity()
        while True:
            answer = await self._next_answer(idle_timeout)
            if answer is None:
                now = self._activity()
                if now != seen:
                    seen = now
                    continue
                await self._abort()
                raise RacpTimeoutError(
                    self._link.address, f"no record or answer for {idle_timeout:g} s; aborted"
                )
            if isinstance(answer, RacpResponse) and answer.request_opcode == opcode:
                return answer

    async def _next_answer(self, timeout: float) -> RacpResponse | RacpRecordCount | None:
        get = asyncio.ensure_future(self._answers.get())
        lost = asyncio.ensure_future(self._disconnected.wait())
        try:
            done, _ = await asyncio.wait({get, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (get, lost):
                if not task.done():
                    task.cancel()
        if get in done:
            return get.result()
        if lost in done:
            raise LinkLostError(self._link.address, "stored-record transfer")
        return None

    async def _abort(self) -> None:
        """Best effort: tell the meter to stop; the connection is closed right after anyway."""
        if not self._link.connected:
            return
        try:
            await self._link.write(self._uuid, abort_operation())
            await self._next_answer(ABORT_TIMEOUT_S)
        except BleError:
            return
