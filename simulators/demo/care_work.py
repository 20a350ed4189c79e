"""What care management each demo patient gets in a month: the care level (how much time the care team
spends), the tasks it is spent on, and their minutes. Pure and deterministic; `time_log` puts the work on
the care managers' days and logs it.

The levels are chosen so the month's billing shows every outcome a biller meets (billing-2026.md): CCM
99490 alone, with one or two 99439, or nothing under 20 minutes; RPM management 99457 with 99458, 99457
alone, 99470 at 10-19 minutes, nothing under 10, and minutes that cannot be billed because the patient
never answered (no real-time interactive communication).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Final

from careteam_api.program.models import Activity, Program


@dataclass(frozen=True)
class Task:
    program: Program
    activity: Activity
    note: str
    interactive: bool = False
    """A real-time audio or video conversation with the patient or caregiver (RPM management needs one)."""


@dataclass(frozen=True)
class CareLevel:
    """How much time a patient gets in a month: a range of total minutes per program and the tasks each
    total is split over (every task gets at least `MIN_TASK_MINUTES`)."""

    name: str
    ccm_minutes: tuple[int, int]
    rpm_minutes: tuple[int, int]
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class Session:
    """One piece of work to log: a task and its minutes (`index` orders a patient's tasks per program)."""

    task: Task
    minutes: int
    index: int


MIN_TASK_MINUTES: Final = 4

CHECK_IN = Task(
    "ccm", "call", "Monthly check-in call: symptoms, diet, activity, questions on the care plan", True
)
MEDICATIONS = Task("ccm", "medication_review", "Medication reconciliation against the pharmacy fill history")
PLAN_UPDATE = Task("ccm", "care_plan", "Updated the care-plan goals and sent the patient the new copy")
SPECIALIST = Task(
    "ccm", "care_coordination", "Coordinated with the specialist's office on the next visit and labs"
)
REFILLS = Task(
    "ccm", "care_coordination", "Arranged refills and a ride to the lab with the pharmacy and family"
)
NO_ANSWER = Task("ccm", "call", "Called for the monthly check-in; no answer, left a voicemail")
LETTER = Task(
    "ccm", "care_coordination", "Mailed a letter asking the patient to call back; told the family contact"
)
REVIEW = Task("rpm", "other", "Reviewed the home readings since the last review and their trend")
READINGS_CALL = Task(
    "rpm", "call", "Called the patient about this week's readings; went over how to measure", True
)
FOLLOW_UP_CALL = Task(
    "rpm", "call", "Follow-up call on the readings and the medication change the clinician made", True
)
CLINICIAN = Task("rpm", "care_coordination", "Discussed the readings with the clinician; treatment adjusted")
MISSED_CALL = Task("rpm", "call", "Called about the missing readings; no answer, left a voicemail")

INTENSIVE: Final = CareLevel(
    "intensive",
    (60, 70),
    (40, 50),
    (
        CHECK_IN,
        MEDICATIONS,
        PLAN_UPDATE,
        SPECIALIST,
        CHECK_IN,
        REVIEW,
        READINGS_CALL,
        CLINICIAN,
        REVIEW,
        FOLLOW_UP_CALL,
    ),
)
"""A patient whose readings went wrong: 99490 + 2 x 99439 and 99457 + 99458."""
ENGAGED: Final = CareLevel(
    "engaged",
    (40, 52),
    (20, 32),
    (CHECK_IN, MEDICATIONS, REFILLS, PLAN_UPDATE, REVIEW, READINGS_CALL, REVIEW),
)
"""Something to sort out (a device, a referral): 99490 + 99439 and 99457."""
ROUTINE: Final = CareLevel("routine", (20, 30), (10, 17), (CHECK_IN, MEDICATIONS, REVIEW, READINGS_CALL))
"""A stable patient's month: 99490 and 99470."""
LIGHT: Final = CareLevel("light", (8, 16), (4, 8), (CHECK_IN, REFILLS, REVIEW))
"""A quiet month: under every time threshold."""
UNREACHABLE: Final = CareLevel(
    "unreachable", (12, 18), (10, 14), (NO_ANSWER, LETTER, NO_ANSWER, REVIEW, MISSED_CALL)
)
"""The patient stopped measuring and does not answer: CCM under 20 minutes, RPM minutes without the
interactive communication 99470 and 99457 need."""

LEVELS: Final[dict[int, tuple[CareLevel, CareLevel]]] = {
    1: (ROUTINE, ROUTINE),
    2: (ENGAGED, ROUTINE),
    3: (ENGAGED, ENGAGED),
    4: (ROUTINE, ENGAGED),
    5: (ROUTINE, INTENSIVE),
    6: (ROUTINE, INTENSIVE),
    7: (ENGAGED, INTENSIVE),
    8: (INTENSIVE, INTENSIVE),
    9: (ENGAGED, INTENSIVE),
    10: (ROUTINE, INTENSIVE),
    11: (ROUTINE, UNREACHABLE),
    12: (ROUTINE, ENGAGED),
    13: (LIGHT, ROUTINE),
    14: (ROUTINE, ROUTINE),
    15: (ROUTINE, ENGAGED),
    16: (LIGHT, LIGHT),
    17: (ENGAGED, ROUTINE),
    18: (ROUTINE, LIGHT),
    19: (LIGHT, ROUTINE),
    20: (ROUTINE, LIGHT),
}
"""Roster number -> (last month, this month). The patients whose scenario ends in a clinical event get the
most time this month; the one who stopped measuring cannot be reached."""


def level_for(number: int, this_month: bool) -> CareLevel:
    last, current = LEVELS[number]
    return current if this_month else last


def split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` minutes in `parts` pieces of at least `MIN_TASK_MINUTES`, at random cut points."""
    spare = total - parts * MIN_TASK_MINUTES
    if spare < 0:
        raise ValueError(f"{total} minutes cannot make {parts} tasks of {MIN_TASK_MINUTES} minutes or more")
    cuts = sorted(rng.randint(0, spare) for _ in range(parts - 1))
    edges = [0, *cuts, spare]
    return [MIN_TASK_MINUTES + b - a for a, b in itertools.pairwise(edges)]


def sessions(level: CareLevel, program: Program, rng: random.Random) -> list[Session]:
    """The month's sessions of one program, in the order the tasks are listed."""
    tasks = [t for t in level.tasks if t.program == program]
    if not tasks:
        return []
    low, high = level.ccm_minutes if program == "ccm" else level.rpm_minutes
    minutes = split(rng.randint(low, high), len(tasks), rng)
    return [Session(task, m, i) for i, (task, m) in enumerate(zip(tasks, minutes, strict=True))]
