"""Read-only views of the alert engine's tables for charts and lists (markers, open counts).

The alert engine owns every change of an alert; this module only reads, and only when the alerts tables
exist (checked once in the lifespan), so the API runs against a database without them.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

ACTIVE_STATES = ("open", "claimed", "acknowledged", "snoozed")
# Which chart an alert's marker goes on, by the rule's name prefix (rule names of alerts/rules).
METRIC_OF_RULE_PREFIX = (
    ("bp_hypotension", "systolic_mmhg"),
    ("bp_", "systolic_mmhg"),
    ("pulse_", "pulse_bpm"),
    ("glucose_", "glucose_mg_dl"),
    ("weight_", "weight_kg"),
)


def tables_exist(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('alerts') IS NOT NULL").fetchone()
    return bool(row and row[0])


def metric_of(rule: str) -> str | None:
    return next((metric for prefix, metric in METRIC_OF_RULE_PREFIX if rule.startswith(prefix)), None)


MARKERS = (
    "SELECT alert_id, rule, category, priority, state, opened_at, first_seen, last_seen, worst_value,"
    " explanation->>'summary' AS summary FROM alerts WHERE practice_id = %s AND patient_id = %s"
    " AND last_seen >= %s AND first_seen < %s ORDER BY first_seen LIMIT 500"
)


def with_metric(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of MARKERS (as dicts), each given the chart (metric) its marker goes on."""
    for row in rows:
        row["metric"] = metric_of(row["rule"])
    return rows


def open_count(conn: psycopg.Connection, practice_id: uuid.UUID, patient_id: uuid.UUID) -> int:
    row = conn.execute(
        "SELECT count(*) FROM alerts WHERE practice_id = %s AND patient_id = %s AND state = ANY(%s)",
        (practice_id, patient_id, list(ACTIVE_STATES)),
    ).fetchone()
    return int(row[0]) if row else 0


def queue(conn: psycopg.Connection, practice_id: uuid.UUID, limit: int = 100) -> list[dict[str, Any]]:
    """Active alerts of the practice, most urgent and oldest first, with the patient's name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT a.alert_id, a.patient_id, a.rule, a.category, a.priority, a.state, a.opened_at,"
            " now() - a.opened_at AS age, a.evidence_count, a.worst_value, a.claimed_by, a.snoozed_until,"
            " a.explanation->>'summary' AS summary, p.given_name || ' ' || p.family_name AS patient_name"
            " FROM alerts a LEFT JOIN patients p USING (patient_id)"
            " WHERE a.practice_id = %s AND a.state = ANY(%s)"
            " ORDER BY a.priority_rank, a.opened_at LIMIT %s",
            (practice_id, list(ACTIVE_STATES), limit),
        ).fetchall()
