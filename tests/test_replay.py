"""Flagging a day earlier than the latest one on record: refused, with a dry run instead.

Running the rules for an earlier day on a database that holds later runs would close
escalations opened after that day, with a close date before their open date. Every writer
(``flag``, the flows, ``escalation close``) refuses; the database refuses such a row too.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.cli import app
from pilot_tracker.errors import EarlierDayError, PilotTrackerError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import read_program_file
from pilot_tracker.models import Escalation, Flag, Notification
from pilot_tracker.settings import Settings
from pilot_tracker.supervise import escalation, flags, workdays

from .conftest import EXAMPLES, ROOT

TEMPLATES = outbox.Templates(ROOT / "templates")
LATER, EARLIER = date(2021, 4, 6), date(2021, 1, 5)
runner = CliRunner()


def load(engine: sa.Engine) -> None:
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=read_program_file(EXAMPLES / "xiangshan.yaml"),
            source_name="x",
            source_sha256="",
            now=datetime(2021, 1, 1, tzinfo=UTC),
        )


def run_flags(engine: sa.Engine, day: date, home: Path) -> None:
    with db.session(engine) as session:
        flags.flag_and_escalate(
            session=session,
            program="xiangshan",
            as_of=day,
            now=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
            templates=TEMPLATES,
            home=home,
        )


def snapshot(engine: sa.Engine) -> tuple[list[tuple], list[tuple], int]:
    with db.session(engine) as session:
        return (
            [
                (e.id, e.level, e.status, e.opened_on, e.raised_on, e.closed_on, e.outcome)
                for e in session.exec(select(Escalation).order_by(Escalation.id)).all()
            ],
            [
                (f.as_of, f.rule, f.unit_id, f.task_id)
                for f in session.exec(select(Flag).order_by(Flag.id)).all()
            ],
            len(session.exec(select(Notification)).all()),
        )


def test_flagging_an_earlier_day_is_refused_and_leaves_later_records(
    engine: sa.Engine, tmp_path: Path
) -> None:
    load(engine)
    run_flags(engine, LATER, tmp_path)
    before = snapshot(engine)
    assert before[0] and all(status == "open" for _, _, status, *_ in before[0])

    with pytest.raises(EarlierDayError) as refused:
        run_flags(engine, EARLIER, tmp_path)

    message = str(refused.value)
    assert "xiangshan" in message and "2021-04-06" in message and "2021-01-05" in message
    assert "--dry-run" in message
    assert isinstance(refused.value, PilotTrackerError)
    assert snapshot(engine) == before
    for _, _, _, opened, _, closed, _ in snapshot(engine)[0]:
        assert closed is None or closed >= opened


def test_the_same_day_again_and_a_later_day_still_run(engine: sa.Engine, tmp_path: Path) -> None:
    load(engine)
    run_flags(engine, EARLIER, tmp_path)
    run_flags(engine, LATER, tmp_path)
    run_flags(engine, LATER, tmp_path)
    run_flags(engine, date(2021, 4, 7), tmp_path)
    with db.session(engine) as session:
        assert session.exec(select(Flag).where(Flag.as_of == date(2021, 4, 7))).all()


def test_a_preview_of_an_earlier_day_writes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    load(engine)
    run_flags(engine, date(2021, 4, 7), tmp_path)
    before = snapshot(engine)
    with db.session(engine) as session:
        preview = flags.preview(session=session, program="xiangshan", as_of=LATER)
    assert preview.findings and {f.rule for f in preview.findings} <= {
        "missing_report",
        "overdue",
        "behind_plan",
        "stalled",
        "indicator_off_track",
        "no_evidence",
    }
    assert snapshot(engine) == before


def test_closing_by_hand_before_the_escalation_opened_is_refused(
    engine: sa.Engine, tmp_path: Path
) -> None:
    load(engine)
    run_flags(engine, LATER, tmp_path)
    with db.session(engine) as session:
        first = session.exec(select(Escalation)).first()
        assert first is not None
        first_id = first.id
        with pytest.raises(PilotTrackerError, match="opened on 2021-04-06"):
            escalation.close(
                session=session, escalation_id=first_id, outcome="已整改", on=date(2021, 4, 5)
            )
    with db.session(engine) as session:
        assert session.get(Escalation, first_id).status == "open"


@pytest.mark.parametrize(
    ("opened", "raised", "closed"),
    [
        (date(2021, 4, 6), date(2021, 4, 6), date(2021, 1, 5)),
        (date(2021, 4, 6), date(2021, 3, 1), None),
        (date(2021, 4, 6), date(2021, 5, 6), date(2021, 5, 1)),
    ],
)
def test_the_database_refuses_an_escalation_closed_or_raised_before_it_opened(
    engine: sa.Engine, tmp_path: Path, opened: date, raised: date, closed: date | None
) -> None:
    load(engine)
    run_flags(engine, LATER, tmp_path)
    with db.session(engine) as session:
        first = session.exec(select(Escalation)).first()
        program_id, unit_id = first.program_id, first.unit_id
    with pytest.raises(sa.exc.IntegrityError), db.session(engine) as session:
        session.add(
            Escalation(
                program_id=program_id,
                unit_id=unit_id,
                level="reminder",
                status="closed" if closed else "open",
                opened_on=opened,
                raised_on=raised,
                closed_on=closed,
            )
        )
        session.flush()


def test_the_migration_repairs_rows_closed_before_they_opened(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine, "0007")
    with engine.begin() as connection:  # the rows as revision 0007 holds them, not the ORM's
        connection.execute(
            sa.text(
                "INSERT INTO program (code, name, level, start_date, end_date, timezone, cadence,"
                " deadline_day, rules, calendar, evaluation, source_name, source_sha256,"
                " loaded_at, updated_at) VALUES ('xiangshan', '象山', 'provincial', '2021-01-01',"
                " '2025-12-31', 'Asia/Shanghai', 'monthly', 25, '{}', '{}', '{}', '', '',"
                " '2021-01-01 00:00:00+00', '2021-01-01 00:00:00+00')"
            )
        )
        for position, code in enumerate(("tw", "jyj")):
            connection.execute(
                sa.text(
                    "INSERT INTO unit (program_id, code, name, sources, position)"
                    " SELECT id, :code, :code, '[]', :position FROM program"
                ),
                {"code": code, "position": position},
            )
        ids = connection.execute(sa.text("SELECT id, program_id FROM unit LIMIT 2")).all()
        for (unit_id, program_id), closed in zip(ids, ("2021-01-05", "2021-04-08"), strict=True):
            connection.execute(
                sa.text(
                    "INSERT INTO escalation (program_id, unit_id, level, status, opened_on,"
                    " raised_on, closed_on, outcome) VALUES (:p, :u, 'reminder', 'closed',"
                    " '2021-04-06', '2021-04-06', :c, '自动关闭：已无预警')"
                ),
                {"p": program_id, "u": unit_id, "c": closed},
            )

    assert db.migrate(engine) == ("0007", db.head_revision())

    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT opened_on, closed_on, outcome FROM escalation ORDER BY id")
        ).all()
    repaired, untouched = rows
    assert str(repaired.closed_on) == str(repaired.opened_on) == "2021-04-06"
    assert "2021-01-05" in repaired.outcome and repaired.outcome.startswith("自动关闭：已无预警")
    assert str(untouched.closed_on) == "2021-04-08" and untouched.outcome == "自动关闭：已无预警"
    engine.dispose()


# --- on the command line --------------------------------------------------------------------


def cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout if code == 0 else result.stderr


def test_flag_for_an_earlier_day_says_why_and_offers_a_dry_run(
    isolated_environment: Path,
) -> None:
    cli("init")
    cli("program", "load", str(EXAMPLES / "xiangshan.yaml"))
    cli("flag", "--program", "xiangshan", "--as-of", "2021-04-07")
    listed = cli("escalation", "list", "--program", "xiangshan", "--json")

    refused = cli("flag", "--program", "xiangshan", "--as-of", "2021-04-06", code=1)

    assert "2021-04-07" in refused and "2021-04-06" in refused
    assert "pilot-tracker flag --program xiangshan --as-of 2021-04-06 --dry-run" in refused
    assert cli("escalation", "list", "--program", "xiangshan", "--json") == listed

    engine = db.make_engine(Settings().resolved_database_url)
    before = snapshot(engine)
    preview = json.loads(
        cli("flag", "--program", "xiangshan", "--as-of", "2021-04-06", "--dry-run", "--json")
    )
    table = cli("flag", "--program", "xiangshan", "--as-of", "2021-04-06", "--dry-run")
    assert snapshot(engine) == before
    engine.dispose()
    assert preview["as_of"] == "2021-04-06" and preview["dry_run"] is True
    assert preview["flags"] and all(f["details"]["message"] for f in preview["flags"])
    assert "dry run: nothing was written" in table
    assert cli("escalation", "list", "--program", "xiangshan", "--json") == listed


def test_closing_by_hand_before_it_opened_is_refused_on_the_command_line(
    isolated_environment: Path,
) -> None:
    cli("init")
    cli("program", "load", str(EXAMPLES / "xiangshan.yaml"))
    cli("flag", "--program", "xiangshan", "--as-of", "2021-04-06")
    first = json.loads(cli("escalation", "list", "--program", "xiangshan", "--json"))[0]

    refused = cli(
        "escalation", "close", str(first["id"]), "--outcome", "已整改", "--on", "2021-04-01", code=1
    )

    assert "opened on 2021-04-06" in refused
    again = json.loads(cli("escalation", "list", "--program", "xiangshan", "--json"))[0]
    assert again["status"] == "open" and again["closed"] is None


def day_flags(engine: sa.Engine, day: date) -> list[tuple]:
    with db.session(engine) as session:
        return [
            (f.id, f.rule, f.unit_id, f.task_id, f.indicator_id, f.severity, f.details)
            for f in session.exec(select(Flag).where(Flag.as_of == day).order_by(Flag.id)).all()
        ]


def test_the_same_day_flagged_again_keeps_its_flags_unless_the_findings_change(
    engine: sa.Engine,
) -> None:
    load(engine)
    with db.session(engine) as session:
        first = flags.flag(session=session, program="xiangshan", as_of=LATER)
    stored = day_flags(engine, LATER)
    assert len(stored) == len(first.findings) > 1

    written: list[str] = []

    def note(connection, cursor, statement, *_: object) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith("SELECT"):
            written.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        with db.session(engine) as session:  # the same findings: nothing written
            flags.flag(session=session, program="xiangshan", as_of=LATER)
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert not [s for s in written if "flag" in s.lower()], written
    assert day_flags(engine, LATER) == stored

    away = first.findings[0].unit  # one unit unavailable: its flags go, the others stay
    with db.session(engine) as session:
        again = flags.flag(
            session=session, program="xiangshan", as_of=LATER, unavailable=frozenset({away})
        )
    after = day_flags(engine, LATER)
    assert len(after) == len(again.findings) < len(stored)
    assert [(rule, details["message"]) for _, rule, *_, details in after] == [
        (finding.rule, finding.message) for finding in again.findings
    ]


def test_a_flag_counts_working_days_by_the_entered_years(engine: sa.Engine) -> None:
    load(engine)
    with db.session(engine) as session:
        before = flags.preview(session=session, program="xiangshan", as_of=LATER)
    workday = date(2021, 3, 31)  # a Wednesday, a working day by the package
    assert before.situation.calendar.is_workday(workday)
    with db.session(engine) as session:
        workdays.enter_year(
            session=session,
            arrangement=workdays.Arrangement(
                year=2021, source="测试通知", holidays={workday: "测试假日"}
            ),
            now=datetime(2021, 1, 2, tzinfo=UTC),
        )
    with db.session(engine) as session:
        after = flags.preview(session=session, program="xiangshan", as_of=LATER)
    assert after.situation.calendar.source_of(2021) == "entered"
    assert not after.situation.calendar.is_workday(workday)
    assert after.situation.calendar.entered[2021].holidays == {workday: "测试假日"}
