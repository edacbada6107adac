"""The escalation ladder, replayed over half a year of demo submissions to Xiangshan."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pilot_tracker import db, periods
from pilot_tracker.alerts import outbox
from pilot_tracker.collect import collection
from pilot_tracker.demo.submissions import Behaviour, behaviours, deliver, recovery_day
from pilot_tracker.errors import NotFoundError, PilotTrackerError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, read_program_file
from pilot_tracker.models import Escalation, Flag, Notification, Unit
from pilot_tracker.supervise import escalation, flags
from pilot_tracker.supervise.workdays import WorkCalendar

from .conftest import EXAMPLES, ROOT

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
    """The ladder as the rules say, worked out from the flags of each day alone."""
    settings = replay.spec.rules.escalation
    cadence = replay.spec.reporting.cadence
    moves: list[tuple[date, str, str]] = []
    opened: date | None = None
    level = ""
    for day, severities in replay.flags_of(unit).items():
        if opened is None:
            if severities:
                opened, level = day, "reminder"
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
        target = level
        if distance >= settings.interview_after_periods:
            target = "interview"
        elif distance >= settings.urge_after_periods and level == "reminder":
            target = "urge"
        if target != level:
            level = target
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
    assert escalation.period_distance(cadence, opened, interviewed) == 3

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
        assert sent[f"escalation:{record.id}:urge:office"].target == "role:office"
        interview = sent[f"escalation:{record.id}:interview"]
        assert interview.target == "role:office" and interview.created_at.date() == interviewed
        assert interview.subject.startswith("【约谈建议】象山县试点 · ")
        assert "约谈" in interview.body


def test_a_unit_that_recovers_is_closed_on_the_day_it_has_no_red_flag(replay: Replay) -> None:
    unit = unit_with(replay, Behaviour.RECOVERING)
    moves = replay.moves(unit)
    assert moves == expected_ladder(replay, unit)
    closed = [(day, level) for day, change, level in moves if change == "closed"]
    assert closed, moves
    day, level = closed[0]
    assert level in ("urge", "interview") and day >= recovery_day(replay.spec)
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
