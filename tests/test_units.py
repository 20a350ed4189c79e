"""Unit conversions against hand-computed values, and their inverses."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.units import (
    GlucoseUnit,
    LengthUnit,
    MassUnit,
    PressureUnit,
    from_canonical,
    inch_to_m,
    kg_per_l_to_mg_dl,
    kg_to_lb,
    kpa_to_mmhg,
    lb_to_kg,
    m_to_inch,
    mg_dl_to_kg_per_l,
    mg_dl_to_mmol_per_l,
    mg_dl_to_mol_per_l,
    mmhg_to_kpa,
    mmol_per_l_to_mg_dl,
    mol_per_l_to_mg_dl,
    to_canonical,
)

HAND_COMPUTED = [
    pytest.param(kpa_to_mmhg, 17.6, 132.010912, id="17.6-kPa-is-132.01-mmHg"),
    pytest.param(kpa_to_mmhg, 1.0, 7.50062, id="1-kPa"),
    pytest.param(mmol_per_l_to_mg_dl, 5.5, 99.088, id="5.5-mmol/L-is-99.088-mg/dL"),
    pytest.param(mmol_per_l_to_mg_dl, 3.0, 54.048, id="3.0-mmol/L-ADA-level-2"),
    pytest.param(mol_per_l_to_mg_dl, 0.0055, 99.088, id="0.0055-mol/L-from-GLS"),
    pytest.param(kg_per_l_to_mg_dl, 0.00099, 99.0, id="0.00099-kg/L-is-99-mg/dL"),
    pytest.param(lb_to_kg, 180.0, 81.6466266, id="180-lb-is-81.646627-kg"),
    pytest.param(lb_to_kg, 3.0, 1.36077711, id="3-lb-HF-gain"),
    pytest.param(inch_to_m, 70.0, 1.778, id="70-in-is-1.778-m"),
]


@pytest.mark.parametrize(("convert", "value", "expected"), HAND_COMPUTED)
def test_conversion_matches_hand_computed_value(
    convert: Callable[[float], float], value: float, expected: float
) -> None:
    assert convert(value) == pytest.approx(expected, rel=1e-9)


INVERSES = [
    pytest.param(kpa_to_mmhg, mmhg_to_kpa, id="kPa"),
    pytest.param(mmol_per_l_to_mg_dl, mg_dl_to_mmol_per_l, id="mmol/L"),
    pytest.param(mol_per_l_to_mg_dl, mg_dl_to_mol_per_l, id="mol/L"),
    pytest.param(kg_per_l_to_mg_dl, mg_dl_to_kg_per_l, id="kg/L"),
    pytest.param(lb_to_kg, kg_to_lb, id="lb"),
    pytest.param(inch_to_m, m_to_inch, id="in"),
]


@pytest.mark.parametrize(("forward", "back"), INVERSES)
@given(value=st.floats(min_value=1e-6, max_value=1e6))
def test_inverse_undoes_conversion(
    forward: Callable[[float], float], back: Callable[[float], float], value: float
) -> None:
    assert math.isclose(back(forward(value)), value, rel_tol=1e-12)


ALL_UNITS = [*PressureUnit, *GlucoseUnit, *MassUnit, *LengthUnit]


@pytest.mark.parametrize("unit", ALL_UNITS, ids=[u.value for u in ALL_UNITS])
def test_every_device_unit_converts_both_ways(
    unit: PressureUnit | GlucoseUnit | MassUnit | LengthUnit,
) -> None:
    assert from_canonical(to_canonical(12.5, unit), unit) == pytest.approx(12.5)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        pytest.param(120.0, PressureUnit.MMHG, 120.0, id="mmHg-is-canonical"),
        pytest.param(17.6, PressureUnit.KPA, 132.010912, id="kPa"),
        pytest.param(5.5, GlucoseUnit.MMOL_L, 99.088, id="mmol/L"),
        pytest.param(180.0, MassUnit.LB, 81.6466266, id="lb"),
        pytest.param(70.0, LengthUnit.INCH, 1.778, id="in"),
    ],
)
def test_to_canonical_uses_the_named_factors(value: float, unit: PressureUnit, expected: float) -> None:
    assert to_canonical(value, unit) == pytest.approx(expected, rel=1e-9)


def test_unit_values_are_the_spelling_on_the_wire() -> None:
    assert [u.value for u in ALL_UNITS] == ["mmHg", "kPa", "mg/dL", "mmol/L", "kg/L", "kg", "lb", "m", "in"]
