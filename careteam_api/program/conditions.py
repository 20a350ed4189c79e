"""Chronic conditions (ICD-10-CM) and CCM eligibility: two or more expected to last >= 12 months."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

import psycopg
from psycopg.rows import class_row

from careteam_api.program.models import Condition

# billing-2026.md, "Who and what": CCM needs two or more chronic conditions expected to last >= 12 months.
CCM_MIN_CHRONIC_CONDITIONS = 2


@dataclass(frozen=True)
class Eligibility:
    """Whether a patient may be offered CCM, and the conditions that decide it."""

    eligible: bool
    qualifying: tuple[Condition, ...]
    not_counted: tuple[tuple[Condition, str], ...]

    def explain(self) -> str:
        names = "; ".join(_describe(c) for c in self.qualifying) or "none"
        text = f"{'CCM-eligible' if self.eligible else 'not CCM-eligible'}: {len(self.qualifying)} qualifying"
        text += f" ({names})"
        if self.not_counted:
            text += "; not counted: " + "; ".join(f"{c.icd10} ({why})" for c, why in self.not_counted)
        return text


def _describe(condition: Condition) -> str:
    text = condition.icd10
    if condition.description:
        text += f" {condition.description}"
    if condition.onset:
        text += f" since {condition.onset}"
    return text


def eligibility(conditions: Iterable[Condition]) -> Eligibility:
    qualifying: list[Condition] = []
    not_counted: list[tuple[Condition, str]] = []
    for condition in conditions:
        if condition.resolved_on is not None:
            not_counted.append((condition, f"resolved {condition.resolved_on}"))
        elif condition.expected_12_months is None:
            not_counted.append((condition, "not assessed whether it lasts 12 months"))
        elif not condition.expected_12_months:
            not_counted.append((condition, "not expected to last 12 months"))
        else:
            qualifying.append(condition)
    return Eligibility(len(qualifying) >= CCM_MIN_CHRONIC_CONDITIONS, tuple(qualifying), tuple(not_counted))


def upsert_condition(
    conn: psycopg.Connection,
    patient_id: uuid.UUID,
    condition: Condition,
    source: Literal["csv", "fhir", "manual"],
) -> bool:
    """Record or update one condition of a patient (keyed by ICD-10 code); True when something changed."""
    row = conn.execute(
        "INSERT INTO chronic_conditions (patient_id, icd10, description, onset, expected_12_months,"
        " resolved_on,"
        " source) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (patient_id, icd10) DO UPDATE SET description = EXCLUDED.description,"
        " onset = EXCLUDED.onset, expected_12_months = EXCLUDED.expected_12_months,"
        " resolved_on = EXCLUDED.resolved_on, source = EXCLUDED.source, recorded_at = now()"
        " WHERE (chronic_conditions.description, chronic_conditions.onset,"
        " chronic_conditions.expected_12_months,"
        " chronic_conditions.resolved_on) IS DISTINCT FROM"
        " (EXCLUDED.description, EXCLUDED.onset, EXCLUDED.expected_12_months, EXCLUDED.resolved_on)"
        " RETURNING condition_id",
        (
            patient_id,
            condition.icd10,
            condition.description,
            condition.onset,
            condition.expected_12_months,
            condition.resolved_on,
            source,
        ),
    ).fetchone()
    return row is not None


def conditions_of(conn: psycopg.Connection, patient_id: uuid.UUID, on: date | None = None) -> list[Condition]:
    """The patient's conditions; with `on`, only those begun by then and not resolved before it."""
    query = (
        "SELECT icd10, description, onset, expected_12_months, resolved_on FROM chronic_conditions"
        " WHERE patient_id = %(p)s"
    )
    if on is not None:
        query += " AND (onset IS NULL OR onset <= %(on)s) AND (resolved_on IS NULL OR resolved_on > %(on)s)"
    with conn.cursor(row_factory=class_row(Condition)) as cur:
        cur.execute(query + " ORDER BY icd10", {"p": patient_id, "on": on})
        return cur.fetchall()
