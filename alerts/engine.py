"""Evaluate every reading rule for many patients at once and collect what fired, rule by rule.

The result is columnar (arrays of fired readings per rule, a flag per patient for "the condition holds at the
latest reading"), so evaluating a million readings costs no Python work per reading. A rule that raises is
reported as a failure (the lifecycle turns it into an engine_error alert); the other rules still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from alerts.readings import FLAG_CUFFLESS, FLAG_FASTING, FLAG_PULSE_DOUBTFUL, Readings
from alerts.rules import READING_RULES
from alerts.rules.base import PRIORITY_RANK, Columns, ReadingRule
from alerts.rules.weight import weight_jumps
from alerts.settings import PatientContext, RuleTable, rule_table
from alerts.window import Series, last_of_patient, series

log = logging.getLogger(__name__)


def _bp(r: Readings, possible: np.ndarray) -> np.ndarray:
    return (
        (r.kind == 0) & possible & ((r.flags & FLAG_CUFFLESS) == 0) & r.has["systolic"] & r.has["diastolic"]
    )


def _glucose(r: Readings, possible: np.ndarray) -> np.ndarray:
    return (r.kind == 1) & possible & r.has["glucose"]


def _weight_all(r: Readings, possible: np.ndarray) -> np.ndarray:
    return (r.kind == 2) & possible & r.has["weight"]


def _weight(r: Readings, possible: np.ndarray) -> np.ndarray:
    everything = _weight_all(r, possible)
    weights = series(r, everything)
    mask = everything.copy()
    mask[weights.pos[weight_jumps(r, weights)]] = False
    return mask


SELECTIONS: dict[str, Callable[[Readings, np.ndarray], np.ndarray]] = {
    "bp": _bp,
    "pulse": lambda r, ok: _bp(r, ok) & r.has["pulse"] & ((r.flags & FLAG_PULSE_DOUBTFUL) == 0),
    "glucose": _glucose,
    "glucose_fasting": lambda r, ok: _glucose(r, ok) & ((r.flags & FLAG_FASTING) != 0),
    "weight_all": _weight_all,
    "weight": _weight,
    "impossible": lambda r, ok: ~ok,
}
"""Which readings feed a rule. Impossible values feed only the data-quality rule; jumped weights feed no
weight-gain rule; only cuff blood pressure feeds BP rules."""


@dataclass(frozen=True)
class RuleFindings:
    """What one rule found: the readings that fire it (after group precedence), in canonical order."""

    rule: ReadingRule
    table: RuleTable
    pos: np.ndarray  # indices into the Readings
    value: np.ndarray
    severity: np.ndarray
    details: dict[str, np.ndarray]
    active: np.ndarray  # per patient: enabled and fires at the patient's latest reading of the series
    seen: np.ndarray  # per patient: enabled and has readings in the series


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    error: str


@dataclass(frozen=True)
class Evaluation:
    findings: list[RuleFindings]
    failures: list[RuleFailure]


@dataclass(frozen=True)
class _Raw:
    rule: ReadingRule
    table: RuleTable
    s: Series
    fires: np.ndarray
    value: np.ndarray
    severity: np.ndarray
    details: dict[str, np.ndarray]


def _run(rule: ReadingRule, r: Readings, s: Series, table: RuleTable) -> _Raw:
    assert rule.evaluate is not None
    fired = rule.evaluate(r, s, Columns(table.columns, s.seg, table.uniform))
    fires = fired.fires & table.enabled[s.seg]
    return _Raw(rule, table, s, fires, fired.value, fired.severity, fired.details)


def _precedence(raws: list[_Raw], n_readings: int) -> None:
    """Within a group, a reading fires only its highest-priority rule (Nightscout: the highest level wins)."""
    groups: dict[str, list[_Raw]] = {}
    for raw in raws:
        if raw.rule.group is not None:
            groups.setdefault(raw.rule.group, []).append(raw)
    for members in groups.values():
        taken = np.zeros(n_readings, dtype=bool)
        for raw in sorted(members, key=lambda m: PRIORITY_RANK[m.rule.priority]):
            raw.fires[taken[raw.s.pos]] = False
            taken[raw.s.pos[raw.fires]] = True


def _findings(raw: _Raw, n_patients: int) -> RuleFindings:
    s, fires = raw.s, raw.fires
    last = last_of_patient(s)
    active = np.zeros(n_patients, dtype=bool)
    active[s.seg[last]] = fires[last]
    seen = np.zeros(n_patients, dtype=bool)
    seen[s.seg] = True
    seen &= raw.table.enabled
    return RuleFindings(
        rule=raw.rule,
        table=raw.table,
        pos=s.pos[fires],
        value=raw.value[fires],
        severity=raw.severity[fires],
        details={name: column[fires] for name, column in raw.details.items()},
        active=active,
        seen=seen,
    )


def evaluate(
    readings: Readings, context: PatientContext, rules: Sequence[ReadingRule] = READING_RULES
) -> Evaluation:
    """Every rule over every patient of the window, in one pass per rule."""
    possible = readings.possible()
    selected: dict[str, Series] = {}
    raws: list[_Raw] = []
    failures: list[RuleFailure] = []
    for rule in rules:
        try:
            if rule.select not in selected:
                selected[rule.select] = series(readings, SELECTIONS[rule.select](readings, possible))
            raws.append(_run(rule, readings, selected[rule.select], rule_table(rule, context)))
        except Exception as exc:
            log.exception("alert rule %s failed", rule.name)
            failures.append(RuleFailure(rule.name, f"{type(exc).__name__}: {exc}"))
    _precedence(raws, len(readings))
    return Evaluation([_findings(raw, readings.n_patients) for raw in raws], failures)
