"""Record Access Control Point 0x2A52: request builders, responses, and requests as a meter sees them."""

from __future__ import annotations

import pytest

from gateway.ble.codec import (
    DecodeError,
    DeviceDateTime,
    RacpFilterType,
    RacpOpcode,
    RacpOperator,
    RacpRecordCount,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    abort_operation,
    count_all_records,
    count_records_from,
    decode_racp,
    delete_all_records,
    delete_records_from,
    report_all_records,
    report_records_from,
)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(report_all_records(), "01 01", id="report-all"),
        pytest.param(report_records_from(10), "01 03 01 0A 00", id="report-from-10"),
        pytest.param(report_records_from(0x1234), "01 03 01 34 12", id="report-from-0x1234"),
        pytest.param(count_all_records(), "04 01", id="count-all"),
        pytest.param(count_records_from(10), "04 03 01 0A 00", id="count-from-10"),
        pytest.param(delete_all_records(), "02 01", id="delete-all"),
        pytest.param(delete_records_from(7), "02 03 01 07 00", id="delete-from-7"),
        pytest.param(abort_operation(), "03 00", id="abort"),
    ],
)
def test_request_builders(frame: bytes, expected: str) -> None:
    assert frame == bytes.fromhex(expected)


@pytest.mark.parametrize(
    ("hex_frame", "expected"),
    [
        pytest.param("05 00 2A 00", RacpRecordCount(42), id="count-42"),
        pytest.param("05 00 00 01", RacpRecordCount(256), id="count-256"),
        pytest.param(
            "06 00 01 01",
            RacpResponse(RacpOpcode.REPORT_STORED_RECORDS, RacpResponseCode.SUCCESS),
            id="report-success",
        ),
        pytest.param(
            "06 00 01 06",
            RacpResponse(RacpOpcode.REPORT_STORED_RECORDS, RacpResponseCode.NO_RECORDS_FOUND),
            id="no-records",
        ),
        pytest.param(
            "06 00 03 07",
            RacpResponse(RacpOpcode.ABORT_OPERATION, RacpResponseCode.ABORT_UNSUCCESSFUL),
            id="abort-unsuccessful",
        ),
        pytest.param(
            "06 00 04 09",
            RacpResponse(RacpOpcode.REPORT_NUMBER_OF_STORED_RECORDS, RacpResponseCode.OPERAND_NOT_SUPPORTED),
            id="operand-not-supported",
        ),
        pytest.param(
            "01 01", RacpRequest(RacpOpcode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS), id="all"
        ),
        pytest.param(
            "01 05", RacpRequest(RacpOpcode.REPORT_STORED_RECORDS, RacpOperator.FIRST_RECORD), id="first"
        ),
        pytest.param(
            "01 06", RacpRequest(RacpOpcode.REPORT_STORED_RECORDS, RacpOperator.LAST_RECORD), id="last"
        ),
        pytest.param("03 00", RacpRequest(RacpOpcode.ABORT_OPERATION, RacpOperator.NULL), id="abort"),
        pytest.param(
            "01 02 01 0A 00",
            RacpRequest(
                RacpOpcode.REPORT_STORED_RECORDS,
                RacpOperator.LESS_THAN_OR_EQUAL_TO,
                RacpFilterType.SEQUENCE_NUMBER,
                maximum=10,
            ),
            id="at-most-10",
        ),
        pytest.param(
            "01 03 01 0A 00",
            RacpRequest(
                RacpOpcode.REPORT_STORED_RECORDS,
                RacpOperator.GREATER_THAN_OR_EQUAL_TO,
                RacpFilterType.SEQUENCE_NUMBER,
                minimum=10,
            ),
            id="at-least-10",
        ),
        pytest.param(
            "04 04 01 05 00 0A 00",
            RacpRequest(
                RacpOpcode.REPORT_NUMBER_OF_STORED_RECORDS,
                RacpOperator.WITHIN_RANGE_OF,
                RacpFilterType.SEQUENCE_NUMBER,
                minimum=5,
                maximum=10,
            ),
            id="count-5-to-10",
        ),
        pytest.param(
            "01 03 02 E8 07 03 0F 08 1E 2D",
            RacpRequest(
                RacpOpcode.REPORT_STORED_RECORDS,
                RacpOperator.GREATER_THAN_OR_EQUAL_TO,
                RacpFilterType.USER_FACING_TIME,
                minimum=DeviceDateTime(2024, 3, 15, 8, 30, 45),
            ),
            id="since-time",
        ),
    ],
)
def test_decode_frames(hex_frame: str, expected: object) -> None:
    assert decode_racp(bytes.fromhex(hex_frame)) == expected


def test_reserved_response_code_is_kept() -> None:
    response = decode_racp(bytes.fromhex("06 00 01 0C"))
    assert isinstance(response, RacpResponse)
    assert response.response_code == 12
    assert response.response_code.is_reserved
    assert not response.succeeded


@pytest.mark.parametrize(
    ("hex_frame", "message"),
    [
        pytest.param("", "0x2A52: expected 1 byte for opcode at offset 0, got 0", id="empty"),
        pytest.param("01", "0x2A52: expected 1 byte for operator at offset 1, got 0", id="no-operator"),
        pytest.param(
            "05 00 2A", "0x2A52: expected 2 bytes for number_of_records at offset 2, got 1", id="count"
        ),
        pytest.param("06 00 01", "0x2A52: expected 1 byte for response_code at offset 3, got 0", id="code"),
        pytest.param("01 03 01 0A", "0x2A52: expected 2 bytes for minimum at offset 3, got 1", id="operand"),
        pytest.param("01 03", "0x2A52: expected 1 byte for filter_type at offset 2, got 0", id="filter"),
        pytest.param("07 01", "0x2A52: opcode 7 at offset 0 is not a RACP opcode", id="opcode-7"),
        pytest.param(
            "01 00",
            "0x2A52: operator 0 at offset 1 is not valid for report_stored_records",
            id="null-operator",
        ),
        pytest.param("01 03 03 0A 00", "0x2A52: filter type 3 at offset 2 is not supported", id="filter-3"),
    ],
)
def test_malformed_frames(hex_frame: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_racp(bytes.fromhex(hex_frame))
    assert str(caught.value) == message
