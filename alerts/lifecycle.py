"""The lifecycle decides what becomes of alert requests: one active alert per (practice, patient, rule).

A request carries evidence, each piece with a stable key (a reading id, or a named fact of a check). Evidence
already on record for that (patient, rule) is ignored, so evaluating the same window twice changes nothing and
a resolved alert is never re-opened by the readings that opened it. New evidence opens an alert, or
attaches to
the active one (count, worst value, last seen). A critical request re-raises a snoozed alert at once.
The caller owns the transaction and, for readings, holds the patients' advisory locks (alerts.locks).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from alerts import events
from alerts.rules.base import RuleSpec

ACTIVE_STATES = ("open", "claimed", "acknowledged", "snoozed")
AUTO_RESOLVABLE_STATES = ("open", "snoozed", "acknowledged")
"""Condition gone: auto-resolve, except while someone has the alert claimed (they are working it)."""


@dataclass(frozen=True)
class Evidence:
    key: str
    observed_at: datetime
    value: float | None
    severity: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRequest:
    """A rule asks for an alert about (practice, patient) with this evidence and explanation."""

    practice_id: uuid.UUID
    patient_id: uuid.UUID | None
    spec: RuleSpec
    evidence: list[Evidence]
    explanation: dict[str, Any]


@dataclass
class Outcome:
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    reraised: list[int] = field(default_factory=list)
    auto_resolved: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Active:
    alert_id: int
    state: str
    worst_severity: float | None


Subject = tuple[uuid.UUID, uuid.UUID | None, str]
_Keyed = TypeVar("_Keyed", bound=tuple[Any, ...])
"""A subject, or a subject with an evidence key: (practice, patient, rule, ...)."""


def _by_patient(subjects: list[_Keyed]) -> tuple[list[_Keyed], list[_Keyed]]:
    """Subjects about a patient, and those about a practice (patient None). Matched apart: with
    `patient_id IS NOT DISTINCT FROM` the planner could only hash on (practice, rule) and filter every pair of
    a rule (113,000 pairs for 120 subjects against 1,400 active alerts, 12 ms), and no index serves it."""
    return [s for s in subjects if s[1] is not None], [s for s in subjects if s[1] is None]


def _active(conn: psycopg.Connection, subjects: list[Subject]) -> dict[Subject, _Active]:
    found: dict[Subject, _Active] = {}
    for group, patient_match in zip(
        _by_patient(subjects), ("a.patient_id = s.patient_id", "a.patient_id IS NULL"), strict=True
    ):
        if not group:
            continue
        rows = conn.execute(
            "SELECT a.practice_id, a.patient_id, a.rule, a.alert_id, a.state, a.worst_severity"
            " FROM unnest(%b::uuid[], %b::uuid[], %b::text[]) AS s(practice_id, patient_id, rule)"
            f" JOIN alerts a ON a.practice_id = s.practice_id AND {patient_match}"
            "  AND a.rule = s.rule AND a.state = ANY(%s)"
            " ORDER BY a.alert_id FOR UPDATE OF a",
            ([s[0] for s in group], [s[1] for s in group], [s[2] for s in group], list(ACTIVE_STATES)),
        ).fetchall()
        found |= {(r[0], r[1], r[2]): _Active(r[3], r[4], r[5]) for r in rows}
    return found


def _known(conn: psycopg.Connection, requests: list[AlertRequest]) -> set[tuple[Subject, str]]:
    items = [
        (request.practice_id, request.patient_id, request.spec.name, item.key)
        for request in requests
        for item in request.evidence
    ]
    known: set[tuple[Subject, str]] = set()
    for group, patient_match in zip(
        _by_patient(items), ("e.patient_id = s.patient_id", "e.patient_id IS NULL"), strict=True
    ):
        if not group:
            continue
        rows = conn.execute(
            "SELECT e.practice_id, e.patient_id, e.rule, e.evidence_key"
            " FROM unnest(%b::uuid[], %b::uuid[], %b::text[], %b::text[])"
            "  AS s(practice_id, patient_id, rule, k)"
            f" JOIN alert_evidence e ON e.practice_id = s.practice_id AND {patient_match}"
            "  AND e.rule = s.rule AND e.evidence_key = s.k",
            _columns(group, 4),
        ).fetchall()
        known |= {((r[0], r[1], r[2]), r[3]) for r in rows}
    return known


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _worst(new: list[Evidence]) -> Evidence:
    return max(new, key=lambda e: e.severity)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Row tuples as column lists, for unnest(): one statement for any number of rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _open_all(
    conn: psycopg.Connection, items: list[tuple[AlertRequest, list[Evidence]]], now: datetime
) -> dict[Subject, int]:
    """Insert the alerts in one statement; returns the ids of those opened (a subject opened meanwhile by a
    caller without the patient lock is left out, and attached to instead)."""
    if not items:
        return {}
    rows = []
    for request, new in items:
        worst = _worst(new)
        rows.append(
            (
                request.practice_id,
                request.patient_id,
                request.spec.name,
                request.spec.category,
                request.spec.priority,
                min(e.observed_at for e in new),
                max(e.observed_at for e in new),
                len(new),
                _number(worst.value),
                worst.severity,
                worst.key,
                Jsonb(request.explanation),
            )
        )
    opened = conn.execute(
        "INSERT INTO alerts (practice_id, patient_id, rule, category, priority, state, opened_at, first_seen,"
        " last_seen, evidence_count, worst_value, worst_severity, worst_key, explanation, updated_at)"
        " SELECT s.practice_id, s.patient_id, s.rule, s.category, s.priority, 'open', %s, s.first_seen,"
        " s.last_seen, s.n, s.worst_value, s.worst_severity, s.worst_key, s.explanation, %s"
        " FROM unnest(%b::uuid[], %b::uuid[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],"
        " %b::timestamptz[], %b::int[], %b::float8[], %b::float8[], %b::text[], %b::jsonb[])"
        " AS s(practice_id, patient_id, rule, category, priority, first_seen, last_seen, n, worst_value,"
        " worst_severity, worst_key, explanation)"
        " ON CONFLICT DO NOTHING RETURNING practice_id, patient_id, rule, alert_id",
        (now, now, *_columns(rows, 12)),
    ).fetchall()
    return {(r[0], r[1], r[2]): r[3] for r in opened}


def _attach_all(
    conn: psycopg.Connection, items: list[tuple[_Active, AlertRequest, list[Evidence]]], now: datetime
) -> list[str]:
    """Add evidence to active alerts in one statement; returns each alert's state afterwards (a critical
    request re-raises a snoozed alert)."""
    states, rows = [], []
    for active, request, new in items:
        worst = _worst(new)
        better = active.worst_severity is None or worst.severity > active.worst_severity
        state = "open" if active.state == "snoozed" and request.spec.priority == "critical" else active.state
        states.append(state)
        rows.append(
            (
                active.alert_id,
                len(new),
                min(e.observed_at for e in new),
                max(e.observed_at for e in new),
                Jsonb(request.explanation),
                state,
                better,
                _number(worst.value),
                worst.severity,
                worst.key,
            )
        )
    if rows:
        conn.execute(
            "UPDATE alerts a SET evidence_count = a.evidence_count + s.n, first_seen ="
            " least(a.first_seen, s.f),"
            " last_seen = greatest(a.last_seen, s.l), explanation = s.explanation, updated_at = %s,"
            " state = s.state, snoozed_until = CASE WHEN s.state = 'snoozed' THEN a.snoozed_until END,"
            " worst_value = CASE WHEN s.better THEN s.wv ELSE a.worst_value END,"
            " worst_severity = CASE WHEN s.better THEN s.ws ELSE a.worst_severity END,"
            " worst_key = CASE WHEN s.better THEN s.wk ELSE a.worst_key END"
            " FROM unnest(%b::bigint[], %b::int[], %b::timestamptz[], %b::timestamptz[], %b::jsonb[],"
            " %b::text[], %b::bool[], %b::float8[], %b::float8[], %b::text[])"
            " AS s(alert_id, n, f, l, explanation, state, better, wv, ws, wk) WHERE a.alert_id = s.alert_id",
            (now, *_columns(rows, 10)),
        )
    return states


def _evidence_all(
    conn: psycopg.Connection, items: list[tuple[int, AlertRequest, list[Evidence]]], now: datetime
) -> None:
    rows = [
        (
            alert_id,
            request.practice_id,
            request.patient_id,
            request.spec.name,
            e.key,
            e.observed_at,
            _number(e.value),
            Jsonb(e.details),
        )
        for alert_id, request, new in items
        for e in new
    ]
    if rows:
        conn.execute(
            "INSERT INTO alert_evidence (alert_id, practice_id, patient_id, rule, evidence_key, observed_at,"
            " value, details, added_at) SELECT s.*, %s FROM unnest(%b::bigint[], %b::uuid[], %b::uuid[],"
            " %b::text[], %b::text[], %b::timestamptz[], %b::float8[], %b::jsonb[]) AS s ON CONFLICT"
            " DO NOTHING",
            (now, *_columns(rows, 8)),
        )


def _summary(new: list[Evidence]) -> dict[str, Any]:
    return {"evidence": [e.key for e in new][:50], "added": len(new)}


def request_alerts(conn: psycopg.Connection, requests: list[AlertRequest], now: datetime) -> Outcome:
    """Open or update alerts for the requests' new evidence (see the module docstring), in a fixed number of
    statements however many requests there are."""
    outcome = Outcome()
    merged: dict[Subject, AlertRequest] = {}
    for request in requests:
        subject = (request.practice_id, request.patient_id, request.spec.name)
        if subject in merged:
            earlier = merged[subject].evidence
            request = AlertRequest(
                *subject[:2], request.spec, earlier + request.evidence, request.explanation
            )
        merged[subject] = request
    known = _known(conn, list(merged.values()))
    active = _active(conn, sorted(merged, key=str))
    fresh: dict[Subject, tuple[AlertRequest, list[Evidence]]] = {}
    for subject, request in merged.items():
        seen: set[str] = set()
        new = []
        for item in request.evidence:
            if (subject, item.key) not in known and item.key not in seen:
                seen.add(item.key)
                new.append(item)
        if new:
            fresh[subject] = (request, new)
    opened = _open_all(conn, [item for subject, item in fresh.items() if subject not in active], now)
    active |= _active(conn, [s for s in fresh if s not in active and s not in opened])
    attach = [(active[s], *fresh[s]) for s in fresh if s not in opened]
    states = _attach_all(conn, attach, now)
    _evidence_all(
        conn, [(opened[s], *fresh[s]) for s in opened] + [(a.alert_id, r, n) for a, r, n in attach], now
    )
    log: list[events.Event] = []
    for subject, alert_id in opened.items():
        log.append(events.Event(alert_id, now, "opened", None, "open", details=_summary(fresh[subject][1])))
        outcome.opened.append(alert_id)
    for (current, _request, new), state in zip(attach, states, strict=True):
        action = "reraised" if state != current.state else "evidence_added"
        log.append(events.Event(current.alert_id, now, action, current.state, state, details=_summary(new)))
        (outcome.reraised if action == "reraised" else outcome.updated).append(current.alert_id)
    events.record_many(conn, log)
    return outcome


def resolvable(conn: psycopg.Connection, patient_ids: list[uuid.UUID]) -> list[tuple[int, Subject]]:
    """The alerts of these patients that could auto-resolve now: (alert_id, subject). One index probe per
    patient; most patients have none."""
    if not patient_ids:
        return []
    rows = conn.execute(
        "SELECT alert_id, practice_id, patient_id, rule FROM alerts"
        " WHERE patient_id = ANY(%b::uuid[]) AND state = ANY(%s)",
        (patient_ids, list(AUTO_RESOLVABLE_STATES)),
    ).fetchall()
    return [(r[0], (r[1], r[2], r[3])) for r in rows]


def close_recovered(conn: psycopg.Connection, alert_ids: list[int], now: datetime, note: str) -> list[int]:
    """Auto-resolve these alerts. The state is checked again, so an alert claimed meanwhile stays open (the
    person working it closes it); the old state in RETURNING comes from a subquery, which sees the table as
    the statement began."""
    if not alert_ids:
        return []
    rows = conn.execute(
        "UPDATE alerts a SET state = 'auto_resolved', closed_at = %s, snoozed_until = NULL, updated_at = %s"
        " WHERE a.alert_id = ANY(%s) AND a.state = ANY(%s)"
        " RETURNING a.alert_id, (SELECT state FROM alerts b WHERE b.alert_id = a.alert_id)",
        (now, now, sorted(alert_ids), list(AUTO_RESOLVABLE_STATES)),
    ).fetchall()
    log = [
        events.Event(alert_id, now, "auto_resolved", before, "auto_resolved", note=note)
        for alert_id, before in rows
    ]
    events.record_many(conn, log)
    return [row[0] for row in rows]


def auto_resolve(conn: psycopg.Connection, subjects: list[Subject], now: datetime, note: str) -> list[int]:
    """Close the active alerts of these (patient) subjects whose condition is gone (state auto_resolved).
    The patients' resolvable alerts are looked up and matched here: most subjects have no alert, and sending
    them all made the statement slow (5,000 subjects for a batch of 500 patients)."""
    if not subjects:
        return []
    wanted = set(subjects)
    candidates = resolvable(conn, list(dict.fromkeys(s[1] for s in subjects if s[1] is not None)))
    closing = [alert_id for alert_id, subject in candidates if subject in wanted]
    return close_recovered(conn, closing, now, note)
