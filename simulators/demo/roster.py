"""Who is in the demo practice: staff, and 20 patients whose conditions make each CCM-eligible and whose
scenarios, spread over the practice, put every kind of alert in the queue. Names and numbers are fictional;
e-mail addresses use the reserved `.example` domain (RFC 2606)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from careteam_api.program.models import UserRole
from simulators.physiology.model import Scenario

PRACTICE_NAME: Final = "Riverside Family Medicine"
PRACTICE_TIMEZONE: Final = "America/Chicago"
CARE_TEAM_NAME: Final = "Riverside Care Management"
EMAIL_DOMAIN: Final = "riverside-fm.example"
DEMO_NPI: Final = "1234567893"
"""The NPI that CMS documentation uses as its example: passes the Luhn check, belongs to nobody."""

CONDITIONS: Final = {
    "I10": "Essential (primary) hypertension",
    "E11.9": "Type 2 diabetes mellitus without complications",
    "I50.9": "Heart failure, unspecified",
    "N18.3": "Chronic kidney disease, stage 3 (moderate)",
    "J44.9": "Chronic obstructive pulmonary disease, unspecified",
}
"""Chronic conditions expected to last 12 months or more: two of them make a patient CCM-eligible."""


@dataclass(frozen=True)
class StaffMember:
    email_local: str
    full_name: str
    role: UserRole
    npi: str | None = None

    @property
    def email(self) -> str:
        return f"{self.email_local}@{EMAIL_DOMAIN}"


STAFF: Final = (
    StaffMember("maria.lopez", "Maria Lopez, RN", "care_manager"),
    StaffMember("james.carter", "James Carter, LPN", "care_manager"),
    StaffMember("aisha.patel", "Aisha Patel, MD", "clinician", npi=DEMO_NPI),
    StaffMember("tom.nguyen", "Tom Nguyen", "biller"),
    StaffMember("karen.olson", "Karen Olson", "admin"),
)


@dataclass(frozen=True)
class DemoPatient:
    number: int
    given_name: str
    family_name: str
    birth_date: date
    conditions: tuple[str, ...]
    scenario: Scenario
    thresholds: dict[str, Any] = field(default_factory=dict)
    """Care-plan overrides in the alert engine's shape ({rule: {parameter: value}})."""

    @property
    def mrn(self) -> str:
        return f"RFM-{10000 + self.number}"


S = Scenario
PATIENTS: Final = (
    DemoPatient(1, "Dorothy", "Hale", date(1948, 3, 14), ("I10", "E11.9"), S.STABLE),
    DemoPatient(
        2,
        "Walter",
        "Brooks",
        date(1941, 7, 2),
        ("I10", "N18.3"),
        S.STABLE,
        {"bp_single_high": {"systolic_mmhg": 170, "diastolic_mmhg": 105}},
    ),
    DemoPatient(
        3,
        "Evelyn",
        "Reyes",
        date(1945, 11, 23),
        ("I50.9", "I10"),
        S.STABLE,
        {"weight_gain_1d": {"gain_kg": 0.9}},
    ),
    DemoPatient(4, "Harold", "Kim", date(1952, 1, 9), ("E11.9", "J44.9", "I10"), S.STABLE),
    DemoPatient(5, "Gloria", "Turner", date(1956, 5, 30), ("I10", "N18.3"), S.UNCONTROLLED_HYPERTENSION),
    DemoPatient(6, "Frank", "Morales", date(1950, 9, 17), ("I10", "E11.9"), S.HYPERTENSIVE_CRISIS),
    DemoPatient(7, "Betty", "Coleman", date(1939, 12, 5), ("I50.9", "N18.3"), S.HYPOTENSION),
    DemoPatient(
        8, "Raymond", "Price", date(1947, 4, 21), ("I50.9", "I10", "N18.3"), S.HEART_FAILURE_DECOMPENSATION
    ),
    DemoPatient(9, "Shirley", "Ward", date(1953, 8, 11), ("E11.9", "N18.3"), S.HYPOGLYCAEMIA),
    DemoPatient(10, "Eugene", "Foster", date(1958, 2, 27), ("E11.9", "I10"), S.HYPERGLYCAEMIA),
    DemoPatient(11, "Joan", "Bennett", date(1944, 6, 8), ("I10", "J44.9"), S.NON_ADHERENCE),
    DemoPatient(12, "Carl", "Jenkins", date(1951, 10, 19), ("I10", "E11.9"), S.DEAD_BATTERY),
    DemoPatient(13, "Marilyn", "Perry", date(1946, 3, 3), ("I50.9", "J44.9"), S.CLOCK_RESET),
    DemoPatient(14, "Albert", "Russell", date(1955, 12, 12), ("E11.9", "J44.9"), S.GARBAGE_BYTES),
    DemoPatient(15, "Norma", "Griffin", date(1949, 7, 25), ("I10", "E11.9"), S.HUB_OFFLINE_THEN_BACKLOG),
    DemoPatient(16, "Kenneth", "Hayes", date(1943, 1, 16), ("J44.9", "I10"), S.STABLE),
    DemoPatient(
        17,
        "Judith",
        "Myers",
        date(1957, 9, 4),
        ("E11.9", "I10", "N18.3"),
        S.STABLE,
        {"glucose_hypo_level1": {"below_mg_dl": 80}},
    ),
    DemoPatient(18, "Roy", "Sanders", date(1940, 5, 29), ("I50.9", "E11.9"), S.STABLE),
    DemoPatient(19, "Phyllis", "Long", date(1954, 11, 1), ("I10", "N18.3"), S.STABLE),
    DemoPatient(20, "Gerald", "Butler", date(1959, 4, 13), ("E11.9", "J44.9"), S.STABLE),
)
