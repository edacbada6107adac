"""A unit's notices (each rung of its escalations) and its receipt of them (签收)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import AnswerNotFound
from pilot_tracker.models import Acknowledgement, Escalation, Program, Unit
from pilot_tracker.settings import PROJECT_TEMPLATES
from pilot_tracker.supervise import flags, notices

from .conftest import load_examples

NOW = datetime(2021, 4, 20, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


@dataclass
class Ladder:
    engine: sa.Engine
    urged: int  # tw's escalation: a reminder on 1 March, raised to an urge on 1 April
    jumped: int  # zzb's: a reminder raised straight to an interview, no urge sent
    closed: int  # tw's earlier one, a reminder closed in February


def escalation(session: Session, unit: str, **fields: object) -> int:
    program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
    row = session.exec(select(Unit).where(Unit.program_id == program.id, Unit.code == unit)).one()
    record = Escalation(program_id=program.id, unit_id=row.id, **fields)  # type: ignore[arg-type]
    session.add(record)
    session.flush()
    assert record.id is not None
    return record.id


def message(session: Session, key: str, target: str, subject: str, day: date) -> None:
    outbox.enqueue(
        session=session,
        program_id=None,
        dedup_key=key,
        target=target,
        subject=subject,
        body="…",
        now=datetime(day.year, day.month, day.day, 1, tzinfo=UTC),
    )


@pytest.fixture
def ladder(engine: sa.Engine) -> Iterator[Ladder]:
    """The Xiangshan example with three escalations, on SQLite (and PostgreSQL where
    configured)."""
    with db.session(engine) as session:
        load_examples(session, "xiangshan")
        closed = escalation(
            session,
            "tw",
            level="reminder",
            status="closed",
            opened_on=date(2021, 2, 1),
            raised_on=date(2021, 2, 1),
            closed_on=date(2021, 2, 20),
        )
        urged = escalation(
            session,
            "tw",
            level="urge",
            status="open",
            opened_on=date(2021, 3, 1),
            raised_on=date(2021, 4, 1),
        )
        jumped = escalation(
            session,
            "zzb",
            level="interview",
            status="open",
            opened_on=date(2021, 3, 1),
            raised_on=date(2021, 4, 1),
        )
        message(
            session,
            f"escalation:{urged}:reminder",
            "unit:tw role:liaison",
            "【进度提醒】团县委",
            date(2021, 3, 1),
        )
        message(
            session,
            f"escalation:{urged}:urge:office",
            "role:office",
            "【督办提醒】团县委（抄送）",
            date(2021, 4, 1),
        )
        message(
            session,
            f"escalation:{urged}:urge:head",
            "unit:tw role:head",
            "【督办提醒】团县委",
            date(2021, 4, 1),
        )
        message(
            session,
            f"escalation:{jumped}:interview",
            "role:office",
            "【约谈建议】县委组织部",
            date(2021, 4, 1),
        )
    yield Ladder(engine, urged, jumped, closed)


def unit_of(session: Session, code: str) -> tuple[Program, Unit]:
    program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
    unit = session.exec(select(Unit).where(Unit.program_id == program.id, Unit.code == code)).one()
    return program, unit


def listed(engine: sa.Engine, unit: str) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        _, row = unit_of(session, unit)
        return [
            (n.escalation_id, n.label, n.raised_on, n.subject, n.open, n.acknowledged_at)
            for n in notices.notices(session=session, unit=row)
        ]


def acknowledge(
    engine: sa.Engine, unit: str, number: object, level: str, now: datetime = NOW
) -> notices.Acknowledged:
    with db.session(engine) as session:
        _, row = unit_of(session, unit)
        return notices.acknowledge(
            session=session, unit=row, escalation_id=number, level=level, now=now
        )


def acknowledgements(engine: sa.Engine) -> list[tuple[int, str]]:
    with Session(engine) as session:
        rows = session.exec(select(Acknowledgement).order_by(Acknowledgement.id)).all()
        return [(row.escalation_id, row.level) for row in rows]


def test_a_units_notices_are_the_rungs_of_its_escalations_newest_first(ladder: Ladder) -> None:
    assert listed(ladder.engine, "tw") == [
        (ladder.urged, "督办", date(2021, 4, 1), "【督办提醒】团县委", True, None),
        (ladder.urged, "提醒", date(2021, 3, 1), "【进度提醒】团县委", True, None),
        (ladder.closed, "提醒", date(2021, 2, 1), "", False, None),
    ]
    # Raised from a reminder straight to an interview: no urge was sent, none is listed.
    assert listed(ladder.engine, "zzb") == [
        (ladder.jumped, "约谈建议", date(2021, 4, 1), "【约谈建议】县委组织部", True, None),
        (ladder.jumped, "提醒", date(2021, 3, 1), "", True, None),
    ]
    assert listed(ladder.engine, "xcb") == []


def test_a_rung_passed_on_the_way_up_takes_its_messages_day(ladder: Ladder) -> None:
    with db.session(ladder.engine) as session:
        record = session.get(Escalation, ladder.urged)
        assert record is not None
        record.level, record.raised_on = "interview", date(2021, 5, 6)
    assert [(label, day) for _, label, day, *_ in listed(ladder.engine, "tw")[:3]] == [
        ("约谈建议", date(2021, 5, 6)),
        ("督办", date(2021, 4, 1)),
        ("提醒", date(2021, 3, 1)),
    ]


def test_a_notice_is_acknowledged_once(ladder: Ladder) -> None:
    first = acknowledge(ladder.engine, "tw", ladder.urged, "urge")
    assert not first.already
    assert first.notice.acknowledged_at == NOW
    later = datetime(2021, 4, 21, 2, tzinfo=UTC)
    again = acknowledge(ladder.engine, "tw", str(ladder.urged), "urge", now=later)
    assert again.already
    assert again.notice.acknowledged_at == NOW  # the first receipt stands
    assert acknowledgements(ladder.engine) == [(ladder.urged, "urge")]
    assert listed(ladder.engine, "tw")[0][5] == NOW
    assert listed(ladder.engine, "tw")[1][5] is None  # the reminder is not acknowledged yet
    # A closed escalation's notice was received too.
    assert not acknowledge(ladder.engine, "tw", ladder.closed, "reminder").already


@pytest.mark.parametrize(
    ("unit", "number", "level"),
    [
        pytest.param("tw", "jumped", "interview", id="another unit's escalation"),
        pytest.param("tw", "jumped", "reminder", id="another unit's reminder"),
        pytest.param("tw", "urged", "interview", id="a rung not reached"),
        pytest.param("zzb", "jumped", "urge", id="a rung skipped"),
        pytest.param("tw", "urged", "督办", id="no such level"),
        pytest.param("tw", "9999", "reminder", id="no such escalation"),
        pytest.param("tw", "abc", "reminder", id="not a number"),
        pytest.param("tw", "", "", id="nothing"),
    ],
)
def test_a_notice_that_is_not_the_units_own_is_not_found_and_nothing_is_written(
    ladder: Ladder, unit: str, number: str, level: str
) -> None:
    escalation_id = getattr(ladder, number, number)
    with pytest.raises(AnswerNotFound, match="没有找到这条通知"):
        acknowledge(ladder.engine, unit, escalation_id, level)
    assert acknowledgements(ladder.engine) == []


def test_the_ladders_own_reminder_is_a_notice_with_its_messages_subject(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    """The real ladder: a unit with no report by the deadline is reminded; its notice
    carries the reminder's subject."""
    with db.session(sqlite_engine) as session:
        load_examples(session, "xiangshan")
        _, changes = flags.flag_and_escalate(
            session=session,
            program="xiangshan",
            as_of=date(2021, 2, 3),
            now=datetime(2021, 2, 3, 1, tzinfo=UTC),
            templates=outbox.Templates(PROJECT_TEMPLATES),
            home=tmp_path,
        )
    assert changes, "the examples' units are reminded in February"
    ((_, label, day, subject, is_open, acknowledged),) = listed(sqlite_engine, "tw")
    assert (label, day, is_open, acknowledged) == ("提醒", date(2021, 2, 3), True, None)
    assert subject.startswith("【") and "团县委" in subject
