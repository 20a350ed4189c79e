"""Record Access Control Point (0x2A52): requests the hub writes and the responses the meter indicates.

Both directions decode and encode, because the hub builds requests and reads responses while the simulated
meter does the opposite. Frames: `opcode u8 | operator u8 | [filter type u8 | operand]`. Sequence-number
(filter 0x01) operands are u16; user-facing-time (filter 0x02) operands are Date Time. Other filter types are
refused with a `DecodeError` at offset 2 (a meter answers those with "operand not supported"). Responses
ignore the operator byte (it is always null in the spec; meters that fill it still mean the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import Struct
from typing import ClassVar, Final

from gateway.ble.codec.characteristic import Characteristic
from gateway.ble.codec.codes import CodeEnum
from gateway.ble.codec.date_time import DATE_TIME_SIZE, DeviceDateTime, pack_date_time, read_date_time
from gateway.ble.codec.errors import DecodeError, EncodeError
from gateway.ble.codec.wire import U16, Buffer, check_uint, require, span

RACP_UUID: Final = 0x2A52


class RacpOpcode(CodeEnum):
    REPORT_STORED_RECORDS = 1
    DELETE_STORED_RECORDS = 2
    ABORT_OPERATION = 3
    REPORT_NUMBER_OF_STORED_RECORDS = 4
    NUMBER_OF_STORED_RECORDS_RESPONSE = 5
    RESPONSE_CODE = 6


class RacpOperator(CodeEnum):
    NULL = 0
    ALL_RECORDS = 1
    LESS_THAN_OR_EQUAL_TO = 2
    GREATER_THAN_OR_EQUAL_TO = 3
    WITHIN_RANGE_OF = 4
    FIRST_RECORD = 5
    LAST_RECORD = 6


class RacpFilterType(CodeEnum):
    SEQUENCE_NUMBER = 1
    USER_FACING_TIME = 2


class RacpResponseCode(CodeEnum):
    SUCCESS = 1
    OPCODE_NOT_SUPPORTED = 2
    INVALID_OPERATOR = 3
    OPERATOR_NOT_SUPPORTED = 4
    INVALID_OPERAND = 5
    NO_RECORDS_FOUND = 6
    ABORT_UNSUCCESSFUL = 7
    PROCEDURE_NOT_COMPLETED = 8
    OPERAND_NOT_SUPPORTED = 9


Bound = int | DeviceDateTime
"""A filter bound: a sequence number, or a user-facing time."""


@dataclass(frozen=True, slots=True)
class RacpRequest:
    """A request: `minimum` is set for >= and range, `maximum` for <= and range."""

    kind: ClassVar[str] = "racp"

    opcode: RacpOpcode
    operator: RacpOperator
    filter_type: RacpFilterType | None = None
    minimum: Bound | None = None
    maximum: Bound | None = None
    trailing: bytes = b""


@dataclass(frozen=True, slots=True)
class RacpRecordCount:
    """Number of Stored Records Response (opcode 5)."""

    kind: ClassVar[str] = "racp"

    count: int
    trailing: bytes = b""


@dataclass(frozen=True, slots=True)
class RacpResponse:
    """Response Code (opcode 6): how the request with `request_opcode` ended."""

    kind: ClassVar[str] = "racp"

    request_opcode: RacpOpcode
    response_code: RacpResponseCode
    trailing: bytes = b""

    @property
    def succeeded(self) -> bool:
        return self.response_code == RacpResponseCode.SUCCESS


RacpValue = RacpRequest | RacpRecordCount | RacpResponse

_C: Final = "0x2A52"
_HEAD: Final = Struct("<BB")
_HEAD_SPAN = span(("opcode", 1), ("operator", 1))
_COUNT_SPAN = span(("number_of_records", 2))
_CODE_SPAN = span(("request_opcode", 1), ("response_code", 1))
_FILTER_SPAN = span(("filter_type", 1))
_SEQUENCE_SPANS = {name: span((name, 2)) for name in ("minimum", "maximum")}
_REQUEST_OPCODES: Final = frozenset({1, 2, 4})
_NO_OPERAND: Final = frozenset(
    {RacpOperator.ALL_RECORDS, RacpOperator.FIRST_RECORD, RacpOperator.LAST_RECORD}
)


def _read_bound(data: Buffer, offset: int, filter_type: RacpFilterType, name: str) -> tuple[Bound, int]:
    if filter_type is RacpFilterType.SEQUENCE_NUMBER:
        require(_C, data, offset, _SEQUENCE_SPANS[name])
        return U16.unpack_from(data, offset)[0], offset + 2
    return read_date_time(_C, data, offset, name), offset + DATE_TIME_SIZE


def _decode_request(data: Buffer, opcode: RacpOpcode, operator: int) -> RacpRequest:
    if opcode is RacpOpcode.ABORT_OPERATION:
        return RacpRequest(opcode, RacpOperator(operator), trailing=bytes(data[2:]))
    if not 1 <= operator <= 6:
        raise DecodeError(_C, f"operator {operator} at offset 1 is not valid for {opcode.label}", offset=1)
    op = RacpOperator(operator)
    if op in _NO_OPERAND:
        return RacpRequest(opcode, op, trailing=bytes(data[2:]))
    require(_C, data, 2, _FILTER_SPAN)
    if data[2] not in (1, 2):
        raise DecodeError(
            _C, f"filter type {data[2]} at offset 2 is not supported", offset=2, field="filter_type"
        )
    filter_type = RacpFilterType(data[2])
    minimum = maximum = None
    if op is RacpOperator.LESS_THAN_OR_EQUAL_TO:
        maximum, end = _read_bound(data, 3, filter_type, "maximum")
    elif op is RacpOperator.GREATER_THAN_OR_EQUAL_TO:
        minimum, end = _read_bound(data, 3, filter_type, "minimum")
    else:
        minimum, end = _read_bound(data, 3, filter_type, "minimum")
        maximum, end = _read_bound(data, end, filter_type, "maximum")
    return RacpRequest(opcode, op, filter_type, minimum, maximum, bytes(data[end:]))


def decode_racp(data: Buffer) -> RacpValue:
    """Record Access Control Point 0x2A52, either direction."""
    require(_C, data, 0, _HEAD_SPAN)
    opcode, operator = _HEAD.unpack_from(data, 0)
    if opcode == RacpOpcode.NUMBER_OF_STORED_RECORDS_RESPONSE:
        require(_C, data, 2, _COUNT_SPAN)
        return RacpRecordCount(U16.unpack_from(data, 2)[0], bytes(data[4:]))
    if opcode == RacpOpcode.RESPONSE_CODE:
        require(_C, data, 2, _CODE_SPAN)
        return RacpResponse(RacpOpcode(data[2]), RacpResponseCode(data[3]), bytes(data[4:]))
    if opcode in _REQUEST_OPCODES or opcode == RacpOpcode.ABORT_OPERATION:
        return _decode_request(data, RacpOpcode(opcode), operator)
    raise DecodeError(_C, f"opcode {opcode} at offset 0 is not a RACP opcode", offset=0, field="opcode")


def _pack_bound(bound: Bound | None, filter_type: RacpFilterType, name: str) -> bytes:
    if bound is None:
        raise EncodeError(f"operator needs a {name} bound")
    if filter_type is RacpFilterType.SEQUENCE_NUMBER:
        if not isinstance(bound, int):
            raise EncodeError(f"{name} must be a sequence number for a sequence-number filter")
        return U16.pack(check_uint(bound, 16, name))
    if not isinstance(bound, DeviceDateTime):
        raise EncodeError(f"{name} must be a DeviceDateTime for a user-facing-time filter")
    return pack_date_time(bound)


def _encode_request(value: RacpRequest) -> bytes:
    head = _HEAD.pack(check_uint(value.opcode, 8, "opcode"), check_uint(value.operator, 8, "operator"))
    op = value.operator
    if value.opcode == RacpOpcode.ABORT_OPERATION:
        return head + value.trailing
    if value.opcode not in _REQUEST_OPCODES:
        raise EncodeError(
            f"opcode {value.opcode.label} is not a request; use RacpRecordCount or RacpResponse"
        )
    if not 1 <= op <= 6:
        raise EncodeError(f"operator {op.label} is not valid for {value.opcode.label}")
    if op in _NO_OPERAND:
        return head + value.trailing
    if value.filter_type is None or value.filter_type.is_reserved:
        raise EncodeError(f"operator {op.label} needs filter_type sequence_number or user_facing_time")
    body = bytes([value.filter_type])
    if op in (RacpOperator.GREATER_THAN_OR_EQUAL_TO, RacpOperator.WITHIN_RANGE_OF):
        body += _pack_bound(value.minimum, value.filter_type, "minimum")
    if op in (RacpOperator.LESS_THAN_OR_EQUAL_TO, RacpOperator.WITHIN_RANGE_OF):
        body += _pack_bound(value.maximum, value.filter_type, "maximum")
    return head + body + value.trailing


def encode_racp(value: RacpValue) -> bytes:
    """Inverse of `decode_racp`."""
    if isinstance(value, RacpRecordCount):
        return (
            bytes([RacpOpcode.NUMBER_OF_STORED_RECORDS_RESPONSE, 0])
            + U16.pack(check_uint(value.count, 16, "count"))
            + value.trailing
        )
    if isinstance(value, RacpResponse):
        return (
            bytes(
                [
                    RacpOpcode.RESPONSE_CODE,
                    0,
                    check_uint(value.request_opcode, 8, "request_opcode"),
                    check_uint(value.response_code, 8, "response_code"),
                ]
            )
            + value.trailing
        )
    return _encode_request(value)


def _request(opcode: RacpOpcode, operator: RacpOperator, minimum: int | None = None) -> bytes:
    filter_type = RacpFilterType.SEQUENCE_NUMBER if minimum is not None else None
    return _encode_request(RacpRequest(opcode, operator, filter_type, minimum))


def report_all_records() -> bytes:
    """`01 01`: send every stored record."""
    return _request(RacpOpcode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS)


def report_records_from(sequence: int) -> bytes:
    """`01 03 01 <N u16>`: records with sequence number >= N (the hub's "since last seen + 1")."""
    return _request(RacpOpcode.REPORT_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL_TO, sequence)


def count_all_records() -> bytes:
    """`04 01`: how many records are stored."""
    return _request(RacpOpcode.REPORT_NUMBER_OF_STORED_RECORDS, RacpOperator.ALL_RECORDS)


def count_records_from(sequence: int) -> bytes:
    """`04 03 01 <N u16>`: how many records have sequence number >= N."""
    return _request(
        RacpOpcode.REPORT_NUMBER_OF_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL_TO, sequence
    )


def delete_all_records() -> bytes:
    """`02 01`: delete every stored record."""
    return _request(RacpOpcode.DELETE_STORED_RECORDS, RacpOperator.ALL_RECORDS)


def delete_records_from(sequence: int) -> bytes:
    """`02 03 01 <N u16>`: delete records with sequence number >= N."""
    return _request(RacpOpcode.DELETE_STORED_RECORDS, RacpOperator.GREATER_THAN_OR_EQUAL_TO, sequence)


def abort_operation() -> bytes:
    """`03 00`: abort the procedure in progress."""
    return _request(RacpOpcode.ABORT_OPERATION, RacpOperator.NULL)


RACP: Final = Characteristic(RACP_UUID, "Record Access Control Point", decode_racp, encode_racp)
CHARACTERISTICS: Final = (RACP,)
