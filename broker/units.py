"""Canonical units of the contract and the conversions to and from device units.

Readings travel in canonical units only (mmHg, mg/dL, kg, m); the unit the device displayed travels beside
the value, so a converted value can be traced back. Decoders convert with `to_canonical`; simulators go the
other way with `from_canonical`.
"""

from __future__ import annotations

from enum import StrEnum

# The conventional mmHg is 13.5951 g/cm3 x 9.80665 m/s2 x 1 mm = 133.322387415 Pa (NIST SP 811, B.8 lists
# 1.333224 E+02 Pa), so 1 kPa = 1000 / 133.322387415 = 7.500615... mmHg.
# The contract fixes the rounded factor from DESIGN.md so hub and cloud agree to the last digit.
MMHG_PER_KPA = 7.50062

# Glucose C6H12O6 has a molar mass of 180.156 g/mol (6 x 12.011 + 12 x 1.008 + 6 x 15.999, IUPAC
# conventional atomic weights), so 1 mmol/L = 180.156 mg/L = 18.0156 mg/dL, rounded to 18.016 (DESIGN.md).
MG_DL_PER_MMOL_L = 18.016

# The Glucose Measurement characteristic reports mol/L (unit flag 1); 1 mol/L = 1000 mmol/L (SI prefix).
MMOL_PER_MOL = 1000.0

# The Glucose Measurement characteristic reports kg/L (unit flag 0):
# 1 kg/L = 1,000,000 mg per 10 dL = 100,000 mg/dL (SI prefixes).
MG_DL_PER_KG_L = 100_000.0

# Exact by definition since the international yard and pound agreement of 1959 (NIST SP 811, B.8).
KG_PER_LB = 0.45359237
M_PER_INCH = 0.0254


class PressureUnit(StrEnum):
    """Units a blood-pressure cuff reports in (BLS flag bit 0). Canonical: mmHg."""

    MMHG = "mmHg"
    KPA = "kPa"


class GlucoseUnit(StrEnum):
    """Units a glucometer displays or reports. Canonical: mg/dL."""

    MG_DL = "mg/dL"
    MMOL_L = "mmol/L"
    KG_L = "kg/L"


class MassUnit(StrEnum):
    """Units a scale reports in (WSS flag bit 0: SI or imperial). Canonical: kg."""

    KG = "kg"
    LB = "lb"


class LengthUnit(StrEnum):
    """Units of the height a scale reports with BMI. Canonical: m."""

    M = "m"
    INCH = "in"


Unit = PressureUnit | GlucoseUnit | MassUnit | LengthUnit

# Multiply a value in the key unit by the factor to get the canonical unit of its quantity.
_TO_CANONICAL: dict[Unit, float] = {
    PressureUnit.MMHG: 1.0,
    PressureUnit.KPA: MMHG_PER_KPA,
    GlucoseUnit.MG_DL: 1.0,
    GlucoseUnit.MMOL_L: MG_DL_PER_MMOL_L,
    GlucoseUnit.KG_L: MG_DL_PER_KG_L,
    MassUnit.KG: 1.0,
    MassUnit.LB: KG_PER_LB,
    LengthUnit.M: 1.0,
    LengthUnit.INCH: M_PER_INCH,
}


def kpa_to_mmhg(kpa: float) -> float:
    """Pressure in kPa to canonical mmHg."""
    return kpa * MMHG_PER_KPA


def mmhg_to_kpa(mmhg: float) -> float:
    """Canonical mmHg back to kPa (simulated kPa cuffs)."""
    return mmhg / MMHG_PER_KPA


def mmol_per_l_to_mg_dl(mmol_per_l: float) -> float:
    """Glucose in mmol/L to canonical mg/dL."""
    return mmol_per_l * MG_DL_PER_MMOL_L


def mg_dl_to_mmol_per_l(mg_dl: float) -> float:
    """Canonical mg/dL back to mmol/L."""
    return mg_dl / MG_DL_PER_MMOL_L


def mol_per_l_to_mg_dl(mol_per_l: float) -> float:
    """Glucose in mol/L (as the GLS characteristic sends it) to canonical mg/dL."""
    return mol_per_l * MMOL_PER_MOL * MG_DL_PER_MMOL_L


def mg_dl_to_mol_per_l(mg_dl: float) -> float:
    """Canonical mg/dL back to mol/L (simulated GLS meters)."""
    return mg_dl / MG_DL_PER_MMOL_L / MMOL_PER_MOL


def kg_per_l_to_mg_dl(kg_per_l: float) -> float:
    """Glucose in kg/L (as the GLS characteristic sends it) to canonical mg/dL."""
    return kg_per_l * MG_DL_PER_KG_L


def mg_dl_to_kg_per_l(mg_dl: float) -> float:
    """Canonical mg/dL back to kg/L (simulated GLS meters)."""
    return mg_dl / MG_DL_PER_KG_L


def lb_to_kg(lb: float) -> float:
    """Mass in pounds to canonical kg."""
    return lb * KG_PER_LB


def kg_to_lb(kg: float) -> float:
    """Canonical kg back to pounds (simulated imperial scales)."""
    return kg / KG_PER_LB


def inch_to_m(inch: float) -> float:
    """Length in inches to canonical metres."""
    return inch * M_PER_INCH


def m_to_inch(m: float) -> float:
    """Canonical metres back to inches."""
    return m / M_PER_INCH


def to_canonical(value: float, unit: Unit) -> float:
    """Convert `value` given in `unit` to the canonical unit of its quantity."""
    return value * _TO_CANONICAL[unit]


def from_canonical(value: float, unit: Unit) -> float:
    """Convert a canonical `value` to `unit` (the inverse of `to_canonical`)."""
    return value / _TO_CANONICAL[unit]
