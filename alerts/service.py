"""The care-manager service API (what careteam_api's routes call): queues, evidence, and every action on an
alert. Each call takes the acting user's id and enforces practice tenancy: an alert of another practice is
'not found'. The caller owns the transaction; claims are one atomic UPDATE ... WHERE state = 'open', so two
care managers (or two API workers) can never both hold an alert.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from alerts import escalation, events, review_time
from alerts.clock import Clock, SystemClock
from alerts.errors import AlreadyClaimed, Forbidden, InvalidTransition, NotFound
from alerts.lifecycle import ACTIVE_STATES
from alerts.settings import validate_overrides
from careteam_api.program.errors import NotFound as ProgramNotFound
from careteam_api.program.models import User
from careteam_api.program.team import get_user

SNOOZE_PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "24h": timedelta(hours=24),
    "3d": timedelta(days=3),
}
"""Fixed lengths, so a snooze is a decision from a short list and never 'forever'."""
ACTORS = ("care_manager", "clinician")
"""Roles that may change alerts, as `careteam_api.auth.roles` grants `ALERT_WORK`: clinical staff. Admins and
billers read queues (alert volumes are a program metric) but act on none."""

_ALERT_COLUMNS = (
    "a.alert_id, a.practice_id, a.patient_id, a.rule, a.category, a.priority, a.state, a.opened_at,"
    " a.first_seen, a.last_seen, a.evidence_count, a.worst_value, a.explanation, a.claimed_by, a.claimed_at,"
    " a.assigned_to, a.escalation_level, a.acknowledged_by, a.acknowledged_at, a.snoozed_until, a.closed_at,"
    " a.updated_at"
)


@dataclass(frozen=True)
class AlertView:
    """An alert as the API shows it; `evidence` and `events` are filled by get_alert only."""

    alert: dict[str, Any]
    evidence: list[dict[str, Any]]
    events: list[dict[str, Any]]


class AlertService:
    def __init__(self, conn: psycopg.Connection, clock: Clock | None = None) -> None:
        self.conn = conn
        self.clock = clock or SystemClock()

    # --- who -------------------------------------------------------------------------------------------
    def _user(self, user_id: uuid.UUID, *, act: bool = True) -> User:
        try:
            user = get_user(self.conn, user_id)
        except ProgramNotFound as exc:
            raise NotFound(f"no user {user_id}") from exc
        if not user.active:
            raise Forbidden(f"user {user_id} is inactive")
        if act and user.role not in ACTORS:
            raise Forbidden(f"a {user.role} cannot change alerts (roles that can: {', '.join(ACTORS)})")
        return user

    def _alert(self, user: User, alert_id: int, *, lock: bool = True) -> dict[str, Any]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts a WHERE a.alert_id = %s AND a.practice_id = %s"
                + (" FOR UPDATE" if lock else ""),
                (alert_id, user.practice_id),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"no alert {alert_id} in your practice")
        return row

    def _change(
        self,
        user: User,
        alert: dict[str, Any],
        action: str,
        to: str,
        sets: str,
        args: tuple[Any, ...],
        note: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = self.clock.now()
        self.conn.execute(
            f"UPDATE alerts SET {sets}, state = %s, updated_at = %s WHERE alert_id = %s",
            (*args, to, now, alert["alert_id"]),
        )
        events.record(
            self.conn,
            alert["alert_id"],
            at=now,
            action=action,
            from_state=alert["state"],
            to_state=to,
            actor=user.user_id,
            note=note,
            details=details,
        )
        return self._alert(user, alert["alert_id"], lock=False)

    # --- reading -----------------------------------------------------------------------------------------
    def list_queue(
        self,
        user_id: uuid.UUID,
        *,
        care_team_id: uuid.UUID | None = None,
        states: tuple[str, ...] = ACTIVE_STATES,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """The practice's queue (or one care team's), critical first, then oldest first."""
        user = self._user(user_id, act=False)
        team_filter = ""
        args: dict[str, Any] = {
            "practice": user.practice_id,
            "states": list(states),
            "limit": limit,
            "team": care_team_id,
            "today": self.clock.now(),
        }
        if care_team_id is not None:
            team_filter = (
                " AND (SELECT pa.care_team_id FROM patient_assignments pa WHERE pa.patient_id = a.patient_id"
                "  AND pa.effective_from <= %(today)s::date ORDER BY pa.effective_from DESC,"
                " pa.assignment_id DESC"
                "  LIMIT 1) = %(team)s"
            )
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts a WHERE a.practice_id = %(practice)s"
                f" AND a.state = ANY(%(states)s){team_filter}"
                " ORDER BY a.priority_rank, a.opened_at, a.alert_id LIMIT %(limit)s",
                args,
            )
            return cur.fetchall()

    def get_alert(self, user_id: uuid.UUID, alert_id: int) -> AlertView:
        """The alert with its evidence and history. A care manager or clinician opening an active alert starts
        a review session (its time is credited at acknowledge or resolve)."""
        user = self._user(user_id, act=False)
        alert = self._alert(user, alert_id, lock=False)
        if alert["state"] in ACTIVE_STATES and user.role in ("care_manager", "clinician"):
            review_time.start(self.conn, alert_id, user.user_id, self.clock.now())
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT evidence_key, observed_at, value, details, added_at FROM alert_evidence"
                " WHERE alert_id = %s ORDER BY observed_at, evidence_key",
                (alert_id,),
            )
            evidence = cur.fetchall()
            cur.execute(
                "SELECT event_id, at, actor_id, action, from_state, to_state, note, details FROM alert_events"
                " WHERE alert_id = %s ORDER BY event_id",
                (alert_id,),
            )
            history = cur.fetchall()
        return AlertView(alert, evidence, history)

    # --- acting ------------------------------------------------------------------------------------------
    def claim(self, user_id: uuid.UUID, alert_id: int) -> dict[str, Any]:
        """Take an open alert; exactly one of several simultaneous claims wins (the others get"
        " AlreadyClaimed)."""
        user = self._user(user_id)
        now = self.clock.now()
        row = self.conn.execute(
            "UPDATE alerts SET state = 'claimed', claimed_by = %s, claimed_at = %s, updated_at = %s"
            " WHERE alert_id = %s AND practice_id = %s AND state = 'open' RETURNING alert_id",
            (user.user_id, now, now, alert_id, user.practice_id),
        ).fetchone()
        if row is None:
            alert = self._alert(user, alert_id, lock=False)
            if alert["state"] == "claimed":
                raise AlreadyClaimed(alert_id, alert["state"], alert["claimed_by"])
            raise InvalidTransition(alert_id, alert["state"], "claim")
        events.record(
            self.conn,
            alert_id,
            at=now,
            action="claimed",
            from_state="open",
            to_state="claimed",
            actor=user.user_id,
        )
        review_time.start(self.conn, alert_id, user.user_id, now)
        return self._alert(user, alert_id, lock=False)

    def _not_someone_elses(self, user: User, alert: dict[str, Any], action: str) -> None:
        if alert["state"] == "claimed" and alert["claimed_by"] != user.user_id:
            raise AlreadyClaimed(alert["alert_id"], alert["state"], alert["claimed_by"])
        if alert["state"] not in ACTIVE_STATES:
            raise InvalidTransition(alert["alert_id"], alert["state"], action)

    def acknowledge(self, user_id: uuid.UUID, alert_id: int, note: str) -> dict[str, Any]:
        """Seen and acted on (the note says what was done); credits the review time."""
        user = self._user(user_id)
        alert = self._alert(user, alert_id)
        self._not_someone_elses(user, alert, "acknowledge")
        if alert["state"] == "acknowledged":
            raise InvalidTransition(alert_id, alert["state"], "acknowledge")
        now = self.clock.now()
        entry = review_time.finish(
            self.conn, alert_id, alert["patient_id"], user.user_id, user.role, now, note
        )
        return self._change(
            user,
            alert,
            "acknowledged",
            "acknowledged",
            "acknowledged_by = %s, acknowledged_at = %s, snoozed_until = NULL",
            (user.user_id, now),
            note,
            {"time_entry_id": entry},
        )

    def resolve(self, user_id: uuid.UUID, alert_id: int, note: str) -> dict[str, Any]:
        """Closed by a person (distinct from auto_resolved); credits any running review."""
        user = self._user(user_id)
        alert = self._alert(user, alert_id)
        self._not_someone_elses(user, alert, "resolve")
        now = self.clock.now()
        entry = review_time.finish(
            self.conn, alert_id, alert["patient_id"], user.user_id, user.role, now, note
        )
        return self._change(
            user,
            alert,
            "resolved",
            "resolved",
            "closed_by = %s, closed_at = %s, snoozed_until = NULL",
            (user.user_id, now),
            note,
            {"time_entry_id": entry},
        )

    def snooze(
        self, user_id: uuid.UUID, alert_id: int, preset: str, note: str | None = None
    ) -> dict[str, Any]:
        """Out of the queue until the preset has passed; the ticker re-raises it then."""
        if preset not in SNOOZE_PRESETS:
            raise NotFound(f"no snooze preset {preset!r} (presets: {', '.join(SNOOZE_PRESETS)})")
        user = self._user(user_id)
        alert = self._alert(user, alert_id)
        self._not_someone_elses(user, alert, "snooze")
        until = self.clock.now() + SNOOZE_PRESETS[preset]
        return self._change(
            user,
            alert,
            "snoozed",
            "snoozed",
            "snoozed_until = %s",
            (until,),
            note,
            {"preset": preset, "until": until.isoformat()},
        )

    def escalate(self, user_id: uuid.UUID, alert_id: int, note: str | None = None) -> dict[str, Any]:
        """One escalation step now (the ticker does the same for critical alerts left unacknowledged)."""
        user = self._user(user_id)
        alert = self._alert(user, alert_id)
        if alert["state"] not in ACTIVE_STATES:
            raise InvalidTransition(alert_id, alert["state"], "escalate")
        return escalate_alert(self.conn, alert, self.clock.now(), actor=user.user_id, note=note)

    def reassign(
        self, user_id: uuid.UUID, alert_id: int, to_user_id: uuid.UUID, note: str | None = None
    ) -> dict[str, Any]:
        """Hand the alert to another care manager or clinician of the practice (a claim moves with it)."""
        user = self._user(user_id)
        alert = self._alert(user, alert_id)
        if alert["state"] not in ACTIVE_STATES:
            raise InvalidTransition(alert_id, alert["state"], "reassign")
        target = self._user(to_user_id)
        if target.practice_id != user.practice_id or target.role not in ("care_manager", "clinician"):
            raise Forbidden(f"user {to_user_id} is not a care manager or clinician of your practice")
        claimed_by = to_user_id if alert["state"] == "claimed" else None
        return self._change(
            user,
            alert,
            "reassigned",
            alert["state"],
            "assigned_to = %s, claimed_by = coalesce(%s, claimed_by)",
            (to_user_id, claimed_by),
            note,
            {"to": str(to_user_id)},
        )

    def edit_review_time(self, user_id: uuid.UUID, entry_id: int, minutes: int, reason: str) -> int:
        """Correct a credited review (e.g. beyond the 30-minute cap); returns the new entry's id."""
        user = self._user(user_id)
        return review_time.edit(self.conn, entry_id, user.user_id, minutes, reason)

    def set_practice_overrides(self, user_id: uuid.UUID, overrides: dict[str, Any]) -> None:
        """Replace the practice's rule overrides (admins and clinicians); validated, every problem"
        " reported."""
        user = self._user(user_id, act=False)  # a rule change, not an action on an alert
        if user.role not in ("admin", "clinician"):
            raise Forbidden("only admins and clinicians change a practice's alert rules")
        clean = validate_overrides(overrides, f"practice {user.practice_id} overrides")
        self.conn.execute(
            "INSERT INTO alert_rule_overrides (practice_id, overrides, updated_by, updated_at)"
            " VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (practice_id) DO UPDATE SET overrides = EXCLUDED.overrides,"
            " updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
            (user.practice_id, Jsonb(clean), user.user_id, self.clock.now()),
        )


def escalate_alert(
    conn: psycopg.Connection,
    alert: dict[str, Any],
    now: datetime,
    *,
    actor: uuid.UUID | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Raise the alert's escalation level by one and assign it to that level's person (if the team"
    " has one)."""
    level = min(alert["escalation_level"] + 1, escalation.MAX_LEVEL)
    to = escalation.target(
        conn,
        level,
        alert["practice_id"],
        alert["patient_id"],
        [alert["claimed_by"], alert["assigned_to"]],
        now,
    )
    conn.execute(
        "UPDATE alerts SET escalation_level = %s, escalated_at = %s, assigned_to = coalesce(%s, assigned_to),"
        " updated_at = %s WHERE alert_id = %s",
        (level, now, to, now, alert["alert_id"]),
    )
    details = {"level": level, "to": str(to) if to else None}
    if to is None:
        details["problem"] = "nobody to escalate to: add a second care manager or an on-call clinician"
    events.record(
        conn,
        alert["alert_id"],
        at=now,
        action="escalated",
        from_state=alert["state"],
        to_state=alert["state"],
        actor=actor,
        note=note,
        details=details,
    )
    return {**alert, "escalation_level": level, "assigned_to": to or alert["assigned_to"]}
