"""Little-endian field readers shared by the decoders: precompiled structs and exact truncation messages.

A decoder checks a whole run of fixed-size fields with one comparison (`require`); only when that fails do we
walk the run to name the first field that does not fit, so the fast path stays a single length test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from struct import Struct
from typing import Final

from gateway.ble.codec.errors import DecodeError, EncodeError

U8: Final = Struct("<B")
U16: Final = Struct("<H")
S16: Final = Struct("<h")

Buffer = bytes | bytearray | memoryview
"""What decoders accept: bleak hands out `bytearray`, tests and captures use `bytes`."""


@dataclass(frozen=True, slots=True)
class Span:
    """A run of consecutive fixed-size fields `(name, size)` read together after one length check."""

    fields: tuple[tuple[str, int], ...]
    size: int


def span(*fields: tuple[str, int]) -> Span:
    """Build a `Span`, computing its total size once at definition time."""
    return Span(fields, sum(size for _, size in fields))


def require(characteristic: str, data: Buffer, offset: int, run: Span) -> None:
    """Raise `DecodeError` naming the first field of `run` that does not fit at `offset`."""
    if len(data) - offset < run.size:
        raise truncated(characteristic, data, offset, run)


def truncated(characteristic: str, data: Buffer, offset: int, run: Span) -> DecodeError:
    """The error for a run that does not fit: the first field that is cut short, with its offset."""
    for name, size in run.fields:
        available = len(data) - offset
        if available < size:
            unit = "byte" if size == 1 else "bytes"
            return DecodeError(
                characteristic,
                f"expected {size} {unit} for {name} at offset {offset}, got {max(available, 0)}",
                offset=offset,
                field=name,
            )
        offset += size
    return DecodeError(characteristic, f"expected {run.size} bytes at offset {offset}", offset=offset)


def out_of_range(characteristic: str, field: str, value: int, allowed: str, offset: int) -> DecodeError:
    """The error for a field whose value the specification does not allow."""
    return DecodeError(
        characteristic,
        f"{field} {value} at offset {offset} is out of range ({allowed})",
        offset=offset,
        field=field,
    )


def check_uint(value: int, bits: int, what: str) -> int:
    """Refuse to encode an integer that does not fit its unsigned field (struct would raise its own error)."""
    if not 0 <= value < (1 << bits):
        raise EncodeError(f"{what} {value} does not fit in an unsigned {bits}-bit field")
    return value


def scale_to_raw(value: float, numerator: int, denominator: int, bits: int, what: str) -> int:
    """Inverse of `raw * numerator / denominator`: the nearest raw integer, refused if it does not fit."""
    if not math.isfinite(value):
        raise EncodeError(f"{what} {value} is not a finite number")
    return check_uint(round(value * denominator / numerator), bits, what)
