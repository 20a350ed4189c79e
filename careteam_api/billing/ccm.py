"""CCM codes for one patient and month: 99490/99439, 99487/99489, 99491/99437, mutually exclusive.

Two ways to bill a month exist and cannot be combined (99491 excludes 99490 and 99487):
- the clinical-staff family on the pooled time of clinical staff and the billing practitioner (CPT lets
  the practitioner's own time count toward clinical-staff time): 99487 (+99489) when any counted entry
  documents moderate/high medical decision making (`complex`) and the pool reaches 60 min, else 99490
  (+99439, at most 2);
- 99491 (+99437) on the billing practitioner's personal time alone.
The engine bills the family worth more at the configured payments (ties go to the clinical-staff family)
and says so in `why`, so the choice is visible and repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from careteam_api.billing.entries import CountedEntry, day_reached
from careteam_api.billing.model import CodeLine, Shortfall
from careteam_api.billing.rules import (
    CCM_99437_STEP_MINUTES,
    CCM_99439_MAX_UNITS,
    CCM_99439_STEP_MINUTES,
    CCM_99487_MINUTES,
    CCM_99489_STEP_MINUTES,
    CCM_99490_MINUTES,
    CCM_99491_MINUTES,
    CODE_DESCRIPTIONS,
    BillingRules,
)


@dataclass(frozen=True)
class _Option:
    name: str
    entries: list[CountedEntry]
    units: list[tuple[str, int]]  # (code, units), base first
    minutes_used: int  # the threshold the billed units needed

    @property
    def minutes(self) -> int:
        return sum(e.minutes for e in self.entries)

    def value(self, rules: BillingRules) -> Decimal:
        return sum((rules.payment(code) * n for code, n in self.units), Decimal(0))


def _staff_option(entries: list[CountedEntry]) -> _Option:
    minutes = sum(e.minutes for e in entries)
    if any(e.complex for e in entries) and minutes >= CCM_99487_MINUTES:
        extra = (minutes - CCM_99487_MINUTES) // CCM_99489_STEP_MINUTES
        units = [("99487", 1)] + ([("99489", extra)] if extra else [])
        return _Option("complex", entries, units, CCM_99487_MINUTES + extra * CCM_99489_STEP_MINUTES)
    if minutes >= CCM_99490_MINUTES:
        extra = min(CCM_99439_MAX_UNITS, (minutes - CCM_99490_MINUTES) // CCM_99439_STEP_MINUTES)
        units = [("99490", 1)] + ([("99439", extra)] if extra else [])
        return _Option("staff", entries, units, CCM_99490_MINUTES + extra * CCM_99439_STEP_MINUTES)
    return _Option("staff", entries, [], 0)


def _practitioner_option(entries: list[CountedEntry]) -> _Option:
    minutes = sum(e.minutes for e in entries)
    if minutes < CCM_99491_MINUTES:
        return _Option("practitioner", entries, [], 0)
    extra = (minutes - CCM_99491_MINUTES) // CCM_99437_STEP_MINUTES
    units = [("99491", 1)] + ([("99437", extra)] if extra else [])
    return _Option("practitioner", entries, units, CCM_99491_MINUTES + extra * CCM_99437_STEP_MINUTES)


def _why(chosen: _Option, other: _Option, rules: BillingRules) -> str:
    text = f"{chosen.minutes} counted CCM minutes ({len(chosen.entries)} entries)"
    if chosen.name == "complex":
        text += "; moderate/high medical decision making documented"
    if other.units:
        codes = "+".join(code for code, _ in other.units)
        text += (
            f"; billed instead of {codes} (${other.value(rules)} vs ${chosen.value(rules)} at the configured "
            "payments; the two cannot be billed in one month)"
        )
    return text


def ccm_codes(
    counted: list[CountedEntry], rules: BillingRules, last_day: date, as_of: date
) -> tuple[list[CodeLine], list[Shortfall]]:
    """The CCM lines for the month and the thresholds not reached (time is counted per calendar month)."""
    ccm = [e for e in counted if e.program == "ccm"]
    practitioner = [e for e in ccm if e.role == "physician"]
    pooled = (
        ccm if rules.billing_practitioner_time_counts_as_staff else [e for e in ccm if e.role != "physician"]
    )
    staff, personal = _staff_option(pooled), _practitioner_option(practitioner)
    chosen, other = (personal, staff) if personal.value(rules) > staff.value(rules) else (staff, personal)
    lines: list[CodeLine] = []
    if chosen.units:
        service_date = day_reached(chosen.entries, chosen.minutes_used) or last_day
        why = _why(chosen, other, rules)
        for code, units in chosen.units:
            lines.append(
                CodeLine(
                    code=code,
                    units=units,
                    service_date=service_date,
                    description=CODE_DESCRIPTIONS[code],
                    minutes=chosen.minutes,
                    entries=[e.label for e in chosen.entries],
                    why=why,
                )
            )
    return lines, _shortfalls(chosen, staff, personal, last_day, as_of)


def _short(code: str, needed: int, have: int, last_day: date, as_of: date, note: str) -> Shortfall:
    return Shortfall(
        code=code,
        unit="minutes",
        needed=needed,
        have=have,
        short_by=needed - have,
        by=last_day,
        reachable=as_of <= last_day,
        note=note,
    )


def _shortfalls(
    chosen: _Option, staff: _Option, personal: _Option, last_day: date, as_of: date
) -> list[Shortfall]:
    out: list[Shortfall] = []
    billed = {code: n for code, n in chosen.units}
    pool = staff.minutes
    if not chosen.units:
        out.append(_short("99490", CCM_99490_MINUTES, pool, last_day, as_of, "CCM time is not carried over"))
    if "99490" in billed and billed.get("99439", 0) < CCM_99439_MAX_UNITS:
        needed = CCM_99490_MINUTES + (billed.get("99439", 0) + 1) * CCM_99439_STEP_MINUTES
        out.append(_short("99439", needed, pool, last_day, as_of, "next 99439 unit"))
    if any(e.complex for e in staff.entries) and pool < CCM_99487_MINUTES:
        out.append(_short("99487", CCM_99487_MINUTES, pool, last_day, as_of, "complex CCM documented"))
    if "99487" in billed:
        needed = CCM_99487_MINUTES + (billed.get("99489", 0) + 1) * CCM_99489_STEP_MINUTES
        out.append(_short("99489", needed, pool, last_day, as_of, "next 99489 unit"))
    if personal.entries and personal.minutes < CCM_99491_MINUTES:
        out.append(
            _short("99491", CCM_99491_MINUTES, personal.minutes, last_day, as_of, "practitioner's own time")
        )
    if "99491" in billed:
        needed = CCM_99491_MINUTES + (billed.get("99437", 0) + 1) * CCM_99437_STEP_MINUTES
        out.append(_short("99437", needed, personal.minutes, last_day, as_of, "next 99437 unit"))
    return out
