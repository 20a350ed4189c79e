"""Weight Scale / Body Composition resolutions and unit conversions, shared by both characteristics.

Raw integers are scaled as `raw * numerator / denominator` (one correctly rounded division), so 14001 x 0.005
kg is exactly the float nearest 70.005.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

KG_PER_LB: Final = 0.45359237
"""International avoirdupois pound, exact by definition (1959)."""
M_PER_IN: Final = 0.0254
"""International inch, exact by definition."""
KG_DECIMALS: Final = 3
"""Imperial scales resolve 0.01 lb = 4.5 g: grams keep the measurement and drop float noise."""
M_DECIMALS: Final = 5
"""0.1 in = 0.00254 m: five decimals keep it exactly."""

UNKNOWN_USER: Final = 0xFF
"""User ID 0xFF: the scale does not know who stepped on (WSS/BCS)."""
MEASUREMENT_UNSUCCESSFUL: Final = 0xFFFF
"""Weight (WSS) / body fat (BCS) 0xFFFF: the measurement failed; it is not 327.675 kg."""


class MeasurementSystem(Enum):
    """Flag bit 0 of WSS and BCS: SI (kg, m) or imperial (lb, in)."""

    SI = "SI"
    IMPERIAL = "imperial"

    @property
    def mass_unit(self) -> str:
        return "kg" if self is MeasurementSystem.SI else "lb"

    @property
    def length_unit(self) -> str:
        return "m" if self is MeasurementSystem.SI else "in"


MASS_SCALE: Final = {MeasurementSystem.SI: (5, 1000), MeasurementSystem.IMPERIAL: (1, 100)}
"""Mass resolution as numerator/denominator: 0.005 kg or 0.01 lb."""
HEIGHT_SCALE: Final = {MeasurementSystem.SI: (1, 1000), MeasurementSystem.IMPERIAL: (1, 10)}
"""Height resolution: 0.001 m or 0.1 in."""
TENTHS: Final = (1, 10)
"""BMI, body fat %, muscle %, impedance: resolution 0.1."""


def to_kg(value: float | None, system: MeasurementSystem) -> float | None:
    """A mass in kilograms."""
    if value is None or system is MeasurementSystem.SI:
        return value
    return round(value * KG_PER_LB, KG_DECIMALS)


def to_m(value: float | None, system: MeasurementSystem) -> float | None:
    """A length in metres."""
    if value is None or system is MeasurementSystem.SI:
        return value
    return round(value * M_PER_IN, M_DECIMALS)
