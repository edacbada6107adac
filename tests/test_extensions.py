"""Extension requests (延期申请): a unit asks for a task it leads, the office decides; an
approved extension moves the due date the rules use from the day of the decision on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import AnswerError, ExtensionError, NotFoundError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.links import Links
from pilot_tracker.ledger.plan import planned_percent
from pilot_tracker.models import (
    Extension,
    ExtensionStatus,
    Flag,
    Notification,
    Program,
    Task,
    Unit,
)
from pilot_tracker.reports import figures
from pilot_tracker.settings import PROJECT_TEMPLATES
from pilot_tracker.supervise import extensions, flags

from .conftest import load_examples

NOW = datetime(2021, 4, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
# XS-JZ-01, led by 团县委 (tw), co-unit 县委组织部 (zzb): due 2021-03-31, milestones
# 2021-02-26 40% and 2021-03-31 100%; nobody reports on it here, so it is overdue in April.
TASK = "XS-JZ-01"


@pytest.fixture
def ledger(engine: sa.Engine) -> Iterator[sa.Engine]:
    """The Xiangshan example on record, on SQLite (and PostgreSQL where configured)."""
    with db.session(engine) as session:
        load_examples(session, "xiangshan")
    yield engine


def ask(engine: sa.Engine, unit: str = "tw", now: datetime = NOW, **sent: Any) -> Any:
    fields = {"task": TASK, "proposed": "2021-06-30", "reason": "需与县发改局会签，时间顺延"}
    with db.session(engine) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        row = session.exec(
            select(Unit).where(Unit.program_id == program.id, Unit.code == unit)
        ).one()
        taken = extensions.request(
            session=session, program=program, unit=row, now=now, **{**fields, **sent}
        )
        return taken.extension.id, taken.already


def decide(engine: sa.Engine, number: int, approve: bool, note: str = "", **more: Any) -> Any:
    with db.session(engine) as session:
        return extensions.decide(
            session=session, extension_id=number, approve=approve, note=note, now=NOW, **more
        )


def stored(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        return [
            (row.status, row.previous_due, row.proposed_due, row.reason, row.via)
            for row in session.exec(select(Extension).order_by(Extension.id)).all()
        ]


def overdue(engine: sa.Engine, day: date) -> list[str]:
    with db.session(engine) as session:
        found = flags.preview(session=session, program="xiangshan", as_of=day).findings
    return [f.task for f in found if f.rule == "overdue" and f.task == TASK]


def test_a_unit_asks_once_for_a_task_it_leads(ledger: sa.Engine) -> None:
    number, already = ask(ledger)
    assert not already
    assert stored(ledger) == [
        ("pending", date(2021, 3, 31), date(2021, 6, 30), "需与县发改局会签，时间顺延", "portal")
    ]
    # The same request sent again is taken once; another one waits for the first.
    assert ask(ledger) == (number, True)
    with pytest.raises(AnswerError, match="已有一项待审批的延期申请") as refused:
        ask(ledger, proposed="2021-07-31")
    assert refused.value.field == "task"
    assert len(stored(ledger)) == 1


@pytest.mark.parametrize(
    ("unit", "sent", "field", "says"),
    [
        ("tw", {"task": "XS-JZ-02"}, "task", "不是本单位牵头的任务"),  # tw is a co-unit of it
        ("zzb", {}, "task", "不是本单位牵头的任务"),  # another unit's task
        ("tw", {"task": "XS-NOPE"}, "task", "不是本单位牵头的任务"),
        ("tw", {"task": ""}, "task", "未选择"),
        ("tw", {"proposed": ""}, "proposed", "请填写申请延期至的日期"),
        ("tw", {"proposed": "下个月底"}, "proposed", "请按 2021-03-31 的格式填写"),
        ("tw", {"proposed": "2021-03-31"}, "proposed", "应晚于现在的完成时限（2021-03-31）"),
        ("tw", {"proposed": "2021-02-01"}, "proposed", "应晚于现在的完成时限"),
        ("tw", {"proposed": "2021-04-10"}, "proposed", "不能早于今天（2021-04-20）"),
        ("tw", {"proposed": "2022-01-31"}, "proposed", "不能晚于试点结束日期（2021-12-31）"),
        ("tw", {"reason": " \n "}, "reason", "请写明申请延期的理由"),
        ("tw", {"reason": "长" * 1001}, "reason", "不能超过1000字（现有1001字）"),
    ],
)
def test_a_request_that_cannot_be_taken_says_why_at_its_field_and_writes_nothing(
    ledger: sa.Engine, unit: str, sent: dict[str, str], field: str, says: str
) -> None:
    with pytest.raises(AnswerError, match=says) as refused:
        ask(ledger, unit=unit, **sent)
    assert refused.value.field == field
    assert stored(ledger) == []


def test_a_date_written_as_people_write_it_is_read(ledger: sa.Engine) -> None:
    ask(ledger, proposed="2021年6月30日")
    assert stored(ledger)[0][2] == date(2021, 6, 30)


def test_a_day_flagged_again_has_its_flags_replaced_and_the_days_before_kept(
    ledger: sa.Engine,
) -> None:
    """A schedule that fires twice does no harm; a new day adds its own flags."""

    def on_record() -> dict[date, int]:
        with db.session(ledger) as session:
            days = session.exec(select(Flag.as_of)).all()
        return {day: days.count(day) for day in sorted(set(days))}

    first, second = date(2021, 4, 19), date(2021, 4, 20)
    with db.session(ledger) as session:
        found = len(flags.flag(session=session, program="xiangshan", as_of=first).findings)
    assert found and on_record() == {first: found}
    with db.session(ledger) as session:
        flags.flag(session=session, program="xiangshan", as_of=first)
    assert on_record() == {first: found}
    with db.session(ledger) as session:
        again = len(flags.flag(session=session, program="xiangshan", as_of=second).findings)
    assert on_record() == {first: found, second: again}


def test_an_approved_extension_moves_the_due_date_for_the_rules_from_then_on(
    ledger: sa.Engine,
) -> None:
    # The overdue flag of the day before the approval is kept.
    with db.session(ledger) as session:
        flags.flag(session=session, program="xiangshan", as_of=date(2021, 4, 19))
    assert overdue(ledger, date(2021, 4, 20)) == [TASK]
    number, _ = ask(ledger)
    assert overdue(ledger, date(2021, 4, 20)) == [TASK]  # a request alone moves nothing

    line = decide(ledger, number, True, "同意")
    assert (line.status, line.decided_on, line.note) == ("approved", date(2021, 4, 20), "同意")
    assert overdue(ledger, date(2021, 4, 20)) == []
    assert overdue(ledger, date(2021, 4, 19)) == [TASK]  # the day before is judged as it was
    assert overdue(ledger, date(2021, 7, 1)) == [TASK]  # and past the new date, it is overdue
    with db.session(ledger) as session:
        flags.flag(session=session, program="xiangshan", as_of=date(2021, 4, 20))
        kept = session.exec(
            select(Flag.as_of)
            .join(Task, Flag.task_id == Task.id)
            .where(Task.code == TASK, Flag.rule == "overdue")
        ).all()
    assert kept == [date(2021, 4, 19)]

    # The plan follows: the milestone set on the planned due date moves to the new one.
    with Session(ledger) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        spec = store.read_program(session=session, code="xiangshan")
        moved, original = extensions.effective(
            session=session, program_id=program.id, spec=spec, as_of=date(2021, 4, 20)
        )
        before, _ = extensions.effective(
            session=session, program_id=program.id, spec=spec, as_of=date(2021, 4, 19)
        )
    task = next(t for t in moved.tasks if t.code == TASK)
    assert original == {TASK: date(2021, 3, 31)}
    assert task.due == date(2021, 6, 30)
    assert [(m.planned_on, m.percent) for m in task.milestones] == [
        (date(2021, 2, 26), 40.0),
        (date(2021, 6, 30), 100.0),
    ]
    assert planned_percent(task, date(2021, 4, 20)) == 65.6  # 40 + 60 × 53/124
    assert next(t for t in before.tasks if t.code == TASK).due == date(2021, 3, 31)


def test_both_dates_show_in_the_reports_figures(ledger: sa.Engine) -> None:
    number, _ = ask(ledger)
    decide(ledger, number, True)
    with Session(ledger) as session:
        q2 = figures.load(
            session=session, program="xiangshan", as_of=date(2021, 6, 30), quarter="2021Q2"
        )
        q1 = figures.load(
            session=session, program="xiangshan", as_of=date(2021, 3, 31), quarter="2021Q1"
        )
    (row,) = [r for r in figures.statement(q2, "2021Q2", "tw").rows if r.task == TASK]
    assert (row.original_due, row.due) == (date(2021, 3, 31), date(2021, 6, 30))
    # The first quarter was over before the approval: its statement keeps the planned date.
    (row,) = [r for r in figures.statement(q1, "2021Q1", "tw").rows if r.task == TASK]
    assert (row.original_due, row.due) == (None, date(2021, 3, 31))
    half = figures.evaluation(q2, "2021H1")
    assert [(x.task, x.unit, x.original_due, x.due) for x in half.extensions] == [
        (TASK, "团县委", date(2021, 3, 31), date(2021, 6, 30))
    ]


def test_a_rejected_extension_moves_nothing(ledger: sa.Engine) -> None:
    number, _ = ask(ledger)
    with pytest.raises(ExtensionError, match=re.escape('say why, for the unit: --note "..."')):
        decide(ledger, number, False)
    line = decide(ledger, number, False, "属年度重点任务，请按原定时限完成")
    assert (line.status, line.note) == ("rejected", "属年度重点任务，请按原定时限完成")
    assert overdue(ledger, date(2021, 4, 20)) == [TASK]
    with pytest.raises(ExtensionError, match=f"extension request {number} was already rejected"):
        decide(ledger, number, True)
    # Rejected, the task may be asked for again.
    again, already = ask(ledger, proposed="2021-05-31")
    assert again != number and not already


def test_a_decision_is_refused_for_an_unknown_request_or_before_it_was_made(
    ledger: sa.Engine,
) -> None:
    with pytest.raises(NotFoundError, match="no extension request 99"):
        decide(ledger, 99, True)
    number, _ = ask(ledger)
    with pytest.raises(ExtensionError, match="made on 2021-04-20; it cannot be decided on"):
        decide(ledger, number, True, on=date(2021, 4, 1))
    assert stored(ledger)[0][0] == "pending"


def test_the_office_lists_requests_by_program_and_status(ledger: sa.Engine) -> None:
    first, _ = ask(ledger)
    second, _ = ask(ledger, task="XS-JZ-03", proposed="2021-08-31", reason="等待审议")
    decide(ledger, first, True)
    with Session(ledger) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        pending = extensions.list_extensions(
            session=session, program=program, status=ExtensionStatus.PENDING
        )
        every = extensions.list_extensions(session=session)
    assert [line.id for line in pending] == [second]
    assert [(line.id, line.status, line.unit, line.task) for line in every] == [
        (first, "approved", "tw", TASK),
        (second, "pending", "tw", "XS-JZ-03"),
    ]
    assert every[1].as_dict() == {
        "id": second,
        "program": "xiangshan",
        "unit": "tw",
        "task": "XS-JZ-03",
        "title": every[1].title,
        "previous_due": "2021-06-30",
        "proposed_due": "2021-08-31",
        "reason": "等待审议",
        "status": "pending",
        "via": "portal",
        "requested_on": "2021-04-20",
        "decided_on": None,
        "note": "",
        "decided_by": "",
        "requested_at": "2021-04-20T09:00:00+08:00",
    }
    assert (every[0].decided_by, every[0].as_dict()["decided_by"]) == ("", "")  # the CLI's


def test_a_decision_tells_the_units_liaison_with_its_link(ledger: sa.Engine) -> None:
    links = Links("k" * 48, "http://127.0.0.1:8000", 90)
    templates = outbox.Templates(PROJECT_TEMPLATES, links=links)
    first, _ = ask(ledger)
    second, _ = ask(ledger, task="XS-JZ-03", proposed="2021-08-31", reason="等待审议")
    decide(ledger, first, True, "同意", decided_by="office-xs", templates=templates)
    decide(ledger, second, False, "属年度重点任务", templates=templates)
    with Session(ledger) as session:
        told = session.exec(select(Notification).order_by(Notification.id)).all()
        decided_by = session.exec(select(Extension.decided_by).order_by(Extension.id)).all()
    assert decided_by == ["office-xs", ""]
    assert [(m.dedup_key, m.target) for m in told] == [
        (f"extension:{first}:approved", "unit:tw role:liaison"),
        (f"extension:{second}:rejected", "unit:tw role:liaison"),
    ]
    assert "完成时限由2021年3月31日延至2021年6月30日，自2021年4月20日起" in told[0].body
    assert "未批准的原因：属年度重点任务" in told[1].body
    assert all("http://127.0.0.1:8000/u/" in m.body for m in told)


def test_a_decision_without_the_templates_queues_nothing(ledger: sa.Engine) -> None:
    number, _ = ask(ledger)
    decide(ledger, number, True)
    with Session(ledger) as session:
        assert session.exec(select(Notification)).all() == []
