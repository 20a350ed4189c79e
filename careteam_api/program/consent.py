"""Consent to CCM or RPM, documented before any billable time; a withdrawal is a row of its own."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row

from careteam_api.program.errors import InvalidRecord, NotFound
from careteam_api.program.models import ConsentRecord, Program

_COLUMNS = (
    "consent_id, patient_id, program, method, consented_on, obtained_at, obtained_by, obtained_by_name,"
    " consent_text, document_ref"
)


def record_consent(
    conn: psycopg.Connection,
    patient_id: uuid.UUID,
    program: Program,
    *,
    method: Literal["verbal", "written"],
    consented_on: date,
    obtained_by: uuid.UUID | None = None,
    obtained_by_name: str | None = None,
    consent_text: str | None = None,
    document_ref: str | None = None,
    obtained_at: datetime | None = None,
) -> ConsentRecord:
    """Record a consent; it needs who obtained it and either the text read or a document reference."""
    if consent_text is None and document_ref is None:
        raise InvalidRecord(
            "a consent needs the text that was agreed to or a reference to the signed document"
        )
    if obtained_by is None and obtained_by_name is None:
        raise InvalidRecord("a consent needs who obtained it")
    with conn.cursor(row_factory=class_row(ConsentRecord)) as cur:
        cur.execute(
            "INSERT INTO consents (patient_id, program, method, consented_on, obtained_at, obtained_by,"
            " obtained_by_name, consent_text, document_ref) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {_COLUMNS}, NULL::date AS withdrawn_on",
            (
                patient_id,
                program,
                method,
                consented_on,
                obtained_at,
                obtained_by,
                obtained_by_name,
                consent_text,
                document_ref,
            ),
        )
        record = cur.fetchone()
    assert record is not None
    return record


def withdraw_consent(
    conn: psycopg.Connection,
    consent_id: int,
    withdrawn_on: date,
    *,
    recorded_by: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    """The patient stopped the program: time from `withdrawn_on` on is not billable."""
    row = conn.execute(
        "SELECT c.consented_on, w.withdrawn_on FROM consents c LEFT JOIN consent_withdrawals w USING"
        " (consent_id)"
        " WHERE c.consent_id = %s",
        (consent_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no consent {consent_id}")
    if row[1] is not None:
        raise InvalidRecord(f"consent {consent_id} was already withdrawn on {row[1]}")
    if withdrawn_on < row[0]:
        raise InvalidRecord(f"withdrawal {withdrawn_on} is before the consent of {row[0]}")
    conn.execute(
        "INSERT INTO consent_withdrawals (consent_id, withdrawn_on, recorded_by, reason) VALUES (%s,"
        " %s, %s, %s)",
        (consent_id, withdrawn_on, recorded_by, reason),
    )


def consents_of(conn: psycopg.Connection, patient_id: uuid.UUID) -> list[ConsentRecord]:
    with conn.cursor(row_factory=class_row(ConsentRecord)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS}, withdrawn_on FROM consent_status WHERE patient_id = %s"
            " ORDER BY consented_on, consent_id",
            (patient_id,),
        )
        return cur.fetchall()
