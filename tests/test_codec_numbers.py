"""IEEE 11073 SFLOAT/FLOAT: golden raw values, every special value, signed exponents, encoder choices."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ble.codec import EncodeError
from gateway.ble.codec.numbers import decode_float, decode_sfloat, encode_float, encode_sfloat

SFLOAT_GOLDEN = [
    pytest.param(0x0078, 120.0, id="120-exp0"),
    pytest.param(0xF0B0, 17.6, id="176e-1-signed-exponent"),
    pytest.param(0xF060, 9.6, id="96e-1"),
    pytest.param(0xE0C8, 2.0, id="200e-2"),
    pytest.param(0x1002, 20.0, id="2e1"),
    pytest.param(0x2002, 200.0, id="2e2"),
    pytest.param(0x0B2E, -1234.0, id="negative-mantissa"),
    pytest.param(0xFFFF, -0.1, id="minus-one-e-1"),
    pytest.param(0xB05F, 0.00095, id="95e-5-glucose-kg-per-l"),
    pytest.param(0xC037, 0.0055, id="55e-4-glucose-mol-per-l"),
    pytest.param(0x87FD, 2045e-8, id="smallest-exponent"),
    pytest.param(0x77FD, 2045e7, id="largest-value"),
    pytest.param(0x0000, 0.0, id="zero"),
]


@pytest.mark.parametrize(("raw", "expected"), SFLOAT_GOLDEN)
def test_sfloat_golden(raw: int, expected: float) -> None:
    assert decode_sfloat(raw) == expected


def test_sfloat_keeps_decimal_precision() -> None:
    value = decode_sfloat(0xF0B0)
    assert value == 17.6
    assert repr(value) == "17.6"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(0x07FF, id="nan"),
        pytest.param(0x0800, id="nres"),
        pytest.param(0x0801, id="reserved"),
        pytest.param(0x07FE, id="plus-inf"),
        pytest.param(0x0802, id="minus-inf"),
        pytest.param(0xF7FF, id="nan-mantissa-with-exponent"),
        pytest.param(0x2800, id="nres-mantissa-with-exponent"),
    ],
)
def test_sfloat_special_values_are_no_value(raw: int) -> None:
    assert decode_sfloat(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(0x00000078, 120.0, id="120"),
        pytest.param(0xFF000014, 2.0, id="20e-1"),
        pytest.param(0xFE0000C8, 2.0, id="200e-2"),
        pytest.param(0x01000002, 20.0, id="2e1"),
        pytest.param(0x00FFFB2E, -1234.0, id="negative"),
        pytest.param(0xFD011170, 70.0, id="70000e-3"),
        pytest.param(0x80000001, 1e-128, id="min-exponent"),
    ],
)
def test_float_golden(raw: int, expected: float) -> None:
    assert decode_float(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(0x007FFFFF, id="nan"),
        pytest.param(0x00800000, id="nres"),
        pytest.param(0x00800001, id="reserved"),
        pytest.param(0x007FFFFE, id="plus-inf"),
        pytest.param(0x00800002, id="minus-inf"),
    ],
)
def test_float_special_values_are_no_value(raw: int) -> None:
    assert decode_float(raw) is None


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        pytest.param(17.6, 0xF0B0, id="17.6"),
        pytest.param(120.0, 0x0078, id="120-stays-exponent-0"),
        pytest.param(12000.0, 0x14B0, id="12000-needs-exponent-1"),
        pytest.param(-3.5, 0xFFDD, id="negative"),
        pytest.param(0.0, 0x0000, id="zero"),
        pytest.param(None, 0x07FF, id="none-is-nan"),
        pytest.param(math.nan, 0x07FF, id="nan"),
        pytest.param(math.inf, 0x07FE, id="plus-inf"),
        pytest.param(-math.inf, 0x0802, id="minus-inf"),
        pytest.param(2046.0, 0x10CD, id="2046-avoids-inf-mantissa"),
    ],
)
def test_encode_sfloat_chooses_exponent(value: float | None, raw: int) -> None:
    assert encode_sfloat(value) == raw


def test_encode_sfloat_forced_exponent() -> None:
    assert encode_sfloat(120.0, exponent=-1) == 0xF4B0


@pytest.mark.parametrize(
    ("value", "exponent"),
    [
        pytest.param(1e12, None, id="too-large"),
        pytest.param(300.0, -1, id="forced-too-fine"),
        pytest.param(1.0, 9, id="exponent-out-of-range"),
    ],
)
def test_encode_sfloat_refuses_unrepresentable(value: float, exponent: int | None) -> None:
    with pytest.raises(EncodeError):
        encode_sfloat(value, exponent=exponent)


def test_encode_float_special_and_plain() -> None:
    assert encode_float(None) == 0x007FFFFF
    assert encode_float(math.inf) == 0x007FFFFE
    assert encode_float(-math.inf) == 0x00800002
    assert decode_float(encode_float(70.005)) == 70.005


@given(st.integers(0, 0xFFFF))
def test_sfloat_round_trip(raw: int) -> None:
    value = decode_sfloat(raw)
    assert decode_sfloat(encode_sfloat(value)) == value


@given(st.integers(0, 0xFFFFFFFF))
def test_float_round_trip(raw: int) -> None:
    value = decode_float(raw)
    assert decode_float(encode_float(value)) == value


@given(st.floats(min_value=-2045, max_value=2045, allow_nan=False))
def test_encode_sfloat_is_close(value: float) -> None:
    decoded = decode_sfloat(encode_sfloat(value))
    assert decoded is not None
    # 2045 is the largest mantissa, so one unit in the last place is at most 1/205 of the value.
    assert decoded == pytest.approx(value, rel=2.5e-3, abs=1e-8)
