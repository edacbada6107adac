"""The lag rules as plain functions, each with the numbers it states."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from pilot_tracker.ledger.plan import planned_percent
from pilot_tracker.ledger.program_file import ProgramSpec, validate_program
from pilot_tracker.supervise import rules
from pilot_tracker.supervise.workdays import WorkCalendar

from .test_program_file import SMALL


def program(**rule_settings: Any) -> ProgramSpec:
    document = copy.deepcopy(SMALL)
    document["rules"] = rule_settings
    return validate_program(document, "demo.yaml")


SPEC = program()


def report(
    task: str, unit: str, day: date, percent: float, status: str = "in_progress", **extra: Any
) -> rules.StatusReport:
    return rules.StatusReport(
        task=task,
        unit=unit,
        period=f"{day.year}-{day.month:02d}",
        status=status,
        percent=percent,
        reported_on=day,
        **extra,
    )


def situation(
    as_of: date, status_reports=(), readings=(), spec: ProgramSpec = SPEC, **extra: Any
) -> rules.Situation:
    return rules.Situation(
        spec=spec,
        as_of=as_of,
        calendar=WorkCalendar(),
        status_reports=list(status_reports),
        readings=list(readings),
        **extra,
    )


@pytest.mark.parametrize(
    ("task", "day", "planned"),
    [
        ("T-01", date(2021, 1, 4), 0),  # its start day
        ("T-01", date(2021, 3, 31), 40),  # the first milestone
        ("T-01", date(2021, 5, 15), 69.7),  # between milestones: 40 + 60 × 45/91
        ("T-01", date(2021, 7, 31), 100),  # after the last milestone
        ("T-02", date(2021, 2, 1), 0),  # no milestones: a straight line to 100 on the due day
        ("T-02", date(2021, 7, 2), 45.3),  # 151 of 333 days
        ("T-02", date(2021, 12, 31), 100),
    ],
)
def test_planned_percent(task: str, day: date, planned: float) -> None:
    spec_task = next(t for t in SPEC.tasks if t.code == task)
    assert planned_percent(spec_task, day) == planned


@pytest.mark.parametrize(
    ("reported", "severity", "gap"),
    [(30, None, None), (25, None, None), (20, "yellow", 20), (10, "yellow", 30), (5, "red", 35)],
)
def test_behind_plan(reported: float, severity: str | None, gap: float | None) -> None:
    found = rules.behind_plan(
        situation(date(2021, 3, 31), [report("T-01", "tw", date(2021, 3, 20), reported)])
    )
    if severity is None:
        assert found == []
        return
    (finding,) = found
    assert finding.severity == severity and finding.unit == "tw" and finding.task == "T-01"
    assert finding.details["planned"] == 40 and finding.details["reported"] == reported
    assert finding.details["gap"] == gap and finding.details["tolerance"] == 15
    assert finding.message == f"T-01 计划进度40%，报送{reported:g}%，落后{gap:g}个百分点（容差15）"


def test_behind_plan_with_the_program_s_own_tolerance() -> None:
    spec = program(behind_plan={"tolerance": 25, "red_gap": 50})
    assert (
        rules.behind_plan(
            situation(date(2021, 3, 31), [report("T-01", "tw", date(2021, 3, 20), 20)], spec=spec)
        )
        == []
    )


@pytest.mark.parametrize(
    ("as_of", "status", "severity", "late"),
    [
        (date(2021, 6, 30), "in_progress", None, None),  # the due day itself
        (date(2021, 7, 5), "in_progress", "yellow", 3),  # Thu, Fri, Mon
        (date(2021, 7, 14), "in_progress", "yellow", 10),
        (date(2021, 7, 15), "in_progress", "red", 11),
        (date(2021, 7, 20), "completed", None, None),
    ],
)
def test_overdue(as_of: date, status: str, severity: str | None, late: int | None) -> None:
    percent = 100 if status == "completed" else 90
    found = rules.overdue(
        situation(
            as_of, [report("T-01", "tw", date(2021, 6, 25), percent, status, evidence="文件")]
        )
    )
    if severity is None:
        assert found == []
        return
    (finding,) = found
    assert (finding.severity, finding.details["overdue_workdays"]) == (severity, late)
    assert finding.message == f"T-01 已超过完成时限6月30日{late}个工作日仍未完成（最近报送90%）"


def test_missing_report() -> None:
    reports = [
        report("T-01", "tw", date(2021, 1, 20), 5),
        report("T-01", "tw", date(2021, 2, 20), 20),
        report("T-01", "tw", date(2021, 3, 20), 40),
        report("T-02", "rsj", date(2021, 2, 20), 10),
    ]
    # 3-25 is a Thursday; with a grace of 3 working days, March is late from 3-31 on.
    assert [f.unit for f in rules.missing_report(situation(date(2021, 3, 30), reports))] == []
    found = {f.unit: f for f in rules.missing_report(situation(date(2021, 3, 31), reports))}
    assert set(found) == {"rsj"}  # jyj leads nothing; tw reported
    assert found["rsj"].severity == "yellow"
    assert found["rsj"].details == {
        "period": "2021-03",
        "deadline": "2021-03-25",
        "grace_workdays": 3,
        "missed_periods": 1,
    }
    assert found["rsj"].message == "2021-03 未报送进展（截止3月25日，宽限3个工作日）"
    # rsj owns an indicator, so it owes a report every period: Feb and Mar missing is red.
    later = rules.missing_report(situation(date(2021, 4, 30), reports))
    assert {(f.unit, f.severity, f.details["missed_periods"]) for f in later} == {
        ("tw", "yellow", 1),
        ("rsj", "red", 2),
    }


def two_tasks_for_tw() -> ProgramSpec:
    """SMALL, with a second task led by 团县委 (tw)."""
    document = copy.deepcopy(SMALL)
    document["tasks"].append(
        {
            "code": "T-03",
            "title": "建设青年之家",
            "list": "development",
            "lead_unit": "tw",
            "start": "2021-01-04",
            "due": "2021-12-31",
        }
    )
    return validate_program(document, "demo.yaml")


# tw skipped March; on 6 April (before April's deadline) March is the period checked.
BEFORE_MARCH = [
    report("T-01", "tw", date(2021, 1, 20), 5),
    report("T-01", "tw", date(2021, 2, 20), 20),
]


@pytest.mark.parametrize(
    ("april", "spec", "flagged"),
    [
        # planned on 6 April: T-01 40 + 60 × 6/91 = 44%, T-03 (Jan 4 → Dec 31) 25.8%
        pytest.param([("T-01", 45)], SPEC, False, id="caught up: all its tasks, on plan"),
        pytest.param([("T-01", 25)], SPEC, True, id="still behind plan (44 - 25 > 15)"),
        pytest.param([("T-01", 45)], two_tasks_for_tw(), True, id="one of its two tasks"),
        pytest.param([("T-01", 45), ("T-03", 20)], two_tasks_for_tw(), False, id="both, on plan"),
        pytest.param([], SPEC, True, id="nothing since"),
    ],
)
def test_a_skipped_period_stops_flagging_once_the_unit_has_caught_up(
    april: list[tuple[str, float]], spec: ProgramSpec, flagged: bool
) -> None:
    reports = BEFORE_MARCH + [report(task, "tw", date(2021, 4, 6), p) for task, p in april]
    found = [
        f
        for f in rules.missing_report(situation(date(2021, 4, 6), reports, spec=spec))
        if f.unit == "tw"
    ]
    assert bool(found) is flagged
    assert rules.caught_up(situation(date(2021, 4, 6), reports, spec=spec), "tw", "2021-03") is (
        not flagged
    )
    if flagged:
        assert found[0].details["period"] == "2021-03"


def test_a_unit_whose_source_is_down_is_not_lagging() -> None:
    found = rules.missing_report(situation(date(2021, 3, 31), unavailable=frozenset({"rsj", "tw"})))
    assert found == []


@pytest.mark.parametrize(
    ("percents", "severity", "still"),
    [
        ((10, 20, 30), None, 0),
        ((20, 20, 30), None, 0),
        ((20, 20, 20), "yellow", 2),
        ((20, 20, 20, 20), "red", 3),
        ((30, 20, 20), "yellow", 2),
    ],
)
def test_stalled(percents: tuple[float, ...], severity: str | None, still: int) -> None:
    reports = [report("T-02", "rsj", date(2021, 2 + i, 20), p) for i, p in enumerate(percents)]
    found = rules.stalled(situation(date(2021, 6, 30), reports))
    if severity is None:
        assert found == []
        return
    (finding,) = found
    assert (finding.severity, finding.details["periods_without_progress"]) == (severity, still)


@pytest.mark.parametrize(
    ("value", "severity", "gap"),
    [(5.79, None, None), (5.81, "yellow", 13.2), (5.9, "red", 43.2), (5.6, None, None)],
)
def test_indicator_off_track(value: float, severity: str | None, gap: float | None) -> None:
    # 5.8 → 5.5 from the end of 2020 to the end of 2025; on 2021-06-30, 181 of 1826 days
    # have passed, so the line stands at 5.7703.
    reading = rules.Reading(indicator="I-01", value=value, as_of=date(2021, 6, 30))
    found = rules.indicator_off_track(situation(date(2021, 7, 5), readings=[reading]))
    if severity is None:
        assert found == []
        return
    (finding,) = found
    assert finding.severity == severity and finding.unit == "rsj" and finding.indicator == "I-01"
    assert finding.details["expected"] == 5.77 and finding.details["gap_percent"] == gap


@pytest.mark.parametrize(("evidence", "flagged"), [("", True), ("《联席会议制度》", False)])
def test_no_evidence(evidence: str, flagged: bool) -> None:
    found = rules.no_evidence(
        situation(
            date(2021, 6, 30),
            [report("T-01", "tw", date(2021, 6, 20), 100, "completed", evidence=evidence)],
        )
    )
    assert bool(found) is flagged
    if flagged:
        assert found[0].message == "T-01 报送已完成，但未提供佐证材料"


def test_only_the_lead_unit_s_latest_report_counts() -> None:
    reports = [
        report("T-01", "tw", date(2021, 3, 10), 10),
        report("T-01", "tw", date(2021, 3, 20), 38),
        report("T-01", "jyj", date(2021, 3, 25), 0),  # a co-unit's view: not the lead's word
    ]
    assert rules.behind_plan(situation(date(2021, 3, 31), reports)) == []


def test_reports_after_the_day_are_not_seen() -> None:
    reports = [
        report("T-01", "tw", date(2021, 3, 10), 10),
        report("T-01", "tw", date(2021, 4, 2), 40),
    ]
    (finding,) = rules.behind_plan(situation(date(2021, 3, 31), reports))
    assert finding.details["reported"] == 10


def test_a_rule_switched_off() -> None:
    spec = program(behind_plan={"enabled": False})
    reports = [report("T-01", "tw", date(2021, 3, 20), 0)]
    assert all(
        f.rule != "behind_plan"
        for f in rules.evaluate(situation(date(2021, 3, 31), reports, spec=spec))
    )


def test_a_unit_that_skipped_a_period_has_not_caught_up_with_readings_of_earlier_ones() -> None:
    """rsj owns an indicator: readings of January and February do not make up for a March
    it skipped (the period checked is March, whatever the readings' months)."""
    reports = [report("T-02", "rsj", date(2021, 2, 20), 10)]
    indicator = SPEC.indicators[0].code
    readings = [
        rules.Reading(indicator=indicator, value=5.9, as_of=date(2021, 1, 29)),
        rules.Reading(indicator=indicator, value=6.0, as_of=date(2021, 2, 26)),
    ]
    current = situation(date(2021, 3, 31), reports, readings)
    assert rules.caught_up(current, "rsj", "2021-03") is False
    found = {f.unit: f for f in rules.missing_report(current)}
    assert found["rsj"].details["period"] == "2021-03"
