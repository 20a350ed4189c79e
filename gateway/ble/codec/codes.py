"""Enumerations for coded fields that keep reserved codes instead of failing on them.

Devices send codes the specification reserves (a future sample type, a vendor meal code). Refusing the whole
record would lose a real reading, so an unknown code becomes a `RESERVED_<n>` member that compares equal to
its integer and round-trips through the encoder unchanged.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Self


class CodeEnum(IntEnum):
    """An `IntEnum` whose unknown values become `RESERVED_<n>` pseudo-members (see the module docstring)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            member = int.__new__(cls, value)
            member._name_ = f"RESERVED_{value}"
            member._value_ = value
            return member
        return None

    @property
    def is_reserved(self) -> bool:
        """True for a code the specification does not define."""
        return self._name_.startswith("RESERVED_")

    @property
    def label(self) -> str:
        """Lower-case name for JSON output, e.g. `capillary_plasma`."""
        return self._name_.lower()

    @classmethod
    def of(cls, value: int) -> Self:
        """Look up a code, defined or reserved."""
        return cls(value)
