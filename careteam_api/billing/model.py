"""The billing input (one practice, one month) and output formats, versioned.

Input is what `rpm billing export` writes and `rpm billing evaluate` reads; unknown fields are refused so a
typo cannot silently change a decision. Fields beyond the minimal format (user, ids, names) make the audit
trail; the engine reads only what the rules need.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from careteam_api.billing.rules import BillingRules

INPUT_FORMAT = "rpm-gateway/billing-input/1"
OUTPUT_FORMAT = "rpm-gateway/billing-output/1"

Program = Literal["ccm", "rpm"]
BillingRole = Literal["clinical_staff", "physician", "other"]
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Consent(_Strict):
    """One documented consent: billable from `date` (or `obtained_at`) until the day before `withdrawn`."""

    date: date
    withdrawn: date | None = None
    obtained_at: AwareDatetime | None = None
    method: Literal["verbal", "written"] | None = None
    obtained_by: str | None = None
    document_ref: str | None = None

    @model_validator(mode="after")
    def _withdrawn_after_consent(self) -> Consent:
        if self.withdrawn is not None and self.withdrawn < self.date:
            raise ValueError(f"withdrawn {self.withdrawn} is before the consent date {self.date}")
        return self


class Reading(_Strict):
    at: AwareDatetime
    source: str = Field(min_length=1)
    id: str | None = None


class TimeEntry(_Strict):
    """One time-log entry as credited: minutes after overlaps with the same user's other entries."""

    program: Program
    minutes: int = Field(ge=0, le=720)
    at: AwareDatetime
    role: BillingRole
    interactive: bool = False
    complex: bool = False
    id: str | None = None
    user: str | None = None
    user_name: str | None = None
    activity: str | None = None
    note: str | None = None
    alert_id: str | None = None
    recorded_at: AwareDatetime | None = None
    recorded_minutes: int | None = Field(default=None, ge=0, le=720)
    supersedes: list[str] = Field(default_factory=list)


class CarePlanStatus(_Strict):
    version: int = Field(ge=1)
    created_on: date
    shared_on: date | None = None


class PatientMonth(_Strict):
    id: str = Field(min_length=1)
    timezone: str
    chronic_conditions: list[str] = Field(default_factory=list)
    consent: Consent | None = None
    program_consents: dict[Program, list[Consent]] = Field(default_factory=dict)
    rpm_episode_start: date | None = None
    rpm_episode_end: date | None = None
    rpm_setup_done: bool = False
    readings: list[Reading] = Field(default_factory=list)
    time_entries: list[TimeEntry] = Field(default_factory=list)
    billing_practitioner: str | None = None
    apcm: bool = Field(default=False, description="APCM (G0556-G0558) billed this month: CCM cannot be")
    mrn: str | None = None
    name: str | None = None
    care_plan: CarePlanStatus | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as America/Chicago)"
            ) from exc
        return value

    @model_validator(mode="after")
    def _episode_order(self) -> PatientMonth:
        if self.rpm_episode_end is not None and self.rpm_episode_start is None:
            raise ValueError("rpm_episode_end without rpm_episode_start")
        if self.rpm_episode_start and self.rpm_episode_end and self.rpm_episode_end < self.rpm_episode_start:
            raise ValueError("rpm_episode_end is before rpm_episode_start")
        return self

    def consents_for(self, program: Program) -> list[Consent]:
        """Program-specific consents when given, else the general `consent` (which covers both)."""
        if program in self.program_consents:
            return self.program_consents[program]
        return [self.consent] if self.consent is not None else []

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class MonthInput(_Strict):
    format: Literal["rpm-gateway/billing-input/1"] = INPUT_FORMAT
    month: str
    practice: str | None = None
    as_of: date | None = Field(default=None, description="'today' for a month in progress; default month end")
    rules: BillingRules = Field(default_factory=BillingRules)
    patients: list[PatientMonth]

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _MONTH.match(value):
            raise ValueError(f"month {value!r} is not YYYY-MM")
        return value

    @model_validator(mode="after")
    def _unique_patients(self) -> MonthInput:
        seen: set[str] = set()
        entries: set[str] = set()
        for patient in self.patients:
            if patient.id in seen:
                raise ValueError(f"patient id {patient.id!r} appears twice")
            seen.add(patient.id)
            for entry in patient.time_entries:
                if entry.id is not None and entry.id in entries:
                    raise ValueError(f"time entry id {entry.id!r} appears twice")
                if entry.id is not None:
                    entries.add(entry.id)
        return self

    @property
    def first_day(self) -> date:
        year, month = (int(part) for part in self.month.split("-"))
        return date(year, month, 1)

    @property
    def last_day(self) -> date:
        first = self.first_day
        return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


# --- output ---


class Period(_Strict):
    start: date
    end: date


class DataDay(_Strict):
    day: date
    readings: list[str] = Field(description="ids (or times) of the automatic readings that made the day")


class CodeLine(_Strict):
    """A billed code with everything that justifies it."""

    code: str
    units: int = Field(ge=1)
    service_date: date
    description: str
    minutes: int | None = None
    entries: list[str] = Field(default_factory=list)
    period: Period | None = None
    data_days: list[DataDay] = Field(default_factory=list)
    why: str


class Shortfall(_Strict):
    """A threshold the patient did not (yet) reach, and what it would take."""

    code: str
    unit: Literal["minutes", "data_days", "interactive_contact", "chronic_conditions", "setup"]
    needed: int
    have: int
    short_by: int
    by: date | None
    reachable: bool = True
    period: Period | None = None
    note: str


class ExcludedEntry(_Strict):
    entry: str
    program: Program
    minutes: int
    reason: str


class PatientResult(_Strict):
    id: str
    codes: list[CodeLine]
    missing: list[Shortfall]
    excluded_entries: list[ExcludedEntry] = Field(default_factory=list)
    counted_minutes: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


class MonthResult(_Strict):
    format: Literal["rpm-gateway/billing-output/1"] = OUTPUT_FORMAT
    month: str
    practice: str | None = None
    billing_rules: BillingRules
    patients: list[PatientResult]

    def estimated_revenue(self) -> Decimal:
        return sum(
            (self.billing_rules.payment(line.code) * line.units for p in self.patients for line in p.codes),
            Decimal(0),
        )
