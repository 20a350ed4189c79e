"""Rule settings: defaults from alert-rules.md, overridden per practice, then per patient (care plan).

Overrides have one shape everywhere: `{"<rule>": {"<parameter>": value, ..., "enabled": true|false}}`.
They are validated as a whole and every problem is reported at once, as 'rule.parameter: why'.
Which rules apply to a patient by default depends on their active conditions (`RuleSpec.applies_to`);
`enabled` overrides that either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from pydantic import ValidationError

from alerts.errors import RuleConfigError
from alerts.rules import BY_NAME
from alerts.rules.base import RuleParams, RuleSpec

ENABLED = "enabled"
Overrides = dict[str, dict[str, Any]]


def validate_overrides(document: object, source: str) -> Overrides:
    """Check an overrides document; returns it normalised, or raises RuleConfigError listing every problem."""
    if not isinstance(document, Mapping):
        raise RuleConfigError(source, ['must be an object like {"bp_single_high": {"systolic_mmhg": 170}}'])
    problems: list[str] = []
    clean: Overrides = {}
    for name, values in document.items():
        spec = BY_NAME.get(str(name))
        if spec is None:
            problems.append(f"{name}: no such rule (known rules: {', '.join(sorted(BY_NAME))})")
            continue
        if not isinstance(values, Mapping):
            problems.append(f"{name}: must be an object of parameters, got {type(values).__name__}")
            continue
        values = dict(values)
        enabled = values.pop(ENABLED, None)
        if enabled is not None and not isinstance(enabled, bool):
            problems.append(f"{name}.{ENABLED}: must be true or false")
        try:
            spec.params.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "(parameters)"
                problems.append(f"{name}.{where}: {error['msg']}")
        clean[str(name)] = dict(document[name])
    if problems:
        raise RuleConfigError(source, problems)
    return clean


def effective_params(spec: RuleSpec, *layers: Mapping[str, Any]) -> RuleParams:
    """The rule's parameters with each override layer applied in turn (later layers win)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.get(spec.name, {}).items() if k != ENABLED})
    return spec.params.model_validate(merged)


def applies(spec: RuleSpec, conditions: frozenset[str]) -> bool:
    """Whether the rule applies to a patient with these active ICD-10 codes (before `enabled` overrides)."""
    if spec.applies_to is None:
        return True
    return any(code.startswith(prefix) for code in conditions for prefix in spec.applies_to)


def enabled_for(spec: RuleSpec, conditions: frozenset[str], *layers: Mapping[str, Any]) -> bool:
    decision = applies(spec, conditions)
    for layer in layers:
        switch = layer.get(spec.name, {}).get(ENABLED)
        if switch is not None:
            decision = bool(switch)
    return decision


@dataclass(frozen=True)
class PatientContext:
    """Who is being evaluated: one entry per patient (segment), in segment order."""

    patient_ids: Sequence[uuid.UUID]
    practice_ids: Sequence[uuid.UUID]
    conditions: Sequence[frozenset[str]]
    patient_overrides: Sequence[Overrides]
    practice_overrides: Mapping[uuid.UUID, Overrides] = field(default_factory=dict)
    config_problems: Mapping[int, RuleConfigError] = field(default_factory=dict)
    """Patients whose care-plan overrides did not validate (segment -> error): evaluated with practice
    settings, and the engine raises a rule_config_error alert for them."""

    def __len__(self) -> int:
        return len(self.patient_ids)

    @cached_property
    def special(self) -> list[int]:
        """Patients with conditions or overrides: the only ones whose settings may differ from defaults."""
        return [
            i
            for i in range(len(self.patient_ids))
            if self.conditions[i]
            or self.patient_overrides[i]
            or self.practice_ids[i] in self.practice_overrides
        ]

    def layers(self, index: int) -> tuple[Overrides, Overrides]:
        return self.practice_overrides.get(self.practice_ids[index], {}), self.patient_overrides[index]


def default_context(patient_ids: Sequence[uuid.UUID], practice_id: uuid.UUID) -> PatientContext:
    """Patients without conditions or overrides (benchmarks, tests)."""
    n = len(patient_ids)
    return PatientContext(patient_ids, [practice_id] * n, [frozenset()] * n, [{}] * n)


@dataclass(frozen=True)
class RuleTable:
    """One rule's settings for every patient: enabled, and each parameter as an array over patients."""

    enabled: np.ndarray
    columns: dict[str, np.ndarray]
    params: list[RuleParams | None]  # None = the defaults; for explanations
    uniform: frozenset[str] = frozenset()  # parameters every patient has at the same value

    def params_of(self, index: int, spec: RuleSpec) -> RuleParams:
        return self.params[index] or spec.params()


def rule_table(spec: RuleSpec, context: PatientContext) -> RuleTable:
    """Settings of `spec` for all patients; patients without overrides share the defaults (no Python work
    per patient beyond a dictionary look-up)."""
    n = len(context)
    defaults = spec.params()
    columns = {
        name: np.full(n, float(value), dtype=np.float64)
        for name, value in defaults.model_dump().items()
        if isinstance(value, int | float)
    }
    enabled = np.full(n, spec.applies_to is None, dtype=bool)
    params: list[RuleParams | None] = [None] * n
    for i in context.special:
        practice, patient = context.layers(i)
        if spec.applies_to is not None and context.conditions[i]:
            enabled[i] = applies(spec, context.conditions[i])
        if spec.name not in practice and spec.name not in patient:
            continue
        enabled[i] = enabled_for(spec, context.conditions[i], practice, patient)
        chosen = effective_params(spec, practice, patient)
        params[i] = chosen
        for name, value in chosen.model_dump().items():
            if name in columns:
                columns[name][i] = float(value)
    uniform = frozenset(
        name for name, values in columns.items() if values.size and np.all(values == values[0])
    )
    return RuleTable(enabled, columns, params, uniform)
