"""Advisory locks: one evaluation per patient at a time across every `rpm alerts run` process, and one
runner per periodic job."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import psycopg

PATIENT_LOCK_SPACE = 0x414C  # "AL": keeps these keys apart from other users of advisory locks
JOB_LOCK_SPACE = 0x414A  # "AJ"


def _patient_key(patient_id: uuid.UUID) -> int:
    return (patient_id.int >> 96) & 0x7FFFFFFF


def lock_patients(conn: psycopg.Connection, patient_ids: Iterable[uuid.UUID]) -> None:
    """Transaction-scoped locks on the patients, taken in one sorted order (no deadlock between workers)."""
    keys = sorted({_patient_key(p) for p in patient_ids})
    if keys:
        conn.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM (SELECT unnest(%s::int[]) AS k ORDER BY 1) s",
            (PATIENT_LOCK_SPACE, keys),
        )


def try_job_lock(conn: psycopg.Connection, job: str) -> bool:
    """True when this transaction now runs `job`; False when another process is running it."""
    row = conn.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", (JOB_LOCK_SPACE, job)).fetchone()
    return bool(row and row[0])
