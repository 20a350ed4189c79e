"""IEEE 11073-20601 SFLOAT (16 bit) and FLOAT (32 bit): decode to `float | None`, encode choosing an exponent.

Special values (NaN, NRes, reserved, +INF, -INF) are "no value": they decode to `None`, never to a number such
as 2047. The specification defines them with exponent 0; we treat the special *mantissas* as special at any
exponent, because no device means 204.7 by `0xF7FF` and a medical reading must not be invented from a marker.
The encoders therefore never emit those mantissas.

Values are computed as `mantissa / 10**-exponent` (one correctly rounded division) so 176 x 10^-1 is exactly
the float nearest 17.6, never 17.600000000000001.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from enum import IntEnum
from typing import Final

from gateway.ble.codec.errors import EncodeError

_POW10: Final = tuple(10**i for i in range(129))
"""10**0 .. 10**128: a FLOAT exponent is at most 127 in magnitude, so every scale is one tuple index."""


class SFloatSpecial(IntEnum):
    """Raw SFLOAT special values (exponent 0)."""

    NAN = 0x07FF
    NRES = 0x0800
    RESERVED = 0x0801
    POSITIVE_INFINITY = 0x07FE
    NEGATIVE_INFINITY = 0x0802


class FloatSpecial(IntEnum):
    """Raw FLOAT special values (exponent 0)."""

    NAN = 0x007FFFFF
    NRES = 0x00800000
    RESERVED = 0x00800001
    POSITIVE_INFINITY = 0x007FFFFE
    NEGATIVE_INFINITY = 0x00800002


SFLOAT_MAX_MANTISSA: Final = 0x07FD
"""2045: the largest 12-bit mantissa that is not a special value (0x07FE +INF, 0x07FF NaN)."""
SFLOAT_EXPONENTS: Final = range(-8, 8)
FLOAT_MAX_MANTISSA: Final = 0x7FFFFD
"""8388605: the largest 24-bit mantissa below the specials 0x7FFFFE (+INF) and 0x7FFFFF (NaN)."""
FLOAT_EXPONENTS: Final = range(-128, 128)


def decode_sfloat(raw: int) -> float | None:
    """Value of a raw 16-bit SFLOAT; `None` for every special value."""
    mantissa = raw & 0x0FFF
    if 0x07FE <= mantissa <= 0x0802:
        return None
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    exponent = raw >> 12
    if exponent >= 8:
        return mantissa / _POW10[16 - exponent]
    return float(mantissa * _POW10[exponent])


def decode_float(raw: int) -> float | None:
    """Value of a raw 32-bit FLOAT; `None` for every special value."""
    mantissa = raw & 0xFFFFFF
    if 0x7FFFFE <= mantissa <= 0x800002:
        return None
    if mantissa >= 0x800000:
        mantissa -= 0x1000000
    exponent = raw >> 24
    if exponent >= 128:
        return mantissa / _POW10[256 - exponent]
    return float(mantissa * _POW10[exponent])


def encode_sfloat(value: float | None, *, exponent: int | None = None) -> int:
    """Raw SFLOAT for `value`: `None`/NaN -> NaN, +-inf -> +-INF, else the most precise exponent that fits.

    `exponent` forces a resolution (e.g. -1 for a cuff reporting 0.1 kPa), as a device would.
    """
    special = _special(
        value, SFloatSpecial.NAN, SFloatSpecial.POSITIVE_INFINITY, SFloatSpecial.NEGATIVE_INFINITY
    )
    if special is not None:
        return special
    assert value is not None
    mantissa, exp = _mantissa_exponent(value, SFLOAT_MAX_MANTISSA, SFLOAT_EXPONENTS, exponent, "SFLOAT")
    return ((exp & 0x0F) << 12) | (mantissa & 0x0FFF)


def encode_float(value: float | None, *, exponent: int | None = None) -> int:
    """Raw FLOAT for `value`, with the same rules as `encode_sfloat`."""
    special = _special(
        value, FloatSpecial.NAN, FloatSpecial.POSITIVE_INFINITY, FloatSpecial.NEGATIVE_INFINITY
    )
    if special is not None:
        return special
    assert value is not None
    mantissa, exp = _mantissa_exponent(value, FLOAT_MAX_MANTISSA, FLOAT_EXPONENTS, exponent, "FLOAT")
    return ((exp & 0xFF) << 24) | (mantissa & 0xFFFFFF)


def _special(value: float | None, nan: int, pos_inf: int, neg_inf: int) -> int | None:
    if value is None or math.isnan(value):
        return nan
    if math.isinf(value):
        return pos_inf if value > 0 else neg_inf
    return None


def _mantissa_exponent(
    value: float, max_mantissa: int, exponents: range, forced: int | None, what: str
) -> tuple[int, int]:
    """Smallest exponent (finest resolution, but not below the value's own precision) whose mantissa fits.

    `Decimal(repr(value))` is the shortest decimal that round-trips the float, so 17.6 is seen as 176 x 10^-1
    and not as the binary expansion of 17.6.
    """
    exact = Decimal(repr(float(value)))
    if forced is not None:
        if forced not in exponents:
            raise EncodeError(f"{what} exponent {forced} is outside {exponents.start}..{exponents.stop - 1}")
        candidates: range = range(forced, forced + 1)
    elif exact == 0:
        return 0, 0
    else:
        digits = len(str(max_mantissa))
        natural = int(exact.normalize().as_tuple().exponent)
        start = max(exponents.start, min(natural, 0), exact.adjusted() - digits + 1)
        candidates = range(start, exponents.stop)
    for exp in candidates:
        mantissa = int(exact.scaleb(-exp).to_integral_value(rounding=ROUND_HALF_EVEN))
        if abs(mantissa) <= max_mantissa:
            return mantissa, exp
    raise EncodeError(f"{value!r} cannot be represented as an {what} (mantissa limit {max_mantissa})")
