"""What a rule is: a parameters model and an evaluate function; the engine does everything else.

A rule never opens or closes an alert. It says, for every reading of its series, whether the reading
fires it, how severe that is (to pick the worst evidence) and what to show. The lifecycle decides what
becomes of that (Nightscout's "rules request, the lifecycle decides").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from alerts.readings import MS_PER_DAY, MS_PER_HOUR, SCALE, Readings
from alerts.window import Series

Priority = Literal["critical", "high", "low"]
Category = Literal["clinical", "adherence", "technical", "data_quality", "engine"]
PRIORITY_RANK: dict[str, int] = {"critical": 0, "high": 1, "low": 2}

DIABETES = ("E08", "E09", "E10", "E11", "E13")
"""ICD-10-CM diabetes mellitus categories (E10 type 1, E11 type 2, E08/E09/E13 other causes)."""
HEART_FAILURE = ("I50",)
"""ICD-10-CM I50.* heart failure: the weight-gain rules of alert-rules.md are heart-failure rules."""


class RuleParams(BaseModel):
    """Base of every rule's parameters: immutable, unknown fields refused (a typo is an error, not a"
    " no-op)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(RuleParams):
    """For rules with nothing to tune (they can still be switched off with `enabled`)."""


@dataclass(frozen=True)
class Fired:
    """A rule's finding for each reading of its series.

    `value`, `severity` and `details` are needed only where the rule fires: with `at` (ascending indices into
    the series, at least every reading that fires) they hold one entry per index of `at`, so a rule that
    fires rarely computes what it shows for those readings only; without `at`, one entry per reading."""

    fires: np.ndarray  # bool, per reading of the series
    value: np.ndarray  # float64: the number shown for this reading (mmHg, mg/dL, kg...)
    severity: np.ndarray  # float64: higher is worse; picks an alert's worst evidence
    details: dict[str, np.ndarray] = field(default_factory=dict)  # more numbers for the evidence
    at: np.ndarray | None = None


def take(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """values[at] for a per-reading array; a 0-d array (a parameter every patient shares) as it is."""
    return values if values.ndim == 0 else values[at]


class Columns:
    """A rule's parameters for every reading of a series: per-patient arrays, broadcast by segment."""

    def __init__(self, per_patient: dict[str, np.ndarray], seg: np.ndarray, uniform: frozenset[str]) -> None:
        self._per_patient = per_patient
        self._seg = seg
        self._uniform = uniform

    def raw(self, name: str) -> np.ndarray:
        """Per reading; a 0-d array when every patient has the same value (most do: the defaults)."""
        values = self._per_patient[name]
        if name in self._uniform or values.size == 0:
            return np.asarray(values[0] if values.size else 0.0)
        return values[self._seg]

    def q(self, name: str) -> np.ndarray:
        """In fixed point, like the readings' values (alerts.readings.SCALE)."""
        return np.rint(self.raw(name) * SCALE).astype(np.int64)

    def days_ms(self, name: str) -> np.ndarray:
        return (self.raw(name) * MS_PER_DAY).astype(np.int64)

    def hours_ms(self, name: str) -> np.ndarray:
        return (self.raw(name) * MS_PER_HOUR).astype(np.int64)

    def int(self, name: str) -> np.ndarray:
        return self.raw(name).astype(np.int64)


Evaluate = Callable[[Readings, Series, Columns], Fired]


@dataclass(frozen=True)
class RuleSpec:
    """Everything about a rule except how it is evaluated (shared by reading rules and time-based checks)."""

    name: str
    summary: str
    source: str
    priority: Priority
    category: Category
    params: type[RuleParams]
    applies_to: tuple[str, ...] | None = None
    """ICD-10 prefixes of which the patient needs one active condition; None = every patient."""
    auto_resolves: bool = True
    """A state (a mean, a trend, no data) clears itself when it ends; an event (one dangerous reading) waits
    for a person to close it."""


@dataclass(frozen=True)
class ReadingRule(RuleSpec):
    """A rule evaluated over readings: `select` names its series (alerts.engine.SELECTIONS)."""

    select: str = ""
    evaluate: Evaluate | None = None
    group: str | None = None
    """Rules of one group fire once per reading: only the highest priority among them keeps the reading."""


def as_float(q: np.ndarray) -> np.ndarray:
    """Fixed point back to the canonical unit, for display."""
    return q.astype(np.float64) / SCALE


def mean_of(window_sum_q: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Mean in the canonical unit (display only: decisions compare exact integer sums)."""
    return np.where(count > 0, window_sum_q / np.maximum(count, 1) / SCALE, np.nan)
