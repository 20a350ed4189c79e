"""The 2026 billing rules month by month: each scenario names the edge it covers and the codes expected."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from careteam_api.billing.engine import evaluate
from careteam_api.billing.model import MonthInput, PatientResult

CHICAGO = ZoneInfo("America/Chicago")


def _at(day: int, hour: int = 10, minute: int = 0, month: int = 3, zone: ZoneInfo = CHICAGO) -> str:
    return datetime(2026, month, day, hour, minute, tzinfo=zone).isoformat()


def entry(
    minutes: int,
    day: int = 5,
    *,
    program: str = "ccm",
    role: str = "clinical_staff",
    hour: int = 10,
    minute: int = 0,
    user: str = "cm-1",
    interactive: bool = False,
    complex: bool = False,
) -> dict[str, Any]:
    return {
        "program": program,
        "minutes": minutes,
        "at": _at(day, hour, minute),
        "role": role,
        "user": user,
        "interactive": interactive,
        "complex": complex,
    }


def spread(total: int, *, program: str = "ccm", **kwargs: Any) -> list[dict[str, Any]]:
    """`total` minutes as 10-minute entries on separate days (no overlaps)."""
    out, day = [], 2
    while total > 0:
        out.append(entry(min(10, total), day, program=program, **kwargs))
        total -= 10
        day += 1
    return out


def readings(days: list[int], source: str = "ble", month: int = 3) -> list[dict[str, Any]]:
    return [{"at": _at(d, 7, 40, month), "source": source} for d in days]


def patient(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "p1",
        "timezone": "America/Chicago",
        "chronic_conditions": ["I10", "E11.9"],
        "consent": {"date": "2026-01-10", "withdrawn": None},
        "rpm_episode_start": None,
        "rpm_setup_done": False,
        "readings": [],
        "time_entries": [],
    }
    base.update(overrides)
    return base


def rpm_patient(**overrides: Any) -> dict[str, Any]:
    return patient(**({"rpm_episode_start": "2026-03-01", "rpm_setup_done": True} | overrides))


def run(p: dict[str, Any], **month: Any) -> PatientResult:
    return evaluate(MonthInput.model_validate({"month": "2026-03", "patients": [p], **month})).patients[0]


def codes(result: PatientResult) -> list[tuple[str, int]]:
    return sorted((line.code, line.units) for line in result.codes)


SCENARIOS: list[tuple[str, dict[str, Any], list[tuple[str, int]]]] = [
    # CCM 99490 / 99439 thresholds
    ("ccm-19-min-nothing", patient(time_entries=spread(19)), []),
    ("ccm-20-min-99490", patient(time_entries=spread(20)), [("99490", 1)]),
    ("ccm-39-min-99490-only", patient(time_entries=spread(39)), [("99490", 1)]),
    ("ccm-40-min-one-99439", patient(time_entries=spread(40)), [("99439", 1), ("99490", 1)]),
    ("ccm-60-min-two-99439", patient(time_entries=spread(60)), [("99439", 2), ("99490", 1)]),
    ("ccm-61-min-99439-capped-at-2", patient(time_entries=spread(61)), [("99439", 2), ("99490", 1)]),
    ("ccm-one-chronic-condition", patient(chronic_conditions=["I10"], time_entries=spread(45)), []),
    ("ccm-apcm-month-bundles-ccm", patient(apcm=True, time_entries=spread(45)), []),
    # consent
    (
        "ccm-time-before-consent-not-counted",
        patient(consent={"date": "2026-03-10"}, time_entries=[entry(15, 5), entry(15, 12)]),
        [],
    ),
    (
        "ccm-time-from-consent-day-counts",
        patient(consent={"date": "2026-03-10"}, time_entries=[entry(15, 5), entry(20, 10)]),
        [("99490", 1)],
    ),
    (
        "ccm-time-after-withdrawal-not-counted",
        patient(
            consent={"date": "2026-01-10", "withdrawn": "2026-03-15"},
            time_entries=[entry(10, 5), entry(20, 20)],
        ),
        [],
    ),
    (
        "ccm-time-before-withdrawal-still-billable",
        patient(consent={"date": "2026-01-10", "withdrawn": "2026-03-15"}, time_entries=[entry(20, 14)]),
        [("99490", 1)],
    ),
    ("ccm-no-consent", patient(consent=None, time_entries=spread(30)), []),
    # complex CCM
    (
        "ccm-complex-59-min-is-99490",
        patient(time_entries=spread(59, complex=True)),
        [("99439", 1), ("99490", 1)],
    ),
    ("ccm-complex-60-min-99487", patient(time_entries=spread(60, complex=True)), [("99487", 1)]),
    ("ccm-complex-89-min-99487-only", patient(time_entries=spread(89, complex=True)), [("99487", 1)]),
    (
        "ccm-complex-90-min-99489",
        patient(time_entries=spread(90, complex=True)),
        [("99487", 1), ("99489", 1)],
    ),
    # 99491 vs 99490
    (
        "ccm-physician-35-min-alone-99491",
        patient(billing_practitioner="dr-a", time_entries=spread(35, role="physician", user="dr-a")),
        [("99491", 1)],
    ),
    (
        "ccm-physician-29-min-counts-as-staff-99490",
        patient(billing_practitioner="dr-a", time_entries=spread(29, role="physician", user="dr-a")),
        [("99490", 1)],
    ),
    (
        "ccm-physician-30-plus-staff-25-pooled-99490",
        patient(
            billing_practitioner="dr-a",
            time_entries=[*spread(30, role="physician", user="dr-a"), entry(25, 20)],
        ),
        [("99439", 1), ("99490", 1)],
    ),
    (
        "ccm-physician-not-billing-practitioner-excluded",
        patient(billing_practitioner="dr-a", time_entries=spread(35, role="physician", user="dr-b")),
        [],
    ),
    # RPM device supply and set-up
    ("rpm-1-data-day-nothing", rpm_patient(readings=readings([2])), []),
    ("rpm-2-data-days-99445", rpm_patient(readings=readings([2, 3])), [("99445", 1), ("99453", 1)]),
    (
        "rpm-15-data-days-99445",
        rpm_patient(readings=readings(list(range(1, 16)))),
        [("99445", 1), ("99453", 1)],
    ),
    (
        "rpm-16-data-days-99454",
        rpm_patient(readings=readings(list(range(1, 17)))),
        [("99453", 1), ("99454", 1)],
    ),
    (
        "rpm-two-readings-one-day-is-one-data-day",
        rpm_patient(readings=[*readings([2]), {"at": _at(2, 19), "source": "ble"}]),
        [],
    ),
    ("rpm-manual-readings-never-data-days", rpm_patient(readings=readings(list(range(1, 17)), "manual")), []),
    (
        "rpm-setup-not-done-no-99453",
        rpm_patient(readings=readings(list(range(1, 17))), rpm_setup_done=False),
        [("99454", 1)],
    ),
    (
        "rpm-readings-before-rpm-consent-not-counted",
        rpm_patient(
            consent=None,
            program_consents={"ccm": [{"date": "2026-01-10"}], "rpm": [{"date": "2026-03-20"}]},
            readings=readings(list(range(1, 26))),
        ),
        [("99445", 1), ("99453", 1)],
    ),
    (
        "rpm-two-periods-end-in-march",
        patient(
            rpm_episode_start="2026-01-01",
            rpm_setup_done=True,
            readings=readings(list(range(1, 29)), month=2) + readings(list(range(2, 11))),
        ),
        [("99445", 1), ("99454", 1)],
    ),
    (
        "rpm-period-running-past-month-end-not-billed",
        patient(rpm_episode_start="2026-03-10", rpm_setup_done=True, readings=readings(list(range(10, 32)))),
        [],
    ),
    # data day split by the time zone: 01:00Z and 23:00Z on 2 March are two local days in Chicago
    (
        "rpm-data-day-split-by-time-zone-chicago",
        rpm_patient(
            rpm_setup_done=False,
            readings=[
                {"at": "2026-03-02T01:00:00Z", "source": "ble"},
                {"at": "2026-03-02T23:00:00Z", "source": "ble"},
            ],
        ),
        [("99445", 1)],
    ),
    (
        "rpm-same-readings-one-day-in-utc",
        rpm_patient(
            timezone="UTC",
            rpm_setup_done=False,
            readings=[
                {"at": "2026-03-02T01:00:00Z", "source": "ble"},
                {"at": "2026-03-02T23:00:00Z", "source": "ble"},
            ],
        ),
        [],
    ),
    # RPM treatment management: 99470 vs 99457
    ("rpm-9-min-nothing", rpm_patient(time_entries=[entry(9, program="rpm", interactive=True)]), []),
    (
        "rpm-10-min-99470",
        rpm_patient(time_entries=[entry(10, program="rpm", interactive=True)]),
        [("99470", 1)],
    ),
    (
        "rpm-19-min-99470",
        rpm_patient(time_entries=[entry(19, program="rpm", interactive=True)]),
        [("99470", 1)],
    ),
    (
        "rpm-20-min-99457",
        rpm_patient(time_entries=[entry(20, program="rpm", interactive=True)]),
        [("99457", 1)],
    ),
    (
        "rpm-40-min-99458",
        rpm_patient(time_entries=[entry(20, program="rpm", interactive=True), entry(20, 6, program="rpm")]),
        [("99457", 1), ("99458", 1)],
    ),
    (
        "rpm-80-min-99458-capped-at-2",
        rpm_patient(time_entries=[entry(20, program="rpm", interactive=True), *spread(60, program="rpm")]),
        [("99457", 1), ("99458", 2)],
    ),
    ("rpm-25-min-without-interactive-nothing", rpm_patient(time_entries=spread(25, program="rpm")), []),
    (
        "rpm-time-without-episode-not-counted",
        patient(time_entries=[entry(25, program="rpm", interactive=True)]),
        [],
    ),
    # both programs, separate minutes
    (
        "ccm-and-rpm-minutes-in-one-month",
        rpm_patient(time_entries=[entry(20), entry(20, 6, program="rpm", interactive=True)]),
        [("99457", 1), ("99490", 1)],
    ),
    (
        "overlapping-minutes-of-one-user-count-once-across-programs",
        rpm_patient(time_entries=[entry(20), entry(20, minute=10, program="rpm", interactive=True)]),
        [("99470", 1), ("99490", 1)],
    ),
    (
        "overlapping-ccm-entries-count-once",
        patient(time_entries=[entry(20), entry(20, minute=5)]),
        [("99490", 1)],
    ),
    (
        "different-users-same-time-both-count",
        patient(time_entries=[entry(20), entry(20, user="cm-2")]),
        [("99439", 1), ("99490", 1)],
    ),
]


@pytest.mark.parametrize(
    ("scenario", "expected"), [(s, e) for _, s, e in SCENARIOS], ids=[n for n, _, _ in SCENARIOS]
)
def test_month_scenario(scenario: dict[str, Any], expected: list[tuple[str, int]]) -> None:
    assert codes(run(scenario)) == expected


def test_99453_needs_configured_data_days() -> None:
    p = rpm_patient(readings=readings(list(range(1, 16))))
    assert codes(run(p, rules={"setup_min_data_days": 16})) == [("99445", 1)]
    result = run(p, rules={"setup_min_data_days": 16})
    short = next(m for m in result.missing if m.code == "99453")
    assert (short.needed, short.have, short.short_by) == (16, 15, 1)


def test_shortfall_says_minutes_needed_and_by_when() -> None:
    result = run(patient(time_entries=spread(19)))
    short = next(m for m in result.missing if m.code == "99490")
    assert (short.unit, short.have, short.short_by, str(short.by)) == ("minutes", 19, 1, "2026-03-31")


def test_shortfall_says_data_days_needed_for_99454() -> None:
    result = run(rpm_patient(readings=readings(list(range(1, 16)))))
    short = next(m for m in result.missing if m.code == "99454" and m.note == "period ended")
    assert (short.unit, short.have, short.short_by, str(short.by)) == ("data_days", 15, 1, "2026-03-30")


def test_running_period_reports_whether_16_days_are_still_reachable() -> None:
    result = run(patient(rpm_episode_start="2026-03-20", rpm_setup_done=True, readings=readings([20, 21])))
    short = next(m for m in result.missing if m.code == "99454")
    assert str(short.by) == "2026-04-18"
    assert short.short_by == 14
    assert short.reachable  # 18 days remain after 31 March


def test_one_chronic_condition_says_why() -> None:
    result = run(patient(chronic_conditions=["I10"], time_entries=spread(30)))
    assert any(m.unit == "chronic_conditions" and m.short_by == 1 for m in result.missing)
    assert all("chronic conditions" in e.reason for e in result.excluded_entries)


def test_each_billed_code_lists_its_evidence() -> None:
    result = run(
        rpm_patient(
            readings=readings(list(range(1, 17))), time_entries=[entry(22, program="rpm", interactive=True)]
        )
    )
    by_code = {line.code: line for line in result.codes}
    assert len(by_code["99454"].data_days) == 16
    assert by_code["99454"].period is not None
    assert str(by_code["99454"].service_date) == "2026-03-30"
    assert by_code["99457"].entries == ["p1#time_entries[0]"]
    assert by_code["99457"].minutes == 22


def test_excluded_time_gives_the_reason() -> None:
    result = run(patient(consent={"date": "2026-03-10"}, time_entries=[entry(15, 5)]))
    assert result.excluded_entries[0].reason == "before CCM consent was documented (2026-03-10)"


def test_consent_moment_excludes_earlier_time_the_same_day() -> None:
    consent = {"date": "2026-03-10", "obtained_at": _at(10, 12)}
    result = run(patient(consent=consent, time_entries=[entry(20, 10, hour=9), entry(20, 10, hour=13)]))
    assert codes(result) == [("99490", 1)]
    assert result.counted_minutes["ccm"] == 20


def test_overlap_is_merged_across_patients_of_the_practice() -> None:
    a = patient(id="a", time_entries=[entry(20)])
    b = patient(id="b", time_entries=[entry(20, minute=0) | {"id": "b-1"}])
    result = evaluate(MonthInput.model_validate({"month": "2026-03", "patients": [a, b]}))
    assert codes(result.patients[0]) == [("99490", 1)]
    assert codes(result.patients[1]) == []
    assert "no minute counts twice" in result.patients[1].excluded_entries[0].reason


def test_time_on_the_last_local_evening_belongs_to_the_month() -> None:
    late = {"program": "ccm", "minutes": 20, "at": "2026-04-01T04:30:00Z", "role": "clinical_staff"}
    assert codes(run(patient(time_entries=[late]))) == [("99490", 1)]  # 23:30 on 31 March in Chicago


def test_dst_change_does_not_move_data_days() -> None:
    # Chicago moves to CDT on 8 March; 07:40 local is 13:40Z before and 12:40Z after.
    days = [datetime(2026, 3, d, 7, 40, tzinfo=CHICAGO) for d in range(1, 17)]
    p = rpm_patient(readings=[{"at": d.isoformat(), "source": "ble"} for d in days])
    assert codes(run(p)) == [("99453", 1), ("99454", 1)]
    assert days[10] - days[5] == timedelta(days=5)
