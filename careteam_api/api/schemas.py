"""Request and response models: *Create / *Update for input, *Public for output (never the raw rows)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from careteam_api.program.models import Activity, Program

_NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it here with a clear message


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Text = Field(default=None, max_length=4000, pattern=_NO_NUL)


# --- auth ---
class LoginRequest(_In):
    email: str = Field(min_length=3, max_length=320, pattern=_NO_NUL)
    password: str = Field(min_length=1, max_length=1024, pattern=_NO_NUL)
    label: str | None = Field(default=None, max_length=100, pattern=_NO_NUL, description="names the token")


class TokenPublic(_Out):
    access_token: str = Field(description="shown once; only its hash is stored")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class MePublic(_Out):
    user_id: uuid.UUID
    practice_id: uuid.UUID
    full_name: str
    email: str
    role: str
    capabilities: list[str]
    session: Literal["console", "api"]


# --- patients ---
class LatestVital(_Out):
    measured_at: datetime
    values: dict[str, float]


class PatientSummary(_Out):
    patient_id: uuid.UUID
    mrn: str
    given_name: str
    family_name: str
    birth_date: date | None
    latest: dict[str, LatestVital] | None = Field(
        None, description="per kind; omitted for roles without vitals"
    )
    open_alerts: int | None = Field(None, description="null when the alert engine is not installed")
    top_priority: Literal["critical", "high", "low"] | None = None


class PatientPage(_Out):
    items: list[PatientSummary]
    next_cursor: str | None


class ContactPublic(_Out):
    phone: str | None = None
    email: str | None = None
    preferred_contact: Literal["phone", "sms", "email", "portal"] | None = None
    caregiver: str | None = None
    updated_at: datetime | None = None


class ContactUpdate(_In):
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+()\-. ]*$")
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")
    preferred_contact: Literal["phone", "sms", "email", "portal"] | None = None
    caregiver: str | None = Field(default=None, max_length=200, pattern=_NO_NUL)


class ConditionPublic(_Out):
    icd10: str
    description: str | None
    onset: date | None
    expected_12_months: bool | None
    resolved_on: date | None


class PatientPublic(_Out):
    patient_id: uuid.UUID
    mrn: str
    given_name: str
    family_name: str
    birth_date: date | None
    timezone: str
    contact: ContactPublic | None
    conditions: list[ConditionPublic]
    ccm_eligibility: str
    latest: dict[str, LatestVital] | None
    open_alerts: int | None
    care_plan_version: int | None


# --- vitals ---
class TrendPoint(_Out):
    t: datetime = Field(description="bucket start")
    count: int
    min: float
    max: float
    mean: float


class TrendSeries(_Out):
    kind: str
    metric: str
    unit: str
    points: list[TrendPoint]


class LimitPublic(_Out):
    rule: str
    parameter: str
    metric: str
    bound: Literal["upper", "lower"]
    value: float
    priority: Literal["critical", "high", "low"]
    source: Literal["default", "care_plan"]


class AlertMarker(_Out):
    alert_id: int
    rule: str
    category: str
    priority: str
    state: str
    opened_at: datetime
    first_seen: datetime
    last_seen: datetime
    worst_value: float | None
    summary: str | None
    metric: str | None


class TrendPublic(_Out):
    patient_id: uuid.UUID
    bucket: Literal["hour", "day", "week"]
    start: datetime
    end: datetime
    timezone: str
    series: list[TrendSeries]
    limits: list[LimitPublic]
    alerts: list[AlertMarker] | None = Field(description="null when the alert engine is not installed")


class ReadingPublic(_Out):
    measured_at: datetime
    reading_id: uuid.UUID
    kind: str
    source: str
    systolic_mmhg: float | None
    diastolic_mmhg: float | None
    mean_arterial_mmhg: float | None
    pulse_bpm: float | None
    glucose_mg_dl: float | None
    weight_kg: float | None
    bmi: float | None
    device_id: str
    hub_id: str
    meal: str | None
    quality_flags: list[str]
    status: list[str]


class ReadingPage(_Out):
    items: list[ReadingPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")


# --- time log ---
class TimeEntryCreate(_In):
    program: Program
    started_at: AwareDatetime
    minutes: int = Field(ge=1, le=720)
    activity: Activity
    alert_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    note: str | None = Text
    interactive: bool = False
    complex: bool = False

    @field_validator("started_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not 2000 <= value.year <= 2100:
            raise ValueError("started_at must be between the years 2000 and 2100")
        return value


class TimeEntryVoid(_In):
    reason: str = Field(min_length=1, max_length=1000, pattern=_NO_NUL)


class TimeEntryPublic(_Out):
    entry_id: int
    patient_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    program: str
    started_at: datetime
    minutes: int
    activity: str
    alert_id: int | None
    note: str | None
    interactive: bool
    complex: bool
    corrects_entry_id: int | None
    recorded_at: datetime


# --- consent ---
class ConsentCreate(_In):
    program: Program
    method: Literal["verbal", "written"]
    consented_on: date
    obtained_at: AwareDatetime | None = None
    consent_text: str | None = Text
    document_ref: str | None = Field(default=None, max_length=500, pattern=_NO_NUL)

    @field_validator("consented_on")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if not 2000 <= value.year <= 2100:
            raise ValueError("consented_on must be between the years 2000 and 2100")
        return value


class ConsentWithdrawal(_In):
    withdrawn_on: date
    reason: str | None = Field(default=None, max_length=1000, pattern=_NO_NUL)


class ConsentPublic(_Out):
    consent_id: int
    program: str
    method: str
    consented_on: date
    obtained_at: datetime | None
    obtained_by: uuid.UUID | None
    obtained_by_name: str | None
    consent_text: str | None
    document_ref: str | None
    withdrawn_on: date | None


# --- care plan ---
class CarePlanCreate(_In):
    problems: list[str | dict[str, Any]] = Field(default_factory=list, max_length=100)
    goals: list[str | dict[str, Any]] = Field(default_factory=list, max_length=100)
    medications: list[str | dict[str, Any]] = Field(default_factory=list, max_length=200)
    alert_thresholds: dict[str, dict[str, float | bool]] = Field(
        default_factory=dict,
        description='overrides per alert rule, e.g. {"bp_single_high": {"systolic_mmhg": 170}}',
    )
    note: str | None = Text


class CarePlanPublic(_Out):
    patient_id: uuid.UUID
    version: int
    problems: list[Any]
    goals: list[Any]
    medications: list[Any]
    alert_thresholds: dict[str, Any]
    note: str | None
    author_id: uuid.UUID | None
    created_at: datetime


# --- devices ---
class DevicePublic(_Out):
    device_id: str
    model: str
    profile: str
    serial: str | None
    firmware: str | None
    hub_id: str | None
    user_index: int | None
    assigned_from: datetime | None
    assigned_until: datetime | None
    reported_online: bool | None
    hub_last_seen: datetime | None
    hub_offline: bool
    battery_pct: int | None
    battery_low: bool
    device_last_seen: datetime | None
    last_reading_at: datetime | None


class HubPublic(_Out):
    hub_id: str
    label: str | None
    reported_online: bool | None
    hub_last_seen: datetime | None
    software_version: str | None
    outbox_depth: int | None
    hub_offline: bool
    devices_seen: int


class HubEventPublic(_Out):
    at: datetime
    type: str
    device_id: str | None
    message: str


class HubDetail(HubPublic):
    events: list[HubEventPublic]


# --- billing ---
class ShortfallPublic(_Out):
    code: str
    unit: str
    needed: int
    have: int
    short_by: int
    by: date | None
    reachable: bool
    note: str


class ProgressPublic(_Out):
    month: str
    counted_minutes: dict[str, int]
    codes_reached: list[str]
    missing: list[ShortfallPublic]
    warnings: list[str]
