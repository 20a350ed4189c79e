"""From engine findings to alert requests: new (fresh) evidence per (patient, rule), explained."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from alerts.engine import Evaluation, RuleFindings
from alerts.lifecycle import AlertRequest, Evidence
from alerts.readings import KIND_NAMES, Readings, reading_key
from alerts.rules import time_based
from alerts.rules.base import RuleSpec
from alerts.settings import PatientContext
from alerts.window import MAX_WINDOW_MS

Subject = tuple[Any, Any, str]


def explanation(spec: RuleSpec, params: dict[str, Any], **window: Any) -> dict[str, Any]:
    """What an alert shows about why it fired (stored with the alert, refreshed with new evidence)."""
    return {
        "version": 1,
        "rule": spec.name,
        "summary": spec.summary,
        "source": spec.source,
        "priority": spec.priority,
        "category": spec.category,
        "parameters": params,
        "window": window,
    }


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 2)


def _evidence(r: Readings, f: RuleFindings, rows: np.ndarray) -> list[Evidence]:
    items = []
    for j in rows:
        pos = int(f.pos[j])
        details: dict[str, Any] = {
            "reading_id": reading_key(r.ids[pos]),
            "kind": KIND_NAMES[int(r.kind[pos])],
        }
        details |= {name: _clean(column[j]) for name, column in f.details.items()}
        items.append(
            Evidence(
                key=details["reading_id"],
                observed_at=_at(int(r.t[pos])),
                value=_clean(f.value[j]),
                severity=float(np.nan_to_num(f.severity[j])),
                details=details,
            )
        )
    return items


def reading_requests(
    evaluation: Evaluation, r: Readings, context: PatientContext, fresh_since_ms: int
) -> list[AlertRequest]:
    """One request per (patient, rule) with fired readings ingested at or after `fresh_since_ms`."""
    requests = []
    for f in evaluation.findings:
        fresh = np.flatnonzero(r.ingested[f.pos] >= fresh_since_ms)
        if fresh.size == 0:
            continue
        segs = r.seg[f.pos[fresh]]
        starts = np.flatnonzero(np.r_[True, segs[1:] != segs[:-1]])
        for rows in np.split(fresh, starts[1:]):
            seg = int(r.seg[f.pos[rows[0]]])
            params = f.table.params_of(seg, f.rule).model_dump()
            evidence = _evidence(r, f, rows)
            requests.append(
                AlertRequest(
                    practice_id=context.practice_ids[seg],
                    patient_id=context.patient_ids[seg],
                    spec=f.rule,
                    evidence=evidence,
                    explanation=explanation(
                        f.rule,
                        params,
                        lookback_days=MAX_WINDOW_MS / 86_400_000,
                        first=evidence[0].observed_at.isoformat(),
                        last=evidence[-1].observed_at.isoformat(),
                    ),
                )
            )
    return requests


def engine_requests(evaluation: Evaluation, context: PatientContext, now: datetime) -> list[AlertRequest]:
    """A failed rule is an engine_error alert in every practice whose patients it failed to evaluate."""
    requests = []
    for failure in evaluation.failures:
        for practice_id in sorted(set(context.practice_ids), key=str):
            evidence = Evidence(
                key=f"{failure.rule}@{now.isoformat()}",
                observed_at=now,
                value=None,
                severity=0.0,
                details={"rule": failure.rule, "error": failure.error, "patients": len(context)},
            )
            requests.append(
                AlertRequest(
                    practice_id,
                    None,
                    time_based.ENGINE_ERROR,
                    [evidence],
                    explanation(time_based.ENGINE_ERROR, {}, failed_rule=failure.rule),
                )
            )
    for index, problem in context.config_problems.items():
        evidence = Evidence(
            key="care_plan:" + "|".join(problem.problems)[:500],
            observed_at=now,
            value=None,
            severity=0.0,
            details={"problems": problem.problems},
        )
        requests.append(
            AlertRequest(
                context.practice_ids[index],
                context.patient_ids[index],
                time_based.RULE_CONFIG_ERROR,
                [evidence],
                explanation(time_based.RULE_CONFIG_ERROR, {}, source=problem.source),
            )
        )
    return requests


def recovered(evaluation: Evaluation, context: PatientContext) -> list[Subject]:
    """(practice, patient, rule) whose condition does not hold at the latest reading, for auto-resolution
    (evidence attached in the same run stays on the closed alert's record)."""
    subjects = []
    for f in evaluation.findings:
        if not f.rule.auto_resolves:
            continue
        for seg in np.flatnonzero(~f.active):
            subjects.append((context.practice_ids[seg], context.patient_ids[seg], f.rule.name))
    return subjects
