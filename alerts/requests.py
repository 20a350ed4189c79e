"""From engine findings to alert requests: new (fresh) evidence per (patient, rule), explained."""

from __future__ import annotations

import itertools
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
    """The evidence of the finding's readings `rows`, its columns turned into Python values once per finding
    (a numpy scalar per field and reading cost more than the rest of the request)."""
    pos = f.pos[rows]
    raw_ids = r.ids[pos].tobytes()
    keys = [reading_key(raw_ids[i : i + 16]) for i in range(0, len(raw_ids), 16)]
    kinds = [KIND_NAMES[k] for k in r.kind[pos].tolist()]
    times = r.t[pos].tolist()
    values = f.value[rows].tolist()
    severities = np.nan_to_num(f.severity[rows]).tolist()
    shown = {name: column[rows].tolist() for name, column in f.details.items()}
    items = []
    for i, key in enumerate(keys):
        details: dict[str, Any] = {"reading_id": key, "kind": kinds[i]}
        details |= {name: _clean(column[i]) for name, column in shown.items()}
        items.append(
            Evidence(
                key=key,
                observed_at=_at(times[i]),
                value=_clean(values[i]),
                severity=float(severities[i]),
                details=details,
            )
        )
    return items


def reading_requests(
    evaluation: Evaluation, r: Readings, context: PatientContext, fresh_since_ms: int
) -> list[AlertRequest]:
    """One request per (patient, rule) with fired readings ingested at or after `fresh_since_ms`."""
    requests = []
    dumped: dict[tuple[str, int], dict[str, Any]] = {}  # patients sharing settings share their dump
    for f in evaluation.findings:
        fresh = np.flatnonzero(r.ingested[f.pos] >= fresh_since_ms)
        if fresh.size == 0:
            continue
        evidence = _evidence(r, f, fresh)
        segs = r.seg[f.pos[fresh]]
        bounds = [*np.flatnonzero(np.r_[True, segs[1:] != segs[:-1]]).tolist(), fresh.size]
        for start, end in itertools.pairwise(bounds):
            seg = int(segs[start])
            key = (f.rule.name, id(f.table.params[seg]))  # the defaults are None
            if key not in dumped:
                dumped[key] = f.table.params_of(seg, f.rule).model_dump()
            params = dict(dumped[key])
            items = evidence[start:end]
            requests.append(
                AlertRequest(
                    practice_id=context.practice_ids[seg],
                    patient_id=context.patient_ids[seg],
                    spec=f.rule,
                    evidence=items,
                    explanation=explanation(
                        f.rule,
                        params,
                        lookback_days=MAX_WINDOW_MS / 86_400_000,
                        first=items[0].observed_at.isoformat(),
                        last=items[-1].observed_at.isoformat(),
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


def recovered(
    evaluation: Evaluation, context: PatientContext, candidates: list[tuple[int, Subject]]
) -> list[int]:
    """Of the patients' resolvable alerts (alerts.lifecycle.resolvable), those of an auto-resolving rule whose
    condition does not hold at the latest reading, for auto-resolution (evidence attached in the same run
    stays on the closed alert's record). A rule that failed has no findings and closes nothing."""
    findings = {f.rule.name: f for f in evaluation.findings if f.rule.auto_resolves}
    segment = {patient: seg for seg, patient in enumerate(context.patient_ids)}
    closing = []
    for alert_id, (practice_id, patient_id, rule) in candidates:
        f = findings.get(rule)
        seg = segment.get(patient_id)
        if f is None or seg is None or context.practice_ids[seg] != practice_id:
            continue
        if not f.active[seg]:
            closing.append(alert_id)
    return closing
