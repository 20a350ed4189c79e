"""Pydantic models of program records as the repositories return and accept them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

UserRole = Literal["care_manager", "clinician", "biller", "admin"]
Program = Literal["ccm", "rpm"]
Activity = Literal["alert_review", "call", "medication_review", "care_coordination", "care_plan", "other"]
BillingRole = Literal["clinical_staff", "physician"]

# Who may log billable time, and as what (billing-2026.md: "only clinical staff or the billing
# practitioner's time counts"). Billers and admins log none.
BILLING_ROLE_OF: dict[str, BillingRole] = {"care_manager": "clinical_staff", "clinician": "physician"}


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class User(_Record):
    user_id: uuid.UUID
    practice_id: uuid.UUID
    email: str
    full_name: str
    role: UserRole
    npi: str | None = None
    active: bool = True


class Condition(_Record):
    icd10: str = Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
    description: str | None = None
    onset: date | None = None
    expected_12_months: bool | None = None
    resolved_on: date | None = None

    @property
    def counts_for_ccm(self) -> bool:
        """Counts toward CCM eligibility: expected to last 12 months or more and not resolved."""
        return self.expected_12_months is True and self.resolved_on is None


class ConsentRecord(_Record):
    consent_id: int
    patient_id: uuid.UUID
    program: Program
    method: Literal["verbal", "written"]
    consented_on: date
    obtained_at: datetime | None = None
    obtained_by: uuid.UUID | None = None
    obtained_by_name: str | None = None
    consent_text: str | None = None
    document_ref: str | None = None
    withdrawn_on: date | None = None


class CarePlan(_Record):
    patient_id: uuid.UUID
    version: int
    problems: list[Any] = Field(default_factory=list)
    goals: list[Any] = Field(default_factory=list)
    medications: list[Any] = Field(default_factory=list)
    alert_thresholds: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    author_id: uuid.UUID | None = None
    created_at: datetime


class Episode(_Record):
    episode_id: int
    patient_id: uuid.UUID
    started_on: date
    ended_on: date | None = None
    setup_done_at: datetime | None = None
    education_done_at: datetime | None = None


class TimeEntryIn(_Record):
    """A new time-log entry; the billing role is taken from the user's role, never from the caller."""

    patient_id: uuid.UUID
    user_id: uuid.UUID
    program: Program
    started_at: datetime
    minutes: int = Field(ge=1, le=720)
    activity: Activity
    alert_id: int | None = None
    note: str | None = None
    interactive: bool = False
    complex: bool = False


class TimeEntry(_Record):
    entry_id: int
    patient_id: uuid.UUID
    user_id: uuid.UUID
    role: BillingRole
    program: Program
    started_at: datetime
    minutes: int
    activity: Activity
    alert_id: int | None
    note: str | None
    interactive: bool
    complex: bool
    corrects_entry_id: int | None
    recorded_at: datetime
