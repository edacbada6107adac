"""The escalation ladder, replayed over half a year of demo submissions to Xiangshan; then
each rule of it on a small pilot, day by day, with the findings given."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from pilot_tracker import db, periods
from pilot_tracker.alerts import outbox
from pilot_tracker.collect import collection
from pilot_tracker.demo.playthrough import acknowledge_notices
from pilot_tracker.demo.submissions import (
    Behaviour,
    acknowledging,
    behaviours,
    deliver,
    recovery_day,
)
from pilot_tracker.errors import NotFoundError, PilotTrackerError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, read_program_file, validate_program
from pilot_tracker.models import Acknowledgement, Escalation, Flag, Notification, Severity, Unit
from pilot_tracker.reports import figures
from pilot_tracker.supervise import escalation, flags, rules
from pilot_tracker.supervise.workdays import WorkCalendar

from .conftest import EXAMPLES, ROOT
from .message_links import LINKS, links_in, opened_by
from .test_program_file import SMALL

TEMPLATES = outbox.Templates(ROOT / "templates")


@dataclass
class Replay:
    engine: sa.Engine
    spec: ProgramSpec
    home: Path
    days: list[date] = field(default_factory=list)
    changes: dict[date, list[tuple[str, str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def flags_of(self, unit: str) -> dict[date, set[str]]:
        """The severities of a unit's flags on each run day."""
        found: dict[date, set[str]] = {day: set() for day in self.days}
        with db.session(self.engine) as session:
            for flag, code in session.exec(
                select(Flag, Unit.code).join(Unit, Flag.unit_id == Unit.id)
            ).all():
                if code == unit:
                    found[flag.as_of].add(flag.severity)
        return found

    def moves(self, unit: str) -> list[tuple[date, str, str]]:
        return [
            (day, change, level)
            for day in self.days
            for (u, change, level) in self.changes[day]
            if u == unit
        ]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """Every working day from 2021-01-04 to 2021-06-30: submissions land, collect, flag."""
    home = tmp_path_factory.mktemp("replay")
    engine = db.make_engine(f"sqlite:///{home / 'replay.db'}")
    db.migrate(engine)
    spec = read_program_file(EXAMPLES / "xiangshan.yaml")
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=spec,
            source_name="x",
            source_sha256="",
            now=datetime(2021, 1, 1, tzinfo=UTC),
        )
    state = Replay(engine, spec, home)
    calendar = WorkCalendar()
    day, previous = date(2021, 1, 4), None
    while day <= date(2021, 6, 30):
        if calendar.is_workday(day):
            now = datetime.combine(day, time(1, 0), tzinfo=UTC)
            with db.session(engine) as session:  # as the demo's units do
                acknowledge_notices(
                    session=session,
                    program="xiangshan",
                    units=acknowledging(spec),
                    before=day,
                    now=now - timedelta(minutes=30),
                )
            deliver(spec=spec, inbox=home / "inbox", since=previous, until=day)
            collection.collect(
                engine=engine,
                program="xiangshan",
                as_of=day,
                now=now,
                home=home,
                environ={},
                templates=TEMPLATES,
                settle_seconds=0,
                attempts=1,
                sleep=lambda _: None,
            )
            with db.session(engine) as session:
                _, changes = flags.flag_and_escalate(
                    session=session,
                    program="xiangshan",
                    as_of=day,
                    now=now,
                    templates=TEMPLATES,
                    home=home,
                )
                state.changes[day] = [(c.unit, c.change, c.escalation.level) for c in changes]
            state.days.append(day)
            previous = day
        day += timedelta(days=1)
    return state


def expected_ladder(replay: Replay, unit: str) -> list[tuple[date, str, str]]:
    """The ladder as the rules say, worked out from the flags of each day alone, and
    whether the unit's head acknowledges its notices (the next working day) or never."""
    settings = replay.spec.rules.escalation
    cadence = replay.spec.reporting.cadence
    calendar = WorkCalendar()
    answers = unit in acknowledging(replay.spec)
    moves: list[tuple[date, str, str]] = []
    opened: date | None = None
    raised = date.min
    level = ""
    for day, severities in replay.flags_of(unit).items():
        if opened is None:
            if severities:
                opened, raised, level = day, day, "reminder"
                moves.append((day, "opened", "reminder"))
            continue
        ends = not severities if level == "reminder" else "red" not in severities
        if ends:
            moves.append((day, "closed", level))
            opened, level = None, ""
            continue
        if "red" not in severities:
            continue
        distance = periods.ordinal(periods.period_of(day, cadence)) - periods.ordinal(
            periods.period_of(opened, cadence)
        )
        # An urge not acknowledged within N working days counts one period more.
        due = calendar.add_workdays(raised, settings.acknowledge_within_workdays)
        distance += level == "urge" and not answers and day > due
        target = level
        if distance >= settings.interview_after_periods:
            target = "interview"
        elif distance >= settings.urge_after_periods and level == "reminder":
            target = "urge"
        if target != level:
            level, raised = target, day
            moves.append((day, "raised", level))
    return moves


def unit_with(replay: Replay, kind: Behaviour) -> str:
    return next(unit for unit, behaviour in behaviours(replay.spec).items() if behaviour is kind)


def test_a_unit_that_keeps_lagging_climbs_to_an_interview(replay: Replay) -> None:
    lagging = [u for u, b in behaviours(replay.spec).items() if b is Behaviour.BEHIND]
    climbed = [
        u
        for u in lagging
        if [m[2] for m in replay.moves(u) if m[1] != "closed"][-1:] == ["interview"]
    ]
    assert climbed, {u: replay.moves(u) for u in lagging}
    unit = climbed[0]
    moves = replay.moves(unit)
    assert [(change, level) for _, change, level in moves[:3]] == [
        ("opened", "reminder"),
        ("raised", "urge"),
        ("raised", "interview"),
    ]
    assert moves == expected_ladder(replay, unit)
    opened, urged, interviewed = (day for day, _, _ in moves[:3])
    cadence = replay.spec.reporting.cadence
    assert escalation.period_distance(cadence, opened, urged) == 2
    # Its head never acknowledged the urge: the interview came a period sooner, on the
    # first run after the 3 working days to acknowledge it.
    assert escalation.period_distance(cadence, opened, interviewed) == 2
    calendar = WorkCalendar()
    assert interviewed == calendar.add_workdays(calendar.add_workdays(urged, 3), 1)

    with db.session(replay.engine) as session:
        record = session.exec(
            select(Escalation).join(Unit, Escalation.unit_id == Unit.id).where(Unit.code == unit)
        ).all()[0]
        sent = {n.dedup_key: n for n in session.exec(select(Notification)).all()}
        reminder = sent[f"escalation:{record.id}:reminder"]
        assert (
            reminder.target == f"unit:{unit} role:liaison" and reminder.created_at.date() == opened
        )
        assert reminder.subject.startswith("【进度提醒】象山县试点 · ")
        assert reminder.attachments and (replay.home / reminder.attachments[0]).is_file()
        head = sent[f"escalation:{record.id}:urge:head"]
        assert head.target == f"unit:{unit} role:head" and head.created_at.date() == urged
        assert head.subject.startswith("【督办提醒】象山县试点 · ")
        assert "主要负责人" not in head.subject
        assert sent[f"escalation:{record.id}:urge:office"].target == "role:office"
        interview = sent[f"escalation:{record.id}:interview"]
        assert interview.target == "role:office" and interview.created_at.date() == interviewed
        assert interview.subject.startswith("【约谈建议】象山县试点 · ")
        assert "约谈" in interview.body and "督办通知也未在规定时限内签收" in interview.body
        notice = sent[f"escalation:{record.id}:interview:head"]
        assert notice.target == f"unit:{unit} role:head"
        assert notice.subject.startswith("【约谈通知】象山县试点 · ")
        assert notice.created_at.date() == interviewed


def test_a_unit_that_recovers_is_closed_on_the_day_it_has_no_red_flag(replay: Replay) -> None:
    unit = unit_with(replay, Behaviour.RECOVERING)
    moves = replay.moves(unit)
    assert moves == expected_ladder(replay, unit)
    closed = [(day, level) for day, change, level in moves if change == "closed"]
    assert closed, moves
    day, level = closed[0]
    # Its head acknowledged the urge: no interview came before it caught up.
    assert level == "urge" and day >= recovery_day(replay.spec)
    with db.session(replay.engine) as session:
        record = session.exec(
            select(Escalation)
            .join(Unit, Escalation.unit_id == Unit.id)
            .where(Unit.code == unit, Escalation.closed_on == day)
        ).one()
        assert record.status == "closed" and record.outcome.startswith("自动关闭")


def test_every_ladder_follows_the_rules(replay: Replay) -> None:
    for unit in (unit.code for unit in replay.spec.units):
        assert replay.moves(unit) == expected_ladder(replay, unit), unit


def test_a_lagging_unit_s_liaison_hears_once_in_each_period(replay: Replay) -> None:
    """Not once ever, not on every run: one reminder in each period an escalation stays
    open, from the one it opened with, over every working day's run."""
    cadence = replay.spec.reporting.cadence
    with db.session(replay.engine) as session:
        records = session.exec(
            select(Escalation, Unit.code).join(Unit, Escalation.unit_id == Unit.id)
        ).all()
        reminders = {
            n.dedup_key: n
            for n in session.exec(select(Notification)).all()
            if ":reminder" in n.dedup_key
        }
        session.expunge_all()
    long_ones = 0
    for record, unit in records:
        last = record.closed_on or date.max
        expected = {
            periods.period_of(day, cadence) for day in replay.days if record.opened_on <= day < last
        }
        mine = [n for key, n in reminders.items() if key.startswith(f"escalation:{record.id}:")]
        heard = [periods.period_of(n.created_at.date(), cadence) for n in mine]
        assert sorted(heard) == sorted(expected), (unit, record.opened_on, record.closed_on)
        assert all(n.target == f"unit:{unit} role:liaison" for n in mine)
        long_ones += len(expected) > 1
    assert long_ones  # some stayed open over several periods


def test_running_a_day_again_changes_nothing(replay: Replay) -> None:
    day = replay.days[-1]
    with db.session(replay.engine) as session:
        before = (
            len(session.exec(select(Notification)).all()),
            len(session.exec(select(Flag).where(Flag.as_of == day)).all()),
        )
        _, changes = flags.flag_and_escalate(
            session=session,
            program="xiangshan",
            as_of=day,
            now=datetime.combine(day, time(2), tzinfo=UTC),
            templates=TEMPLATES,
            home=replay.home,
        )
        assert changes == []
    with db.session(replay.engine) as session:
        after = (
            len(session.exec(select(Notification)).all()),
            len(session.exec(select(Flag).where(Flag.as_of == day)).all()),
        )
    assert after == before


def test_closing_by_hand_records_the_outcome(replay: Replay, tmp_path: Path) -> None:
    with db.session(replay.engine) as session:
        record = session.exec(select(Escalation).where(Escalation.status == "open")).first()
        item = escalation.close(
            session=session,
            escalation_id=record.id,
            outcome="已约谈主要负责人，明确6月底前整改到位",
            on=date(2021, 7, 2),
        )
        assert item["status"] == "closed" and item["closed"] == "2021-07-02"
        with pytest.raises(PilotTrackerError, match="already closed on 2021-07-02"):
            escalation.close(
                session=session, escalation_id=record.id, outcome="again", on=date(2021, 7, 3)
            )
        with pytest.raises(NotFoundError, match="no escalation 99999"):
            escalation.close(session=session, escalation_id=99999, outcome="x", on=date(2021, 7, 3))
        session.rollback()


# --- each rule on a small pilot -------------------------------------------------------------


@dataclass
class Small:
    """The small pilot (团县委 tw, 县教育局 jyj, 县人力社保局 rsj), its ladder moved by hand."""

    engine: sa.Engine
    spec: ProgramSpec
    home: Path

    def run(self, day: date, found: dict[str, str]) -> list[escalation.Change]:
        """Move the ladder on a day with these units flagged (unit → severity)."""
        findings = [
            rules.Finding(
                rule="behind_plan",
                severity=Severity(severity),
                unit=unit,
                period=periods.period_of(day, "monthly"),
                message=f"{unit} 落后于计划",
            )
            for unit, severity in found.items()
        ]
        with db.session(self.engine) as session:
            return escalation.advance(
                session=session,
                program=store.get_program(session=session, code="demo"),
                spec=self.spec,
                findings=findings,
                as_of=day,
                now=moment(day),
                calendar=WorkCalendar(),
                templates=LINKED,
                home=self.home,
            )

    def every_workday(self, first: date, last: date, found: dict[str, str]) -> list[date]:
        days = [
            first + timedelta(days=n)
            for n in range((last - first).days + 1)
            if WorkCalendar().is_workday(first + timedelta(days=n))
        ]
        for day in days:
            self.run(day, found)
        return days

    def acknowledge(self, unit: str, when: datetime) -> None:
        """The unit's head acknowledges its escalation's current notice."""
        with db.session(self.engine) as session:
            record = session.exec(
                select(Escalation)
                .join(Unit, Escalation.unit_id == Unit.id)
                .where(Unit.code == unit, Escalation.status == "open")
            ).one()
            session.add(
                Acknowledgement(escalation_id=record.id, level=record.level, acknowledged_at=when)
            )

    def listed(self, as_of: date) -> dict[str, dict[str, Any]]:
        with db.session(self.engine) as session:
            items = escalation.list_escalations(
                session=session,
                program=store.get_program(session=session, code="demo"),
                spec=self.spec,
                as_of=as_of,
            )
        return {item["unit"]: item for item in items if item["status"] == "open"}

    def messages(self) -> list[Notification]:
        with db.session(self.engine) as session:
            found = session.exec(select(Notification).order_by(col(Notification.id))).all()
            session.expunge_all()
        return list(found)

    def moves(self, unit: str) -> list[tuple[str, date | None, date | None]]:
        with db.session(self.engine) as session:
            rows = session.exec(
                select(Escalation)
                .join(Unit, Escalation.unit_id == Unit.id)
                .where(Unit.code == unit)
                .order_by(col(Escalation.id))
            ).all()
            return [(row.level, row.raised_on, row.closed_on) for row in rows]


LINKED = outbox.Templates(ROOT / "templates", links=LINKS)


def moment(day: date, hour: int = 1) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)  # 09:00 in Beijing at hour 1


@pytest.fixture
def small(engine: sa.Engine, tmp_path: Path) -> Iterator[Small]:
    """The small pilot on SQLite and, where configured, PostgreSQL."""
    spec = validate_program(copy.deepcopy(SMALL), "demo.yaml")
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=spec,
            source_name="demo.yaml",
            source_sha256="",
            now=moment(date(2021, 1, 1)),
        )
    yield Small(engine, spec, tmp_path)


def test_the_liaison_hears_once_per_period_over_many_runs(small: Small) -> None:
    # Flagged on every working day from 10 March to 12 May, each day run twice.
    days = small.every_workday(date(2021, 3, 10), date(2021, 5, 12), {"tw": "yellow"})
    for day in days[-3:]:
        small.run(day, {"tw": "yellow"})
    reminders = [m for m in small.messages() if m.subject.startswith("【进度提醒】")]
    assert [(m.target, m.created_at.date()) for m in reminders] == [
        ("unit:tw role:liaison", date(2021, 3, 10)),  # opened
        ("unit:tw role:liaison", date(2021, 4, 1)),  # the first run of each later period
        ("unit:tw role:liaison", date(2021, 5, 6)),  # (May 1-5: the Labour Day holiday)
    ]
    assert [m.dedup_key.split(":", 2)[2] for m in reminders] == [
        "reminder",
        "reminder:2021-04",
        "reminder:2021-05",
    ]
    assert "自2021年3月10日首次提醒以来" in reminders[1].body
    assert "首次提醒" not in reminders[0].body
    # Closed when the flags go, then flagged again: a new escalation, a new reminder.
    small.run(date(2021, 5, 13), {})
    small.run(date(2021, 5, 14), {"tw": "yellow"})
    assert len([m for m in small.messages() if m.subject.startswith("【进度提醒】")]) == 4


@pytest.mark.parametrize(
    ("acknowledged", "runs", "interviewed"),
    [
        # Urged on 1 March; 3 working days to acknowledge: by 4 March.
        pytest.param(None, "every", date(2021, 3, 5), id="never: a period sooner"),
        pytest.param(date(2021, 3, 3), "every", date(2021, 4, 1), id="in time: on the rule"),
        pytest.param(date(2021, 3, 4), "every", date(2021, 4, 1), id="on the last day"),
        pytest.param(date(2021, 3, 8), "sparse", date(2021, 3, 9), id="late: a period sooner"),
    ],
)
def test_an_urge_not_acknowledged_in_time_brings_the_interview_a_period_sooner(
    small: Small, acknowledged: date | None, runs: str, interviewed: date
) -> None:
    small.every_workday(date(2021, 1, 11), date(2021, 3, 1), {"rsj": "red"})
    assert small.moves("rsj") == [("urge", date(2021, 3, 1), None)]
    item = small.listed(date(2021, 3, 2))["rsj"]
    assert (item["notice"], item["acknowledge_by"], item["unacknowledged_since"]) == (
        "urge",
        "2021-03-04",
        None,
    )
    if acknowledged is not None:
        small.acknowledge("rsj", moment(acknowledged, hour=8))  # 16:00 in Beijing
    if runs == "every":
        small.every_workday(date(2021, 3, 2), date(2021, 4, 2), {"rsj": "red"})
    else:
        small.run(date(2021, 3, 9), {"rsj": "red"})
    assert small.moves("rsj") == [("interview", interviewed, None)]
    urge = small.listed(date(2021, 3, 8))
    assert urge["rsj"]["notice"] == "interview"
    office = next(m for m in small.messages() if m.subject.startswith("【约谈建议】"))
    assert ("督办通知也未在规定时限内签收" in office.body) == (interviewed.month == 3)


def test_an_unacknowledged_notice_is_shown_as_such(small: Small) -> None:
    small.every_workday(date(2021, 1, 11), date(2021, 3, 1), {"rsj": "red", "tw": "red"})
    small.acknowledge("tw", moment(date(2021, 3, 2)))
    on_time, overdue = small.listed(date(2021, 3, 8))["tw"], small.listed(date(2021, 3, 8))["rsj"]
    assert on_time["acknowledged_on"] == "2021-03-02" and on_time["unacknowledged_since"] is None
    assert overdue["acknowledged"] is None and overdue["unacknowledged_since"] == "2021-03-05"
    assert escalation.unacknowledged(list(small.listed(date(2021, 3, 8)).values())) == [overdue]
    # Not yet overdue on its last day.
    assert small.listed(date(2021, 3, 4))["rsj"]["unacknowledged_since"] is None


def test_the_unit_s_messages_carry_its_link_and_the_office_s_copies_do_not(
    small: Small,
) -> None:
    small.every_workday(date(2021, 1, 11), date(2021, 3, 5), {"rsj": "red"})
    messages = small.messages()
    kinds = {(m.subject[:6], m.target) for m in messages}
    assert kinds == {
        ("【进度提醒】", "unit:rsj role:liaison"),
        ("【督办提醒】", "unit:rsj role:head"),
        ("【督办提醒】", "role:office"),
        ("【约谈建议】", "role:office"),
        ("【约谈通知】", "unit:rsj role:head"),
    }
    for message in messages:
        if message.target.startswith("unit:rsj"):
            assert opened_by(small.engine, message.body, moment(date(2021, 3, 5))) == ["rsj"]
            until = message.created_at.date() + timedelta(days=90)
            assert f"{until.year}年{until.month}月{until.day}日前有效" in message.body
        else:
            assert links_in(message.body) == [] and "/u/" not in message.body
    notice = next(m for m in messages if m.subject.startswith("【约谈通知】"))
    assert "签收" in notice.body and "2021年3月10日前" in notice.body  # 3 working days
    # Without an issuer, the same messages carry no link.
    plain = outbox.Templates(ROOT / "templates")
    assert plain.link(program=None, unit=None, now=moment(date(2021, 3, 5))) is None  # type: ignore[arg-type]


# --- recovery after a skipped period --------------------------------------------------------


def report(task: str, unit: str, day: date, percent: float) -> rules.StatusReport:
    return rules.StatusReport(
        task=task,
        unit=unit,
        period=periods.period_of(day, "monthly"),
        status="in_progress",
        percent=percent,
        reported_on=day,
    )


# 团县委 reports T-01 in January and February, skips March, and reports April on plan
# (planned on 6 April: 40 + 60 × 6/91 = 44%).
SKIPPED_MARCH = [
    report("T-01", "tw", date(2021, 1, 22), 10),
    report("T-01", "tw", date(2021, 2, 23), 25),
    report("T-01", "tw", date(2021, 4, 6), 45),
]


def test_a_unit_that_catches_up_after_a_skipped_period_recovers(small: Small) -> None:
    def findings(day: date) -> dict[str, str]:
        found = rules.evaluate(
            rules.Situation(
                spec=small.spec,
                as_of=day,
                calendar=WorkCalendar(),
                status_reports=[r for r in SKIPPED_MARCH if r.reported_on <= day],
            )
        )
        return {f.unit: f.severity.value for f in found if f.unit == "tw"}

    # March's report was due by 30 March (25th, plus 3 working days).
    assert findings(date(2021, 3, 31)) == {"tw": "yellow"}
    small.run(date(2021, 3, 31), findings(date(2021, 3, 31)))
    assert findings(date(2021, 4, 2)) == {"tw": "yellow"}
    # Its April report covers its one task and is on plan: March no longer flags it, though
    # April's deadline has not come; its escalation closes that day.
    assert findings(date(2021, 4, 6)) == {}
    changes = small.run(date(2021, 4, 6), findings(date(2021, 4, 6)))
    assert [(c.unit, c.change) for c in changes] == [("tw", "closed")]
    assert small.moves("tw") == [("reminder", date(2021, 3, 31), date(2021, 4, 6))]

    # The half-year figures still count March as missed: 3 of 4 months on time by 30 April.
    snapshot = figures.Snapshot(
        spec=small.spec,
        as_of=date(2021, 4, 30),
        status_reports=SKIPPED_MARCH,
        readings=[],
        escalations=[],
    )
    [score] = [s for s in figures.evaluation(snapshot, "2021H1").scores if s.unit == "tw"]
    assert score.timeliness == 75.0
    quarter = figures.quarterly(snapshot, "2021Q1")
    [statement] = [s for s in quarter.statements if s.unit == "tw"]
    assert any(d.kind == "未报送" and "2021-03" in d.text for d in statement.discrepancies)


# --- the next step, as the board shows it, against what the ladder then does ----------------


def next_step_of(small: Small, unit: str, after: date, judged: date | None = None) -> Any:
    """The next step of a unit's open escalation, its receipt judged on ``judged`` (default
    ``after``, the last day the ladder ran), red flags persisting."""
    calendar = WorkCalendar()
    with db.session(small.engine) as session:
        program = store.get_program(session=session, code="demo")
        record = session.exec(
            select(Escalation)
            .join(Unit, Escalation.unit_id == Unit.id)
            .where(Unit.code == unit, Escalation.status == "open")
        ).one()
        found = escalation.receipts(
            session=session,
            program=program,
            spec=small.spec,
            calendar=calendar,
            escalations=[record],
            as_of=judged or after,
        )
        return escalation.next_step(
            escalation=record,
            spec=small.spec,
            calendar=calendar,
            receipt=found.get(record.id),  # type: ignore[arg-type]
            after=after,
            red_now=True,
        )


def first_rise(small: Small, unit: str, start: date) -> tuple[date, str]:
    """Run the ladder on every working day from ``start``, the unit red: the first day its
    escalation rises, and to which rung."""
    day = start
    before = small.moves(unit)
    while day < start + timedelta(days=200):
        if WorkCalendar().is_workday(day):
            small.run(day, {unit: "red"})
            after = small.moves(unit)
            if after != before:
                assert len(after) == len(before), "it closed or opened instead of rising"
                return day, after[-1][0]
        day += timedelta(days=1)
    raise AssertionError(f"{unit} never rose after {start}")


def test_the_next_step_of_a_red_reminder_is_the_urge_in_its_first_period(small: Small) -> None:
    small.every_workday(date(2021, 1, 11), date(2021, 1, 20), {"rsj": "red"})
    step = next_step_of(small, "rsj", date(2021, 1, 20))
    assert (step.level, step.on, step.why) == ("urge", date(2021, 3, 1), "first")
    assert step.text == "如红色预警持续，将于3月1日升级为督办（2021年3月为第一个督办周期）。"
    assert first_rise(small, "rsj", date(2021, 1, 21)) == (step.on, "urge")


@pytest.mark.parametrize(
    ("yellow_until", "rung", "rises"),
    [
        pytest.param(date(2021, 3, 10), "urge", date(2021, 3, 11), id="past the urge's periods"),
        pytest.param(date(2021, 4, 6), "interview", date(2021, 4, 7), id="past the interview's"),
    ],
)
def test_the_next_step_of_a_yellow_reminder_past_its_periods_is_the_next_run(
    small: Small, yellow_until: date, rung: str, rises: date
) -> None:
    small.every_workday(date(2021, 1, 11), yellow_until, {"tw": "yellow"})
    step = next_step_of(small, "tw", yellow_until)
    assert (step.level, step.on, step.why) == (rung, rises, "already")
    assert first_rise(small, "tw", yellow_until + timedelta(days=1)) == (rises, rung)


@pytest.mark.parametrize(
    ("acknowledged", "rises"),
    [
        pytest.param(None, date(2021, 3, 5), id="never: the day after it was due"),
        pytest.param(date(2021, 3, 3), date(2021, 4, 1), id="in time: its own period"),
    ],
)
def test_the_next_step_of_an_urge_to_acknowledge_has_both_days(
    small: Small, acknowledged: date | None, rises: date
) -> None:
    small.every_workday(date(2021, 1, 11), date(2021, 3, 2), {"rsj": "red"})
    step = next_step_of(small, "rsj", date(2021, 3, 2))
    assert (step.level, step.why, step.acknowledge_by) == ("interview", "pending", date(2021, 3, 4))
    assert (step.on, step.on_if_acknowledged) == (date(2021, 3, 5), date(2021, 4, 1))
    assert "未在3月4日前签收督办通知的，将于3月5日升级为约谈；按时签收的，将于4月1日" in step.text
    if acknowledged is not None:
        small.acknowledge("rsj", moment(acknowledged, hour=8))
        assert next_step_of(small, "rsj", date(2021, 3, 3)).on == rises
    assert first_rise(small, "rsj", date(2021, 3, 3)) == (rises, "interview")


def test_the_next_step_of_an_urge_acknowledged_late_comes_a_period_sooner(small: Small) -> None:
    small.every_workday(date(2021, 1, 11), date(2021, 3, 1), {"rsj": "red"})
    small.acknowledge("rsj", moment(date(2021, 3, 8), hour=8))  # due by 4 March
    step = next_step_of(small, "rsj", date(2021, 3, 8))  # the ladder last ran on 1 March
    assert (step.level, step.on, step.why) == ("interview", date(2021, 3, 9), "unacknowledged")
    assert "督办通知未按时签收，提前一个周期" in step.text
    assert first_rise(small, "rsj", date(2021, 3, 9)) == (step.on, "interview")


def test_an_interview_has_no_next_rung(small: Small) -> None:
    small.every_workday(date(2021, 1, 11), date(2021, 3, 5), {"rsj": "red"})
    step = next_step_of(small, "rsj", date(2021, 3, 5))
    assert (step.level, step.on, step.text) == (None, None, "由专班组织约谈并记录结果。")
