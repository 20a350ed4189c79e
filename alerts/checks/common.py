"""What the checks share: per-patient settings and turning facts into requests or recoveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from alerts.lifecycle import AlertRequest, Evidence, Outcome, auto_resolve, request_alerts
from alerts.loader import load_context
from alerts.requests import explanation
from alerts.rules.base import RuleParams, RuleSpec
from alerts.settings import PatientContext, effective_params, enabled_for


class Settings:
    """Settings of one check for a set of patients (care-plan and practice overrides applied)."""

    def __init__(
        self, conn: psycopg.Connection, spec: RuleSpec, patients: Sequence[uuid.UUID], now: datetime
    ):
        self.spec = spec
        self.index = {p: i for i, p in enumerate(patients)}
        self.context: PatientContext = load_context(conn, list(patients), now)

    def practice(self, patient: uuid.UUID) -> uuid.UUID:
        return self.context.practice_ids[self.index[patient]]

    def enabled(self, patient: uuid.UUID) -> bool:
        i = self.index[patient]
        return enabled_for(self.spec, self.context.conditions[i], *self.context.layers(i))

    def params(self, patient: uuid.UUID) -> RuleParams:
        return effective_params(self.spec, *self.context.layers(self.index[patient]))


def settle(
    conn: psycopg.Connection,
    s: Settings,
    firing: dict[uuid.UUID, tuple[Evidence, dict[str, Any]]],
    now: datetime,
    note: str,
) -> Outcome:
    """Request alerts for the patients in `firing`; auto-resolve the check's alerts of every other patient."""
    requests = [
        AlertRequest(
            s.practice(p), p, s.spec, [evidence], explanation(s.spec, s.params(p).model_dump(), **window)
        )
        for p, (evidence, window) in firing.items()
    ]
    outcome = request_alerts(conn, requests, now)
    calm = [(s.practice(p), p, s.spec.name) for p in s.index if p not in firing]
    outcome.auto_resolved = auto_resolve(conn, calm, now, note)
    return outcome
