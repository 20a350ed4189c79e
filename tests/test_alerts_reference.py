"""The vectorized engine against a plain reference: one loop per patient and reading, no numpy windows.

Hypothesis draws random histories (ties in time, values at the thresholds, impossible values, weight jumps,
fasting and non-fasting glucose) and random rule settings (per-patient overrides, conditions); both
implementations must fire the same rules on the same readings, show the same values and agree on whether
each condition holds at the latest reading.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.engine import evaluate
from alerts.readings import (
    FLAG_CUFFLESS,
    FLAG_FASTING,
    FLAG_IMPOSSIBLE,
    FLAG_PULSE_DOUBTFUL,
    MS_PER_DAY,
    MS_PER_HOUR,
    SCALE,
    VALUE_COLUMNS,
    Readings,
    from_columns,
    ids_from_uuids,
    reading_key,
)
from alerts.rules import READING_RULES
from alerts.rules.base import PRIORITY_RANK, ReadingRule
from alerts.settings import PatientContext, effective_params, enabled_for
from broker import plausibility as limits

JUMP_Q = round(limits.WEIGHT_DAILY_JUMP_IMPLAUSIBLE_KG * SCALE)
SLACK_MS = 6 * MS_PER_HOUR


@dataclass(frozen=True)
class Row:
    index: int  # position in the Readings
    t: int
    kind: int
    flags: int
    v: dict[str, float]  # raw values, NaN = missing

    def q(self, name: str) -> int:
        return round(self.v[name] * SCALE)

    def has(self, name: str) -> bool:
        return self.v[name] == self.v[name]


def _possible(r: Row) -> bool:
    if r.flags & FLAG_IMPOSSIBLE:
        return False
    s, d, g, w = (r.v[c] for c in ("systolic", "diastolic", "glucose", "weight"))
    if r.kind == 0:
        return limits.SYSTOLIC_MIN_POSSIBLE_MMHG <= s <= limits.SYSTOLIC_MAX_POSSIBLE_MMHG and d < s
    if r.kind == 1:
        return 0 < g <= limits.GLUCOSE_MAX_POSSIBLE_MG_DL
    return 0 < w <= limits.WEIGHT_MAX_POSSIBLE_KG


def _jumps(rows: list[Row]) -> set[int]:
    out = set()
    for i, r in enumerate(rows):
        for j in range(i):
            if rows[j].t >= r.t - MS_PER_DAY and abs(r.q("weight") - rows[j].q("weight")) > JUMP_Q:
                out.add(r.index)
                break
    return out


def select(name: str, rows: list[Row]) -> list[Row]:
    bp = [
        r
        for r in rows
        if r.kind == 0
        and _possible(r)
        and not r.flags & FLAG_CUFFLESS
        and r.has("systolic")
        and r.has("diastolic")
    ]
    glucose = [r for r in rows if r.kind == 1 and _possible(r) and r.has("glucose")]
    weight_all = [r for r in rows if r.kind == 2 and _possible(r) and r.has("weight")]
    if name == "bp":
        return bp
    if name == "pulse":
        return [r for r in bp if r.has("pulse") and not r.flags & FLAG_PULSE_DOUBTFUL]
    if name == "glucose":
        return glucose
    if name == "glucose_fasting":
        return [r for r in glucose if r.flags & FLAG_FASTING]
    if name == "weight_all":
        return weight_all
    if name == "weight":
        jumped = _jumps(weight_all)
        return [r for r in weight_all if r.index not in jumped]
    assert name == "impossible"
    return [r for r in rows if not _possible(r)]


def _q(value: float) -> int:
    return round(value * SCALE)


def _mean_window(rows: list[Row], i: int, width: int) -> list[Row]:
    return [rows[j] for j in range(i + 1) if rows[j].t > rows[i].t - width]


def fires_one(rule: str, rows: list[Row], i: int, p: dict[str, Any]) -> tuple[bool, float]:
    """Whether reading i of the rule's series fires it, and the value shown."""
    r = rows[i]
    nan = float("nan")
    if rule in ("bp_crisis", "bp_single_high"):
        return r.q("systolic") >= _q(p["systolic_mmhg"]) or r.q("diastolic") >= _q(p["diastolic_mmhg"]), r.q(
            "systolic"
        ) / SCALE
    if rule == "bp_hypotension":
        return r.q("systolic") < _q(p["systolic_below_mmhg"]), r.q("systolic") / SCALE
    if rule == "bp_consecutive_elevated":
        run = 0
        for j in range(i, -1, -1):
            if rows[j].q("systolic") >= _q(p["systolic_mmhg"]) or rows[j].q("diastolic") >= _q(
                p["diastolic_mmhg"]
            ):
                run += 1
            else:
                break
        return run >= int(p["readings"]), r.q("systolic") / SCALE
    if rule in ("bp_mean_7d_high", "bp_mean_7d_above_target"):
        window = _mean_window(rows, i, int(p["window_days"] * MS_PER_DAY))
        n = len(window)
        ss, sd = sum(w.q("systolic") for w in window), sum(w.q("diastolic") for w in window)
        ok = n >= p["min_readings"] and (
            ss >= _q(p["systolic_mmhg"]) * n or sd >= _q(p["diastolic_mmhg"]) * n
        )
        return ok, ss / n / SCALE
    if rule == "bp_mean_rise":
        width = int(p["window_days"] * MS_PER_DAY)
        now = _mean_window(rows, i, width)
        before = [w for w in rows if r.t - 2 * width < w.t <= r.t - width]
        n, m = len(now), len(before)
        s_now, s_before = sum(w.q("systolic") for w in now), sum(w.q("systolic") for w in before)
        need = p["min_readings"]
        ok = n >= need and m >= need and s_now * m - s_before * n >= _q(p["rise_mmhg"]) * n * m
        shown = s_now / n / SCALE - s_before / m / SCALE if m else nan
        return ok, shown
    if rule == "pulse_out_of_range":
        return r.q("pulse") < _q(p["below_bpm"]) or r.q("pulse") > _q(p["above_bpm"]), r.q("pulse") / SCALE
    if rule in ("glucose_hypo_level2", "glucose_hypo_level1"):
        return r.q("glucose") < _q(p["below_mg_dl"]), r.q("glucose") / SCALE
    if rule in ("glucose_very_high", "glucose_high"):
        return r.q("glucose") > _q(p["above_mg_dl"]), r.q("glucose") / SCALE
    if rule == "glucose_repeat_high":
        limit = _q(p["above_mg_dl"])
        width = int(p["within_hours"] * MS_PER_HOUR)
        count = sum(1 for j in range(i + 1) if rows[j].t >= r.t - width and rows[j].q("glucose") > limit)
        return r.q("glucose") > limit and count >= p["readings"], r.q("glucose") / SCALE
    if rule == "glucose_fasting_mean_high":
        window = _mean_window(rows, i, int(p["window_days"] * MS_PER_DAY))
        total = sum(w.q("glucose") for w in window)
        return len(window) >= p["min_readings"] and total > _q(p["above_mg_dl"]) * len(window), total / len(
            window
        ) / SCALE
    if rule.startswith("weight_gain_"):
        days = {"weight_gain_1d": 1, "weight_gain_3d": 3, "weight_gain_7d": 7}[rule]
        width = days * MS_PER_DAY
        base = [w.q("weight") for w in rows if r.t - width - SLACK_MS <= w.t <= r.t - width + SLACK_MS]
        if not base:
            return False, nan
        gain = r.q("weight") - min(base)
        strict = rule == "weight_gain_3d"
        return (gain > _q(p["gain_kg"])) if strict else (gain >= _q(p["gain_kg"])), gain / SCALE
    if rule == "impossible_value":
        return True, r.v[{0: "systolic", 1: "glucose", 2: "weight"}[r.kind]]
    assert rule == "weight_implausible_jump"
    jumped = any(
        rows[j].t >= r.t - MS_PER_DAY and abs(r.q("weight") - rows[j].q("weight")) > JUMP_Q for j in range(i)
    )
    return jumped, r.v["weight"]


Result = tuple[dict[tuple[str, str], float], set[tuple[str, int]]]


def reference(
    readings: Readings, context: PatientContext, rules: tuple[ReadingRule, ...] = READING_RULES
) -> Result:
    """{(rule, reading id): shown value} of every firing, and {(rule, patient)} active at the latest"
    " reading."""
    by_patient: dict[int, list[Row]] = {}
    for i in range(len(readings)):
        row = Row(
            i,
            int(readings.t[i]),
            int(readings.kind[i]),
            int(readings.flags[i]),
            {c: float(readings.raw[c][i]) for c in VALUE_COLUMNS},
        )
        by_patient.setdefault(int(readings.seg[i]), []).append(row)
    fired: dict[tuple[str, str], float] = {}
    active: set[tuple[str, int]] = set()
    for patient, rows in by_patient.items():
        layers = context.layers(patient)
        taken: dict[str, set[int]] = {}
        for rule in sorted(rules, key=lambda r: PRIORITY_RANK[r.priority]):
            if not enabled_for(rule, context.conditions[patient], *layers):
                continue
            params = effective_params(rule, *layers).model_dump()
            chosen = select(rule.select, rows)
            group = taken.setdefault(rule.group, set()) if rule.group else set()
            last_fires = False
            for i, row in enumerate(chosen):
                ok, shown = fires_one(rule.name, chosen, i, params)
                if ok and row.index in group:
                    ok = False
                if ok:
                    fired[(rule.name, reading_key(readings.ids[row.index]))] = round(shown, 2)
                last_fires = ok
            for row in chosen:
                if (rule.name, reading_key(readings.ids[row.index])) in fired:
                    group.add(row.index)
            if chosen and last_fires:
                active.add((rule.name, patient))
    return fired, active


def vectorized(readings: Readings, context: PatientContext) -> Result:
    evaluation = evaluate(readings, context)
    assert evaluation.failures == []
    fired: dict[tuple[str, str], float] = {}
    active: set[tuple[str, int]] = set()
    for f in evaluation.findings:
        for pos, value in zip(f.pos, f.value, strict=True):
            fired[(f.rule.name, reading_key(readings.ids[pos]))] = round(float(value), 2)
        active |= {(f.rule.name, int(seg)) for seg in np.flatnonzero(f.active)}
    return fired, active


def _same(a: Result, b: Result) -> None:
    assert a[0].keys() == b[0].keys()
    for key, value in a[0].items():
        other = b[0][key]
        assert (value != value and other != other) or abs(value - other) < 0.011, key
    assert a[1] == b[1]


# --- histories -------------------------------------------------------------------------------------------

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
SBP = st.sampled_from(
    [
        35.0,
        85.0,
        89.99,
        90.0,
        120.0,
        130.0,
        135.0,
        139.9,
        140.0,
        159.99,
        160.0,
        179.0,
        180.0,
        200.0,
        310.0,
        float("nan"),
    ]
) | st.floats(60, 220).map(lambda x: round(x, 1))
DBP = st.sampled_from([60.0, 79.99, 80.0, 85.0, 89.0, 90.0, 99.99, 100.0, 119.0, 120.0, 130.0, 250.0])
PULSE = st.sampled_from([40.0, 49.99, 50.0, 75.0, 120.0, 120.01, 150.0, float("nan")])
GLUCOSE = st.sampled_from(
    [-5.0, 40.0, 53.99, 54.0, 69.9, 70.0, 120.0, 130.0, 131.0, 250.0, 250.01, 300.5, 400.0, 400.01, 1200.0]
) | st.floats(20, 500).map(lambda x: round(x, 1))
WEIGHT = st.sampled_from([0.0, 80.0, 81.4, 81.5, 82.0, 82.3, 86.0, 420.0]) | st.floats(75, 90).map(
    lambda x: round(x, 2)
)
TIME = st.integers(0, 20 * 24).map(lambda h: START + h * MS_PER_HOUR) | st.integers(0, 20 * MS_PER_DAY).map(
    lambda ms: START + ms
)


@st.composite
def reading(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(st.sampled_from([0, 0, 1, 2]))
    flags = draw(st.sampled_from([0, 0, 0, 0, FLAG_IMPOSSIBLE, FLAG_PULSE_DOUBTFUL, FLAG_CUFFLESS]))
    values = dict.fromkeys(VALUE_COLUMNS, float("nan"))
    if kind == 0:
        values |= {"systolic": draw(SBP), "diastolic": draw(DBP), "pulse": draw(PULSE)}
    elif kind == 1:
        values["glucose"] = draw(GLUCOSE)
        flags |= draw(st.sampled_from([0, FLAG_FASTING]))
    else:
        values["weight"] = draw(WEIGHT)
    return draw(TIME), kind, flags, values


OVERRIDES = st.sampled_from(
    [
        {},
        {"bp_single_high": {"systolic_mmhg": 150, "diastolic_mmhg": 95}},
        {"bp_mean_7d_high": {"min_readings": 2, "window_days": 3}, "bp_mean_rise": {"min_readings": 1}},
        {"bp_consecutive_elevated": {"readings": 2}, "pulse_out_of_range": {"enabled": False}},
        {"glucose_repeat_high": {"within_hours": 48, "readings": 3}, "glucose_high": {"enabled": True}},
        {"glucose_fasting_mean_high": {"min_readings": 1, "above_mg_dl": 120}},
        {"weight_gain_1d": {"gain_kg": 0.9}, "weight_gain_7d": {"enabled": True, "gain_kg": 1.5}},
        {"bp_crisis": {"systolic_mmhg": 170}, "bp_mean_7d_above_target": {"min_readings": 1}},
    ]
)
CONDITIONS = st.sampled_from(
    [frozenset(), frozenset({"I50.9"}), frozenset({"E11.9", "I10"}), frozenset({"I50.22", "E10.65"})]
)


@st.composite
def history(draw: st.DrawFn) -> tuple[Readings, PatientContext]:
    n = draw(st.integers(1, 4))
    rows = [(p, *draw(reading())) for p in range(n) for _ in range(draw(st.integers(0, 40)))]
    numbers = st.integers(0, 2**128 - 1)
    ids = [
        uuid.UUID(int=i) for i in draw(st.lists(numbers, min_size=len(rows), max_size=len(rows), unique=True))
    ]
    practice = uuid.uuid4()
    context = PatientContext(
        patient_ids=[uuid.uuid4() for _ in range(n)],
        practice_ids=[practice] * n,
        conditions=[draw(CONDITIONS) for _ in range(n)],
        patient_overrides=[draw(OVERRIDES) for _ in range(n)],
        practice_overrides={practice: draw(OVERRIDES)},
    )
    readings = from_columns(
        n,
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        ids_from_uuids(ids) if ids else np.zeros(0, dtype="V16"),
        np.array([r[2] for r in rows], dtype=np.int8),
        np.array([r[3] for r in rows], dtype=np.int16),
        {c: np.array([r[4][c] for r in rows], dtype=np.float64) for c in VALUE_COLUMNS},
    )
    return readings, context


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history())
def test_vectorized_engine_matches_reference_loop(case: tuple[Readings, PatientContext]) -> None:
    readings, context = case
    _same(vectorized(readings, context), reference(readings, context))


def test_reference_sees_every_rule() -> None:
    """Every reading rule has a branch in the reference (a new rule must be added there too)."""
    rows = [Row(0, START, 0, 0, dict.fromkeys(VALUE_COLUMNS, 100.0))]
    for rule in READING_RULES:
        fires_one(rule.name, rows, 0, rule.params().model_dump())
