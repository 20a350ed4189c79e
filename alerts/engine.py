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
from alerts.window import Series, last_index, no_readings, series

log = logging.getLogger(__name__)


def _bp(r: Readings, possible: np.ndarray) -> np.ndarray:
    return (
        (r.kind == 0) & possible & ((r.flags & FLAG_CUFFLESS) == 0) & r.has["systolic"] & r.has["diastolic"]
    )


def _glucose(r: Readings, possible: np.ndarray) -> np.ndarray:
    return (r.kind == 1) & possible & r.has["glucose"]


def _weight_all(r: Readings, possible: np.ndarray) -> np.ndarray:
    return (r.kind == 2) & possible & r.has["weight"]


def _weight(r: Readings, possible: np.ndarray, selected: Callable[[str], Series]) -> np.ndarray:
    weights = selected("weight_all")  # its jumps are computed once, for this and for the jump rule
    mask = np.zeros(len(r), dtype=bool)
    mask[weights.pos[~weight_jumps(r, weights)]] = True
    return mask


Selection = Callable[[Readings, np.ndarray, Callable[[str], Series]], np.ndarray]
SELECTIONS: dict[str, Selection] = {
    "bp": lambda r, ok, _: _bp(r, ok),
    "pulse": lambda r, ok, _: _bp(r, ok) & r.has["pulse"] & ((r.flags & FLAG_PULSE_DOUBTFUL) == 0),
    "glucose": lambda r, ok, _: _glucose(r, ok),
    "glucose_fasting": lambda r, ok, _: _glucose(r, ok) & ((r.flags & FLAG_FASTING) != 0),
    "weight_all": lambda r, ok, _: _weight_all(r, ok),
    "weight": _weight,
    "impossible": lambda r, ok, _: ~ok,
}
"""Which readings feed a rule (given the readings, which of them are possible, and the other selections).
Impossible values feed only the data-quality rule; jumped weights feed no weight-gain rule; only cuff blood
pressure feeds BP rules."""


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
    at: np.ndarray  # the readings of the series that fire (ascending; shrinks with precedence)
    value: np.ndarray  # value, severity and details: one entry per reading of `at`
    severity: np.ndarray
    details: dict[str, np.ndarray]


PROFILES_FROM = 64
"""Share rule tables by settings profile when at least this many patients have settings of their own."""


class _Tables:
    """Rule tables for a window's patients, computed once per distinct settings profile (practice overrides,
    conditions, care-plan overrides) and spread to the patients by index: patients of one profile have the
    same settings, and most patients share a handful of profiles (rule_table's work is per patient)."""

    def __init__(self, context: PatientContext) -> None:
        self.context = context
        self.profiles: PatientContext | None = None
        if len(context.special) < PROFILES_FROM:
            return  # few patients with settings of their own: rule_table is cheap as it is
        keys: dict[tuple[object, ...], int] = {}
        first: list[int] = []
        inverse = np.empty(len(context), dtype=np.intp)
        for i in range(len(context)):
            practice = context.practice_ids[i]
            overrides = context.patient_overrides[i]
            key = (
                practice if practice in context.practice_overrides else None,
                context.conditions[i],
                id(overrides) if overrides else None,
            )
            k = keys.setdefault(key, len(keys))
            if k == len(first):
                first.append(i)
            inverse[i] = k
        self.inverse = inverse
        self.profiles = PatientContext(
            patient_ids=[context.patient_ids[i] for i in first],
            practice_ids=[context.practice_ids[i] for i in first],
            conditions=[context.conditions[i] for i in first],
            patient_overrides=[context.patient_overrides[i] for i in first],
            practice_overrides=context.practice_overrides,
        )

    def of(self, rule: ReadingRule) -> RuleTable:
        if self.profiles is None:
            return rule_table(rule, self.context)
        table = rule_table(rule, self.profiles)
        inverse = self.inverse
        return RuleTable(
            enabled=table.enabled[inverse],
            columns={name: values[inverse] for name, values in table.columns.items()},
            params=[table.params[k] for k in inverse.tolist()],
            uniform=table.uniform,
        )


def _patients_of(s: Series, enabled: np.ndarray) -> Series:
    """The series restricted to the patients the rule is enabled for. Windows never cross patients, so a
    rule evaluated on whole patients finds the same as on the whole series; rules sharing their enabled
    patients (all of them, or the same conditions) share the restricted series and its cached work."""
    if enabled.all():
        return s
    key = ("patients", enabled.tobytes())
    return s.memo(key, lambda: s.subset(enabled[s.seg]))


def _run(rule: ReadingRule, r: Readings, s: Series, table: RuleTable) -> _Raw:
    assert rule.evaluate is not None
    fired = rule.evaluate(r, s, Columns(table.columns, s.seg, table.uniform))
    at = np.flatnonzero(fired.fires)
    if fired.at is None:  # the rule gave its values for every reading of the series
        return _Raw(
            rule,
            table,
            s,
            at,
            fired.value[at],
            fired.severity[at],
            {name: column[at] for name, column in fired.details.items()},
        )
    if not np.array_equal(fired.at, at):  # the rule gave values for more readings than fire
        keep = fired.fires[fired.at]
        return _Raw(
            rule,
            table,
            s,
            fired.at[keep],
            fired.value[keep],
            fired.severity[keep],
            {name: column[keep] for name, column in fired.details.items()},
        )
    return _Raw(rule, table, s, at, fired.value, fired.severity, fired.details)


def _precedence(raws: list[_Raw], n_readings: int) -> list[_Raw]:
    """Within a group, a reading fires only its highest-priority rule (Nightscout: the highest level wins)."""
    groups: dict[str, list[int]] = {}
    for index, raw in enumerate(raws):
        if raw.rule.group is not None:
            groups.setdefault(raw.rule.group, []).append(index)
    out = list(raws)
    for members in groups.values():
        taken = np.zeros(n_readings, dtype=bool)
        for index in sorted(members, key=lambda m: PRIORITY_RANK[raws[m].rule.priority]):
            raw = raws[index]
            pos = raw.s.pos[raw.at]
            keep = ~taken[pos]
            taken[pos[keep]] = True
            if not keep.all():
                out[index] = _Raw(
                    raw.rule,
                    raw.table,
                    raw.s,
                    raw.at[keep],
                    raw.value[keep],
                    raw.severity[keep],
                    {name: column[keep] for name, column in raw.details.items()},
                )
    return out


def _findings(raw: _Raw, n_patients: int) -> RuleFindings:
    s = raw.s
    last = last_index(s)
    fires_last = np.zeros(len(s), dtype=bool)
    fires_last[raw.at] = True
    active = np.zeros(n_patients, dtype=bool)
    active[s.seg[last]] = fires_last[last]
    seen = np.zeros(n_patients, dtype=bool)
    seen[s.seg[last]] = True
    seen &= raw.table.enabled
    return RuleFindings(
        rule=raw.rule,
        table=raw.table,
        pos=s.pos[raw.at],
        value=raw.value,
        severity=raw.severity,
        details=raw.details,
        active=active,
        seen=seen,
    )


def evaluate(
    readings: Readings, context: PatientContext, rules: Sequence[ReadingRule] = READING_RULES
) -> Evaluation:
    """Every rule over the patients it is enabled for, in one pass per rule (a rule enabled for nobody in
    the window is not run: it finds nothing)."""
    possible = readings.possible()
    selected: dict[str, Series] = {}

    def selection(name: str) -> Series:
        if name not in selected:
            selected[name] = series(readings, SELECTIONS[name](readings, possible, selection))
        return selected[name]

    tables = _Tables(context)
    raws: list[_Raw] = []
    failures: list[RuleFailure] = []
    for rule in rules:
        try:
            table = tables.of(rule)
            if table.enabled.any():
                s = _patients_of(selection(rule.select), table.enabled)
                raws.append(_run(rule, readings, s, table))
            else:
                nothing = no_readings(readings.n_patients)
                raws.append(_Raw(rule, table, nothing, nothing.pos, np.zeros(0), np.zeros(0), {}))
        except Exception as exc:
            log.exception("alert rule %s failed", rule.name)
            failures.append(RuleFailure(rule.name, f"{type(exc).__name__}: {exc}"))
    raws = _precedence(raws, len(readings))
    return Evaluation([_findings(raw, readings.n_patients) for raw in raws], failures)
