"""RPM codes for one patient and month.

Device supply (99454 16-30 data days, 99445 2-15) is counted per 30-day period from the episode start and
billed in the month in which the period ends, with that last day as the date of service: only then is the
count final. 99453 (set-up and education) goes with the episode's first period. Treatment management
(99457/99458, or 99470 for 10-19 min) is counted per calendar month and needs at least one real-time
interactive communication.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from careteam_api.billing.calendar import consent_covers, days_between, device_periods, local_day
from careteam_api.billing.entries import CountedEntry, day_reached
from careteam_api.billing.model import CodeLine, DataDay, PatientMonth, Period, Shortfall
from careteam_api.billing.rules import (
    CODE_DESCRIPTIONS,
    RPM_99445_MIN_DAYS,
    RPM_99454_MIN_DAYS,
    RPM_99457_MINUTES,
    RPM_99458_STEP_MINUTES,
    RPM_99470_MINUTES,
    RPM_AUTOMATIC_SOURCES,
    BillingRules,
)


def data_days(patient: PatientMonth) -> tuple[dict[date, list[str]], int]:
    """Local days with at least one automatically transmitted reading inside the episode and consent,
    with the readings that made each day; and how many readings were left out (manual, outside)."""
    days: dict[date, list[str]] = defaultdict(list)
    left_out = 0
    start, end = patient.rpm_episode_start, patient.rpm_episode_end
    consents = patient.consents_for("rpm")
    for reading in patient.readings:
        day = local_day(reading.at, patient.zone)
        inside = start is not None and day >= start and (end is None or day <= end)
        if reading.source not in RPM_AUTOMATIC_SOURCES or not inside:
            left_out += 1
            continue
        if not consent_covers(consents, reading.at, patient.zone):
            left_out += 1
            continue
        days[day].append(reading.id or reading.at.isoformat())
    return dict(days), left_out


def _in(period: Period, days: dict[date, list[str]]) -> list[DataDay]:
    return [
        DataDay(day=d, readings=sorted(r)) for d, r in sorted(days.items()) if period.start <= d <= period.end
    ]


def _device_line(code: str, period: Period, evidence: list[DataDay], why: str) -> CodeLine:
    return CodeLine(
        code=code,
        units=1,
        service_date=period.end,
        description=CODE_DESCRIPTIONS[code],
        period=period,
        data_days=evidence,
        why=why,
    )


def _days_short(code: str, needed: int, have: int, period: Period, free_days: int, note: str) -> Shortfall:
    return Shortfall(
        code=code,
        unit="data_days",
        needed=needed,
        have=have,
        short_by=needed - have,
        by=period.end,
        reachable=have + free_days >= needed,
        period=period,
        note=note,
    )


def device_codes(
    patient: PatientMonth, rules: BillingRules, first_day: date, last_day: date, as_of: date
) -> tuple[list[CodeLine], list[Shortfall], int]:
    """99454/99445 per period ending this month, 99453 with the first period; shortfalls include the
    period still running at month end. Returns lines, shortfalls and the number of readings left out."""
    if patient.rpm_episode_start is None:
        return [], [], len(patient.readings)
    days, left_out = data_days(patient)
    lines: list[CodeLine] = []
    missing: list[Shortfall] = []
    for period in device_periods(patient.rpm_episode_start, patient.rpm_episode_end, last_day):
        evidence = _in(period, days)
        have = len(evidence)
        if period.end < first_day:
            continue
        if period.end > last_day:  # still running at month end: report what it still needs
            if have < RPM_99454_MIN_DAYS:
                today = max(as_of, period.start)
                free = sum(1 for d in _dates(today, period.end) if d not in days)
                missing.append(
                    _days_short("99454", RPM_99454_MIN_DAYS, have, period, free, "period in progress")
                )
            continue
        why = f"{have} data days (automatic readings, {patient.timezone}) in {period.start}..{period.end}"
        if have >= RPM_99454_MIN_DAYS:
            lines.append(_device_line("99454", period, evidence, why))
        elif have >= RPM_99445_MIN_DAYS:
            lines.append(_device_line("99445", period, evidence, why))
            missing.append(_days_short("99454", RPM_99454_MIN_DAYS, have, period, 0, "period ended"))
        else:
            missing.append(_days_short("99445", RPM_99445_MIN_DAYS, have, period, 0, "period ended"))
        if period.start == patient.rpm_episode_start:
            lines_or_missing = _setup(patient, rules, period, evidence)
            if isinstance(lines_or_missing, CodeLine):
                lines.append(lines_or_missing)
            else:
                missing.append(lines_or_missing)
    return lines, missing, left_out


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range(days_between(first, last))]


def _setup(
    patient: PatientMonth, rules: BillingRules, period: Period, evidence: list[DataDay]
) -> CodeLine | Shortfall:
    have = len(evidence)
    if patient.rpm_setup_done and have >= rules.setup_min_data_days:
        why = f"set-up and education done; {have} data days in the episode's first period"
        return _device_line("99453", period, evidence, why)
    if not patient.rpm_setup_done:
        return Shortfall(
            code="99453",
            unit="setup",
            needed=1,
            have=0,
            short_by=1,
            by=period.end,
            reachable=False,
            period=period,
            note="set-up and patient education not recorded as done",
        )
    return _days_short("99453", rules.setup_min_data_days, have, period, 0, "once per episode, first period")


def management_codes(
    counted: list[CountedEntry], rules: BillingRules, last_day: date, as_of: date
) -> tuple[list[CodeLine], list[Shortfall]]:
    """99457 (+99458) at 20 min, 99470 at 10-19 min; both need one interactive communication."""
    rpm = [e for e in counted if e.program == "rpm"]
    minutes = sum(e.minutes for e in rpm)
    interactive = any(e.interactive for e in rpm)
    reachable = as_of <= last_day
    missing: list[Shortfall] = []
    lines: list[CodeLine] = []

    def line(code: str, units: int, used: int) -> CodeLine:
        return CodeLine(
            code=code,
            units=units,
            service_date=day_reached(rpm, used) or last_day,
            description=CODE_DESCRIPTIONS[code],
            minutes=minutes,
            entries=[e.label for e in rpm],
            why=f"{minutes} counted RPM management minutes, {sum(e.interactive for e in rpm)} interactive",
        )

    def short(code: str, needed: int, note: str) -> Shortfall:
        return Shortfall(
            code=code,
            unit="minutes",
            needed=needed,
            have=minutes,
            short_by=needed - minutes,
            by=last_day,
            reachable=reachable,
            note=note,
        )

    if not interactive:
        if minutes:
            missing.append(
                Shortfall(
                    code="99457" if minutes >= RPM_99457_MINUTES else "99470",
                    unit="interactive_contact",
                    needed=1,
                    have=0,
                    short_by=1,
                    by=last_day,
                    reachable=reachable,
                    note="needs one real-time audio/video communication with the patient or caregiver",
                )
            )
        if minutes < RPM_99470_MINUTES:
            missing.append(short("99470", RPM_99470_MINUTES, "RPM management, 10-19 min"))
        return lines, missing
    if minutes >= RPM_99457_MINUTES:
        extra = min(rules.max_99458_units, (minutes - RPM_99457_MINUTES) // RPM_99458_STEP_MINUTES)
        used = RPM_99457_MINUTES + extra * RPM_99458_STEP_MINUTES
        lines.append(line("99457", 1, used))
        if extra:
            lines.append(line("99458", extra, used))
        if extra < rules.max_99458_units:
            needed = RPM_99457_MINUTES + (extra + 1) * RPM_99458_STEP_MINUTES
            missing.append(short("99458", needed, "next 99458 unit"))
    elif minutes >= RPM_99470_MINUTES:
        lines.append(line("99470", 1, RPM_99470_MINUTES))
        missing.append(short("99457", RPM_99457_MINUTES, "99457 replaces 99470 at 20 min"))
    else:
        missing.append(short("99470", RPM_99470_MINUTES, "RPM management, 10-19 min"))
    return lines, missing
