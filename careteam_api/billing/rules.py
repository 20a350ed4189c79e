"""The 2026 CCM and RPM thresholds, as named constants with their source, and the configurable parts.

Source for every number here unless said otherwise: shared/domain/billing-2026.md (CY2026 Medicare
Physician Fee Schedule final rule, 90 FR 49266, and CPT descriptors).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

# --- CCM, counted per calendar month, never carried over ---
CCM_MIN_CHRONIC_CONDITIONS: Final = 2  # "two or more chronic conditions expected to last >= 12 months"
CCM_99490_MINUTES: Final = 20  # 99490: >= 20 min clinical staff time
CCM_99439_STEP_MINUTES: Final = 20  # 99439: each further full 20 min (40, 60)
CCM_99439_MAX_UNITS: Final = 2  # 99439: at most 2 per month
CCM_99487_MINUTES: Final = 60  # 99487: >= 60 min and moderate/high medical decision making
CCM_99489_STEP_MINUTES: Final = 30  # 99489: each further full 30 min (90, 120 ...)
CCM_99491_MINUTES: Final = 30  # 99491: >= 30 min by the physician/QHP personally
CCM_99437_STEP_MINUTES: Final = 30  # 99437: each further full 30 min

# --- RPM device supply, per 30-day period from the episode start ---
RPM_PERIOD_DAYS: Final = 30
RPM_99454_MIN_DAYS: Final = 16  # 99454: 16-30 data days
RPM_99445_MIN_DAYS: Final = 2  # 99445 (new 2026): 2-15 data days
RPM_AUTOMATIC_SOURCES: Final = frozenset({"ble"})  # only automatically transmitted readings are data days

# --- RPM treatment management, per calendar month ---
RPM_99457_MINUTES: Final = 20  # 99457: >= 20 min incl. >= 1 real-time interactive communication
RPM_99458_STEP_MINUTES: Final = 20  # 99458: each further full 20 min
RPM_99470_MINUTES: Final = 10  # 99470 (new 2026): 10-19 min incl. >= 1 interactive communication

SECONDS_PER_MINUTE: Final = 60

# 2026 national average payments (approximate; billing-2026.md), for revenue estimates only.
NATIONAL_AVERAGE_PAYMENTS_2026: Final[dict[str, Decimal]] = {
    "99490": Decimal("66"),
    "99439": Decimal("48"),
    "99487": Decimal("144"),
    "99489": Decimal("78"),
    "99491": Decimal("82"),  # the 2025 figure; the source gives no 2026 one
    "99437": Decimal("41"),  # not in billing-2026.md; set to the 99458 figure until a source gives one
    "99453": Decimal("22"),
    "99454": Decimal("47"),
    "99445": Decimal("47"),
    "99457": Decimal("52"),
    "99458": Decimal("41"),
    "99470": Decimal("26"),
}

CODE_DESCRIPTIONS: Final[dict[str, str]] = {
    "99490": "CCM, clinical staff time, first 20 min",
    "99439": "CCM add-on, each further 20 min",
    "99487": "complex CCM, first 60 min",
    "99489": "complex CCM add-on, each further 30 min",
    "99491": "CCM by the physician/QHP personally, first 30 min",
    "99437": "99491 add-on, each further 30 min",
    "99453": "RPM set-up and patient education",
    "99454": "RPM device supply, 16-30 data days",
    "99445": "RPM device supply, 2-15 data days",
    "99457": "RPM treatment management, first 20 min",
    "99458": "RPM treatment management add-on, each further 20 min",
    "99470": "RPM treatment management, 10-19 min",
}


class BillingRules(BaseModel):
    """The parts of the 2026 rules that sources disagree on or that a practice sets; defaults cited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    setup_min_data_days: int = Field(
        default=2,
        ge=1,
        le=30,
        description="data days 99453 needs in the episode's first period (sources say 2 or 16; default 2)",
    )
    max_99458_units: int = Field(default=2, ge=0, description="99458 per month ('commonly up to 2 units')")
    billing_practitioner_time_counts_as_staff: bool = Field(
        default=True,
        description="CPT lets the billing practitioner's own time count toward clinical-staff CCM codes",
    )
    payments: dict[str, Decimal] = Field(default_factory=lambda: dict(NATIONAL_AVERAGE_PAYMENTS_2026))

    def payment(self, code: str) -> Decimal:
        """The configured payment for one unit of `code` (0 when the practice has not set one)."""
        return self.payments.get(code, Decimal(0))
