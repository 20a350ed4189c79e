"""The alert queue and every action on an alert (through alerts.service.AlertService).

Reads (queue, one alert with its evidence) need clinical_read: care managers, clinicians, admins. Actions
need alert_work: care managers and clinicians. Billers get neither (auth/roles.py). An alert of another
practice answers 404 whatever the caller's role, before the role is checked, like a patient (api/scope.py).
Errors of the alert engine are translated once, here, by class.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, Path, Query, Request
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from alerts import errors as alert_errors
from alerts.lifecycle import ACTIVE_STATES
from alerts.service import SNOOZE_PRESETS, AlertService
from careteam_api import audit
from careteam_api.api import API_PREFIX
from careteam_api.api.schemas import TimeEntryPublic
from careteam_api.auth.deps import CurrentUser, require
from careteam_api.auth.roles import Capability, allows
from careteam_api.auth.sessions import Principal
from careteam_api.db import DbSession
from careteam_api.errors import BadRequest, Conflict, Forbidden, NotFound

router = APIRouter(prefix=API_PREFIX + "/alerts", tags=["alerts"])

AlertState = Literal["open", "claimed", "acknowledged", "snoozed", "resolved", "auto_resolved"]
Priority = Literal["critical", "high", "low"]
SnoozePreset = Literal[tuple(SNOOZE_PRESETS)]  # type: ignore[valid-type]  # derived: never a second list
_NO_NUL = r"^[^\x00]*$"
_SAYS_SOMETHING = r"^[^\x00]*\S[^\x00]*$"  # not blank, no NUL (PostgreSQL text cannot hold it)
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- schemas: *Create/*Update in, *Public out -----------------------------------------------------------
class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AlertNoteCreate(_In):
    """Acknowledge or resolve: the note says what was done (it goes into the time entry)."""

    note: str = Field(min_length=1, max_length=2000, pattern=_SAYS_SOMETHING)


class AlertOptionalNoteCreate(_In):
    note: str | None = Field(default=None, max_length=2000, pattern=_NO_NUL)


class SnoozeCreate(AlertOptionalNoteCreate):
    preset: SnoozePreset = Field(description="how long the alert leaves the queue")


class ReassignCreate(AlertOptionalNoteCreate):
    user_id: uuid.UUID = Field(description="a care manager or clinician of your practice")


class ReviewTimeUpdate(_In):
    """Correct your credited review of this alert (for example a review beyond the 30-minute cap)."""

    minutes: int = Field(ge=1, le=720)
    reason: str = Field(min_length=1, max_length=1000, pattern=_SAYS_SOMETHING)


class AlertPublic(_Out):
    alert_id: int
    patient_id: uuid.UUID | None = Field(description="null for an alert about the practice's alerting itself")
    patient_name: str | None
    rule: str
    category: str
    priority: Priority
    state: AlertState
    summary: str | None
    opened_at: datetime
    first_seen: datetime
    last_seen: datetime
    evidence_count: int
    worst_value: float | None
    claimed_by: uuid.UUID | None
    claimed_at: datetime | None
    assigned_to: uuid.UUID | None
    escalation_level: int
    acknowledged_by: uuid.UUID | None
    acknowledged_at: datetime | None
    snoozed_until: datetime | None
    closed_at: datetime | None
    updated_at: datetime


class AlertPage(_Out):
    items: list[AlertPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class ExplanationPublic(_Out):
    rule: str
    summary: str | None = None
    source: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict, description="the rule's parameters in force")
    window: dict[str, Any] = Field(default_factory=dict, description="the window the rule looked at")


class TriggeringReading(_Out):
    reading_id: uuid.UUID
    measured_at: datetime
    kind: str
    values: dict[str, float]


class EvidencePublic(_Out):
    key: str = Field(description="the reading id, or the fact a check found (e.g. no_data:<date>)")
    observed_at: datetime
    value: float | None
    details: dict[str, Any]
    reading: TriggeringReading | None = Field(description="the reading itself, when the evidence is one")


class AlertEventPublic(_Out):
    event_id: int
    at: datetime
    actor_id: uuid.UUID | None = Field(description="null: the alert engine")
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    details: dict[str, Any]


class ReviewPublic(_Out):
    started_at: datetime
    elapsed_seconds: int = Field(description="of your running review, when this answer was made")


class AlertDetail(AlertPublic):
    explanation: ExplanationPublic
    evidence: list[EvidencePublic]
    events: list[AlertEventPublic]
    review: ReviewPublic | None = Field(
        description="your running review session (its time is credited later)"
    )


class AlertActionPublic(_Out):
    alert: AlertPublic
    time_entry: TimeEntryPublic | None = Field(
        None, description="the review time credited by acknowledge or resolve (none under 30 seconds)"
    )


# --- tenancy and authorisation as dependencies -----------------------------------------------------------
AlertIdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="an alert of your practice")]


@dataclass(frozen=True)
class ScopedAlert:
    alert_id: int
    patient_id: uuid.UUID | None
    user: Principal


def alert_scope(capability: Capability):
    """Resolve the alert within the caller's practice (404 otherwise), audit it, then check the role."""

    def load(alert_id: AlertIdPath, request: Request, conn: DbSession, user: CurrentUser) -> ScopedAlert:
        row = conn.execute(
            "SELECT patient_id FROM alerts WHERE alert_id = %s AND practice_id = %s",
            (alert_id, user.practice_id),
        ).fetchone()
        if row is None:
            raise NotFound(f"no alert {alert_id} in your practice")
        action = "read" if request.method in ("GET", "HEAD") else "update"
        audit.record(conn, request, user, patient_id=row[0], action=action, alert_id=alert_id)
        if not allows(user.role, capability):
            raise Forbidden(f"a {user.role} may not do this (needs {capability.value})")
        return ScopedAlert(alert_id, row[0], user)

    load.capability = capability  # type: ignore[attr-defined]
    return load


ReadableAlert = Annotated[ScopedAlert, Depends(alert_scope(Capability.CLINICAL_READ))]
WorkableAlert = Annotated[ScopedAlert, Depends(alert_scope(Capability.ALERT_WORK))]
AlertReader = Annotated[Principal, Depends(require(Capability.CLINICAL_READ))]


def alert_service(conn: DbSession) -> AlertService:
    return AlertService(conn)


Service = Annotated[AlertService, Depends(alert_service)]


@contextmanager
def engine_errors(conn: psycopg.Connection) -> Iterator[None]:
    """The alert engine's refusals as API errors, told apart by class."""
    try:
        yield
    except alert_errors.AlreadyClaimed as exc:
        row = conn.execute("SELECT full_name FROM users WHERE user_id = %s", (exc.claimed_by,)).fetchone()
        who = row[0] if row else "another care manager"
        raise Conflict(
            f"alert {exc.alert_id} is already claimed by {who}: reload the queue, or ask them to reassign it"
        ) from exc
    except alert_errors.InvalidTransition as exc:
        raise Conflict(f"{exc} (reload the alert to see its current state)") from exc
    except alert_errors.NotFound as exc:
        raise NotFound(str(exc)) from exc
    except alert_errors.Forbidden as exc:
        raise Forbidden(str(exc)) from exc
    except alert_errors.AlertError as exc:
        raise BadRequest(str(exc)) from exc


# --- reading ---------------------------------------------------------------------------------------------
_SELECT = (
    "SELECT a.alert_id, a.patient_id, p.given_name || ' ' || p.family_name AS patient_name, a.rule,"
    " a.category, a.priority, a.priority_rank, a.state, a.explanation->>'summary' AS summary, a.opened_at,"
    " a.first_seen, a.last_seen, a.evidence_count, a.worst_value, a.claimed_by, a.claimed_at, a.assigned_to,"
    " a.escalation_level, a.acknowledged_by, a.acknowledged_at, a.snoozed_until, a.closed_at, a.updated_at,"
    " a.explanation FROM alerts a LEFT JOIN patients p ON p.patient_id = a.patient_id"
)
_TEAM_OF_PATIENT = (
    "(SELECT pa.care_team_id FROM patient_assignments pa WHERE pa.patient_id = a.patient_id"
    " AND pa.effective_from <= current_date ORDER BY pa.effective_from DESC, pa.assignment_id DESC LIMIT 1)"
)


def _encode_cursor(row: dict[str, Any]) -> str:
    key = [row["priority_rank"], row["opened_at"].isoformat(), row["alert_id"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    try:
        rank, opened, alert_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not (isinstance(rank, int) and isinstance(alert_id, int) and 0 <= rank <= 2 and alert_id >= 1):
            raise ValueError("key")
        at = datetime.fromisoformat(opened)
        if at.tzinfo is None or not 2000 <= at.year <= 2100 or alert_id > 2**63 - 1:
            raise ValueError("time")
        return rank, at, alert_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            "the cursor is not one this API returned; pass next_cursor from the previous page"
        ) from exc


def _one(conn: psycopg.Connection, practice_id: uuid.UUID, alert_id: int) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            _SELECT + " WHERE a.alert_id = %s AND a.practice_id = %s", (alert_id, practice_id)
        ).fetchone()
    if row is None:
        raise NotFound(f"no alert {alert_id} in your practice")
    return row


@router.get("", response_model=AlertPage)
def list_alerts(
    request: Request,
    conn: DbSession,
    user: AlertReader,
    state: Annotated[list[AlertState] | None, Query(description="default: the active states")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    care_team_id: Annotated[
        uuid.UUID | None, Query(description="patients this care team looks after")
    ] = None,
    patient_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertPage:
    """The practice's queue: critical first, then high, then low; oldest first within a priority."""
    where = ["a.practice_id = %(practice)s", "a.state = ANY(%(states)s)"]
    args: dict[str, Any] = {
        "practice": user.practice_id,
        "states": list(state or ACTIVE_STATES),
        "limit": limit + 1,
    }
    if priority:
        where.append("a.priority = ANY(%(priorities)s)")
        args["priorities"] = list(priority)
    if care_team_id is not None:
        where.append(f"{_TEAM_OF_PATIENT} = %(team)s")
        args["team"] = care_team_id
    if patient_id is not None:
        where.append("a.patient_id = %(patient)s")
        args["patient"] = patient_id
    if cursor:
        args["rank"], args["opened"], args["after"] = _decode_cursor(cursor)
        where.append("(a.priority_rank, a.opened_at, a.alert_id) > (%(rank)s, %(opened)s, %(after)s)")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"{_SELECT} WHERE {' AND '.join(where)}"
            " ORDER BY a.priority_rank, a.opened_at, a.alert_id LIMIT %(limit)s",
            args,
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record(conn, request, user, patient_id=patient_id, alerts=len(rows))
    return AlertPage(
        items=[AlertPublic.model_validate(r) for r in rows],
        next_cursor=_encode_cursor(rows[-1]) if more else None,
    )


_OBSERVED_SLACK = timedelta(seconds=1)
"""The engine keeps times in whole milliseconds; the window bounds only let the hypertable skip chunks."""


def _readings(
    conn: psycopg.Connection, patient_id: uuid.UUID | None, evidence: list[dict[str, Any]]
) -> dict[str, TriggeringReading]:
    """The readings named by the evidence (keys that are reading ids), by key."""
    keyed = [e for e in evidence if isinstance(e["evidence_key"], str) and _is_uuid(e["evidence_key"])]
    if patient_id is None or not keyed:
        return {}
    times = [e["observed_at"] for e in keyed]
    metrics = ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "glucose_mg_dl", "weight_kg", "bmi")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT reading_id, measured_at, kind, {', '.join(metrics)} FROM readings"
            " WHERE patient_id = %s AND reading_id = ANY(%s) AND measured_at BETWEEN %s AND %s",
            (
                patient_id,
                [uuid.UUID(e["evidence_key"]) for e in keyed],
                min(times) - _OBSERVED_SLACK,
                max(times) + _OBSERVED_SLACK,
            ),
        ).fetchall()
    return {
        str(r["reading_id"]): TriggeringReading(
            reading_id=r["reading_id"],
            measured_at=r["measured_at"],
            kind=r["kind"],
            values={m: r[m] for m in metrics if r[m] is not None},
        )
        for r in rows
    }


def _is_uuid(text: str) -> bool:
    return _UUID_TEXT.fullmatch(text) is not None


def _review(conn: psycopg.Connection, alert_id: int, user_id: uuid.UUID) -> ReviewPublic | None:
    row = conn.execute(
        "SELECT started_at FROM alert_reviews WHERE alert_id = %s AND user_id = %s AND ended_at IS NULL",
        (alert_id, user_id),
    ).fetchone()
    if row is None:
        return None
    elapsed = max(0, int((datetime.now(UTC) - row[0]).total_seconds()))
    return ReviewPublic(started_at=row[0], elapsed_seconds=elapsed)


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(alert: ReadableAlert, conn: DbSession, service: Service) -> AlertDetail:
    """The alert with why it fired (rule, parameters, window), the triggering readings and its history.
    A care manager or clinician opening an active alert starts a review session (credited at acknowledge
    or resolve)."""
    user = alert.user
    with engine_errors(conn):
        view = service.get_alert(user.user_id, alert.alert_id)
    row = _one(conn, user.practice_id, alert.alert_id)
    readings = _readings(conn, alert.patient_id, view.evidence)
    explanation = dict(row["explanation"] or {})
    return AlertDetail(
        **AlertPublic.model_validate(row).model_dump(),
        explanation=ExplanationPublic(
            rule=explanation.get("rule", row["rule"]),
            summary=explanation.get("summary"),
            source=explanation.get("source"),
            parameters=explanation.get("parameters") or {},
            window=explanation.get("window") or {},
        ),
        evidence=[
            EvidencePublic(
                key=e["evidence_key"],
                observed_at=e["observed_at"],
                value=e["value"],
                details=e["details"] or {},
                reading=readings.get(e["evidence_key"]),
            )
            for e in view.evidence
        ],
        events=[AlertEventPublic.model_validate(e) for e in view.events],
        review=_review(conn, alert.alert_id, user.user_id),
    )


# --- acting ----------------------------------------------------------------------------------------------
_ENTRY_COLUMNS = ", ".join(TimeEntryPublic.model_fields)


def _time_entry(conn: psycopg.Connection, entry_id: int | None) -> TimeEntryPublic | None:
    if entry_id is None:
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM time_entries WHERE entry_id = %s", (entry_id,)
        ).fetchone()
    return TimeEntryPublic.model_validate(row) if row else None


def _credited(conn: psycopg.Connection, alert_id: int, action: str) -> int | None:
    """The time entry the action just credited, as its event recorded it."""
    row = conn.execute(
        "SELECT (details->>'time_entry_id')::bigint FROM alert_events WHERE alert_id = %s AND action = %s"
        " ORDER BY event_id DESC LIMIT 1",
        (alert_id, action),
    ).fetchone()
    return row[0] if row else None


def _answer(conn: psycopg.Connection, alert: ScopedAlert, entry_id: int | None = None) -> AlertActionPublic:
    row = _one(conn, alert.user.practice_id, alert.alert_id)
    return AlertActionPublic(alert=AlertPublic.model_validate(row), time_entry=_time_entry(conn, entry_id))


@router.post("/{alert_id}/claim", response_model=AlertActionPublic)
def claim(alert: WorkableAlert, conn: DbSession, service: Service) -> AlertActionPublic:
    """Take an open alert and start your review timer. Of simultaneous claims one wins; the others get 409."""
    with engine_errors(conn):
        service.claim(alert.user.user_id, alert.alert_id)
    return _answer(conn, alert)


@router.post("/{alert_id}/acknowledge", response_model=AlertActionPublic)
def acknowledge(
    alert: WorkableAlert, body: AlertNoteCreate, conn: DbSession, service: Service
) -> AlertActionPublic:
    """Seen and acted on; the review time (from claim or open) is credited as a CCM/RPM time entry."""
    with engine_errors(conn):
        service.acknowledge(alert.user.user_id, alert.alert_id, body.note.strip())
    return _answer(conn, alert, _credited(conn, alert.alert_id, "acknowledged"))


@router.post("/{alert_id}/resolve", response_model=AlertActionPublic)
def resolve(
    alert: WorkableAlert, body: AlertNoteCreate, conn: DbSession, service: Service
) -> AlertActionPublic:
    """Closed by a person; credits any running review."""
    with engine_errors(conn):
        service.resolve(alert.user.user_id, alert.alert_id, body.note.strip())
    return _answer(conn, alert, _credited(conn, alert.alert_id, "resolved"))


@router.post("/{alert_id}/snooze", response_model=AlertActionPublic)
def snooze(alert: WorkableAlert, body: SnoozeCreate, conn: DbSession, service: Service) -> AlertActionPublic:
    """Out of the queue for a preset time (1h, 4h, 24h, 3d); raised again when it has passed."""
    with engine_errors(conn):
        service.snooze(alert.user.user_id, alert.alert_id, body.preset, body.note)
    return _answer(conn, alert)


@router.post("/{alert_id}/escalate", response_model=AlertActionPublic)
def escalate(
    alert: WorkableAlert, body: AlertOptionalNoteCreate, conn: DbSession, service: Service
) -> AlertActionPublic:
    """One escalation step now: to the second care manager, then the clinician on call."""
    with engine_errors(conn):
        service.escalate(alert.user.user_id, alert.alert_id, body.note)
    return _answer(conn, alert)


@router.post("/{alert_id}/reassign", response_model=AlertActionPublic)
def reassign(
    alert: WorkableAlert, body: ReassignCreate, conn: DbSession, service: Service
) -> AlertActionPublic:
    """Hand the alert to another care manager or clinician of your practice (a claim moves with it)."""
    row = conn.execute(
        "SELECT 1 FROM users WHERE user_id = %s AND practice_id = %s AND active"
        " AND role IN ('care_manager', 'clinician')",
        (body.user_id, alert.user.practice_id),
    ).fetchone()
    if row is None:
        raise BadRequest(f"user {body.user_id} is not an active care manager or clinician of your practice")
    with engine_errors(conn):
        service.reassign(alert.user.user_id, alert.alert_id, body.user_id, body.note)
    return _answer(conn, alert)


@router.patch("/{alert_id}/review-time", response_model=AlertActionPublic)
def edit_review_time(
    alert: WorkableAlert, body: ReviewTimeUpdate, conn: DbSession, service: Service
) -> AlertActionPublic:
    """Correct the minutes credited for your review of this alert, with the reason (the original entry stays
    on record; the correction replaces it in billing)."""
    row = conn.execute(
        "SELECT time_entry_id FROM alert_reviews WHERE alert_id = %s AND user_id = %s"
        " AND time_entry_id IS NOT NULL ORDER BY review_id DESC LIMIT 1",
        (alert.alert_id, alert.user.user_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"you have no credited review of alert {alert.alert_id} to correct")
    with engine_errors(conn):
        entry_id = service.edit_review_time(alert.user.user_id, row[0], body.minutes, body.reason.strip())
    return _answer(conn, alert, entry_id)
