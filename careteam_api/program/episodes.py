"""RPM episodes of care: start, devices, set-up and education. Device periods run from the start."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import psycopg
from psycopg.rows import class_row

from careteam_api.program.errors import NotFound
from careteam_api.program.models import Episode

_COLUMNS = "episode_id, patient_id, started_on, ended_on, setup_done_at, education_done_at"


def start_episode(conn: psycopg.Connection, patient_id: uuid.UUID, started_on: date) -> Episode:
    with conn.cursor(row_factory=class_row(Episode)) as cur:
        cur.execute(
            f"INSERT INTO rpm_episodes (patient_id, started_on) VALUES (%s, %s) RETURNING {_COLUMNS}",
            (patient_id, started_on),
        )
        episode = cur.fetchone()
    assert episode is not None
    return episode


def add_device(conn: psycopg.Connection, episode_id: int, device_id: str, added_on: date) -> None:
    conn.execute(
        "INSERT INTO rpm_episode_devices (episode_id, device_id, added_on) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (episode_id, device_id, added_on),
    )


def record_setup(
    conn: psycopg.Connection,
    episode_id: int,
    *,
    setup_at: datetime,
    education_at: datetime,
    by: uuid.UUID | None,
) -> None:
    """Set-up and patient education done (99453 needs both, once per episode)."""
    done = conn.execute(
        "UPDATE rpm_episodes SET setup_done_at = %s, education_done_at = %s, setup_by = %s WHERE"
        " episode_id = %s",
        (setup_at, education_at, by, episode_id),
    )
    if done.rowcount == 0:
        raise NotFound(f"no RPM episode {episode_id}")


def end_episode(conn: psycopg.Connection, episode_id: int, ended_on: date) -> None:
    done = conn.execute("UPDATE rpm_episodes SET ended_on = %s WHERE episode_id = %s", (ended_on, episode_id))
    if done.rowcount == 0:
        raise NotFound(f"no RPM episode {episode_id}")


def episode_for_month(
    conn: psycopg.Connection, patient_id: uuid.UUID, first_day: date, last_day: date
) -> Episode | None:
    """The latest episode that overlaps the month or whose last device period may end in it."""
    with conn.cursor(row_factory=class_row(Episode)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM rpm_episodes WHERE patient_id = %s AND started_on <= %s"
            " AND (ended_on IS NULL OR ended_on >= %s) ORDER BY started_on DESC LIMIT 1",
            (patient_id, last_day, first_day),
        )
        return cur.fetchone()
