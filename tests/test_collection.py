"""A whole collection run over real files, a real database and a real HTTP server."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select
from typer.testing import CliRunner

from pilot_tracker import db, runs
from pilot_tracker.alerts import outbox
from pilot_tracker.cli import app
from pilot_tracker.collect import collection
from pilot_tracker.collect.inbox import inbox_folder
from pilot_tracker.demo.submissions import Behaviour, behaviours, deliver
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, read_program_file, validate_program
from pilot_tracker.models import Notification, StatusReport, Submission
from pilot_tracker.supervise import flags
from pilot_tracker.supervise.progress import progress

from .conftest import EXAMPLES, ROOT
from .http_fixtures import Answer, http_server, no_sleep
from .test_program_file import SMALL

NOW = datetime(2021, 3, 31, 2, 0, tzinfo=UTC)
AS_OF = date(2021, 3, 31)
TEMPLATES = outbox.Templates(ROOT / "templates")


@pytest.fixture(scope="module")
def xiangshan() -> ProgramSpec:
    return read_program_file(EXAMPLES / "xiangshan.yaml")


def load(engine: sa.Engine, spec: ProgramSpec) -> None:
    with db.session(engine) as session:
        store.load_program(
            session=session, spec=spec, source_name="x.yaml", source_sha256="", now=NOW
        )


def run(engine: sa.Engine, home: Path, program: str, as_of: date = AS_OF, **extra: object):
    _, sleep = no_sleep()
    return collection.collect(
        engine=engine,
        program=program,
        as_of=as_of,
        now=NOW,
        home=home,
        environ={},
        templates=TEMPLATES,
        settle_seconds=0,
        attempts=1,
        sleep=sleep,
        **extra,
    )


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("submission", "status_report", "rejection", "notification")
        }


def test_a_quarter_of_demo_submissions_is_taken_in(
    engine: sa.Engine, tmp_path: Path, xiangshan: ProgramSpec
) -> None:
    load(engine, xiangshan)
    home = tmp_path / "home"
    delivery = deliver(spec=xiangshan, inbox=home / "inbox", since=None, until=AS_OF)
    originals = {hashlib.sha256(path.read_bytes()).hexdigest() for path in delivery.written}

    result = run(engine, home, "xiangshan")

    plan = behaviours(xiangshan)
    by_unit = Counter(summary.unit for summary in result.submissions)
    silent = [unit for unit, kind in plan.items() if kind is Behaviour.SILENT]
    assert silent and all(by_unit[unit] == 0 for unit in silent)
    assert all(by_unit[unit] == 3 for unit, kind in plan.items() if kind is not Behaviour.SILENT)
    statuses = {summary.unit: summary.status for summary in result.submissions}
    for unit, kind in plan.items():
        if kind in (Behaviour.MESSY_WORKBOOK, Behaviour.GBK_CSV, Behaviour.ON_TRACK):
            assert statuses[unit] == "imported", (unit, kind)
        if kind is Behaviour.BAD_ROW:
            assert statuses[unit] == "partial"
    # The inbox is empty and every payload is in the archive, intact.
    assert not [p for p in (home / "inbox").rglob("*") if p.is_file()]
    archived = {
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in (home / "archive").rglob("*")
        if path.is_file()
    }
    assert archived == originals
    for path in (home / "archive").rglob("*"):
        if path.is_file():
            assert path.name == hashlib.sha256(path.read_bytes()).hexdigest()

    with db.session(engine) as session:
        notices = session.exec(select(Notification)).all()
        bad = next(unit for unit, kind in plan.items() if kind is Behaviour.BAD_ROW)
        assert {n.target for n in notices} == {f"unit:{bad} role:liaison"}
        assert all(n.subject.startswith("【填报退回】") for n in notices)
        assert "约一半" in notices[0].body
        reports = session.exec(select(StatusReport)).all()
        assert {report.period for report in reports} == {"2021-01", "2021-02", "2021-03"}


def test_running_again_on_the_same_files_changes_nothing(
    sqlite_engine: sa.Engine, tmp_path: Path, xiangshan: ProgramSpec
) -> None:
    load(sqlite_engine, xiangshan)
    home = tmp_path / "home"
    delivery = deliver(spec=xiangshan, inbox=home / "inbox", since=None, until=AS_OF)
    copies = tmp_path / "copies"
    for path in delivery.written:
        target = copies / path.relative_to(home / "inbox")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    run(sqlite_engine, home, "xiangshan")
    before = counts(sqlite_engine)

    assert run(sqlite_engine, home, "xiangshan").submissions == []  # the inbox is empty now
    shutil.copytree(copies, home / "inbox", dirs_exist_ok=True)  # the same files sent again
    again = run(sqlite_engine, home, "xiangshan")
    assert {summary.status for summary in again.submissions} == {"duplicate"}
    assert counts(sqlite_engine) == before
    assert not [p for p in (home / "inbox").rglob("*") if p.is_file()]


def test_one_broken_file_does_not_stop_the_others(
    sqlite_engine: sa.Engine, tmp_path: Path, xiangshan: ProgramSpec
) -> None:
    load(sqlite_engine, xiangshan)
    home = tmp_path / "home"
    deliver(spec=xiangshan, inbox=home / "inbox", since=None, until=date(2021, 1, 31))
    broken = inbox_folder(home / "inbox", "xiangshan", "jyj") / "进展.xlsx"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("this is not a workbook")
    odd_name = inbox_folder(home / "inbox", "xiangshan", "jyj") / "a;rm -rf ~\n$(reboot).csv"
    odd_name.write_bytes(b"\xff\xfe\x00garbage")

    result = run(sqlite_engine, home, "xiangshan", as_of=date(2021, 1, 31))
    mine = [s for s in result.submissions if s.unit == "jyj" and s.status == "rejected"]
    reasons = " ".join(line.reason for s in mine for line in s.rejections)
    assert "不支持的文件格式" in reasons
    assert "a;rm -rf ~ $(reboot).csv" in {s.file for s in mine}
    assert sum(s.status == "imported" for s in result.submissions) >= 10
    assert result.unavailable == []


def test_each_payload_is_archived_ahead_and_taken_in_only_after(
    sqlite_engine: sa.Engine,
    tmp_path: Path,
    xiangshan: ProgramSpec,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next payloads' archive copies are written in a thread while one is taken in;
    each is taken in (intake's own archive call finds its copy whole) only once its copy
    is."""
    from pilot_tracker.collect import collection, intake

    load(sqlite_engine, xiangshan)
    home = tmp_path / "home"
    deliver(spec=xiangshan, inbox=home / "inbox", since=None, until=date(2021, 1, 31))
    events: list[tuple[str, str]] = []
    archive = intake.archive_payload

    def ahead(where: Path, data: bytes, sha256: str | None = None) -> tuple[str, str]:
        time.sleep(0.02)  # a slow disk
        done = archive(where, data, sha256)
        events.append(("ahead", done[0]))
        return done

    def taken(where: Path, data: bytes, sha256: str | None = None) -> tuple[str, str]:
        done = archive(where, data, sha256)
        events.append(("taken", done[0]))
        return done

    monkeypatch.setattr(collection, "archive_payload", ahead)
    monkeypatch.setattr(intake, "archive_payload", taken)
    result = run(sqlite_engine, home, "xiangshan", as_of=date(2021, 1, 31))
    order = [sha for kind, sha in events if kind == "taken"]
    assert len(order) == len(result.submissions) >= 10
    for sha in order[1:]:  # every one but the first was written ahead, before it was taken
        assert events.index(("ahead", sha)) < events.index(("taken", sha))
    for summary in result.submissions:
        assert (home / "archive" / summary.sha256[:2] / summary.sha256).is_file()


def http_program(url: str) -> ProgramSpec:
    document = copy.deepcopy(SMALL)
    document["units"][2]["sources"] = [
        {"kind": "http", "url": url, "format": "json", "timeout": 2, "internal": True}
    ]
    return validate_program(document, "demo.yaml")


def test_an_http_source_that_is_down_marks_its_unit_unavailable(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    body = json.dumps(
        {
            "tasks": [
                {"任务编号": "T-02", "进展状态": "推进中", "完成进度": 30, "填报日期": "2021-03-20"}
            ]
        },
        ensure_ascii=False,
    ).encode()
    with http_server() as server:
        url = server.answer(
            "/rsj.json", Answer(503, b"<html>down</html>", "text/html"), Answer(body=body)
        )
        load(sqlite_engine, http_program(url))
        first = run(sqlite_engine, tmp_path, "demo")
        assert [(u.unit, u.source) for u in first.unavailable] == [("rsj", "http")]
        assert "answered HTTP 503" in first.unavailable[0].error
        second = run(sqlite_engine, tmp_path, "demo")
    (summary,) = second.submissions
    assert (summary.unit, summary.source, summary.status, summary.imported) == (
        "rsj",
        "http",
        "imported",
        1,
    )


def test_a_bug_in_a_source_is_an_error_of_the_run_not_a_source_down(
    sqlite_engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pilot_tracker.collect.http import HttpSource

    def broken(source: HttpSource) -> object:
        raise KeyError("a bug in the source")

    monkeypatch.setattr(HttpSource, "pull", broken)
    load(sqlite_engine, http_program("http://127.0.0.1:9/rsj.json"))
    result = run(sqlite_engine, tmp_path, "demo")

    assert result.unavailable == []
    assert [(e["unit"], e["source"], e["error"]) for e in result.errors] == [
        ("rsj", "http", "KeyError")
    ]
    assert result.outcome == "source errors" and result.excused() == {"rsj"}
    assert "rsj: pulling its http source failed (KeyError)" in "\n".join(result.lines())


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(body=b"<html><body>Server Error</body></html>", content_type="text/html"), "网页"),
        (Answer(body='{"tasks": [{"任务编号": "T-02", "完成'.encode()), "JSON"),
    ],
)
def test_a_bad_http_answer_is_archived_and_rejected(
    sqlite_engine: sa.Engine, tmp_path: Path, answer: Answer, reason: str
) -> None:
    with http_server() as server:
        load(sqlite_engine, http_program(server.answer("/rsj", answer)))
        result = run(sqlite_engine, tmp_path, "demo")
    (summary,) = result.submissions
    assert summary.status == "rejected"
    assert reason in summary.rejections[0].reason
    assert (tmp_path / "archive" / summary.sha256[:2] / summary.sha256).read_bytes() == answer.body


def test_progress_reads_back_the_latest_report_per_task(
    sqlite_engine: sa.Engine, tmp_path: Path, xiangshan: ProgramSpec
) -> None:
    load(sqlite_engine, xiangshan)
    home = tmp_path / "home"
    deliver(spec=xiangshan, inbox=home / "inbox", since=None, until=AS_OF)
    run(sqlite_engine, home, "xiangshan")
    with db.session(sqlite_engine) as session:
        now = progress(session=session, program="xiangshan", as_of=AS_OF)
        january = progress(
            session=session, program="xiangshan", as_of=date(2021, 1, 31), unit="jyj"
        )
        stored = session.exec(
            select(StatusReport.task_id, Submission.sha256).join(Submission)
        ).all()
    assert {row["period"] for row in now} == {"2021-03"}
    assert {row["period"] for row in january} <= {"2021-01"}
    assert all(row["unit"] == "jyj" for row in january)
    latest = set(stored)
    assert all(len(row["submission"]) == 64 for row in now)
    assert len(latest) >= len(now)


def test_collect_and_progress_on_the_command_line(
    tmp_path: Path, isolated_environment: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    simulated = runner.invoke(app, ["simulate", "--program", "xiangshan", "--until", "2021-01-31"])
    assert "xiangshan: 20 files written to" in simulated.stdout

    result = runner.invoke(
        app, ["collect", "--program", "xiangshan", "--as-of", "2021-01-31", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["as_of"] == "2021-01-31" and summary["program"] == "xiangshan"
    first = summary["submissions"][0]
    assert set(first) >= {
        "unit",
        "source",
        "file",
        "sha256",
        "status",
        "imported",
        "updated",
        "ignored",
        "rejected",
        "rejections",
    }
    bad = [s for s in summary["submissions"] if s["status"] == "partial"]
    assert bad and set(bad[0]["rejections"][0]) == {"sheet", "row", "column", "value", "reason"}

    shown = runner.invoke(
        app, ["progress", "--program", "xiangshan", "--as-of", "2021-01-31", "--json"]
    )
    rows = json.loads(shown.stdout)
    assert rows and set(rows[0]) == {
        "task",
        "unit",
        "period",
        "status",
        "percent",
        "reported_at",
        "submission",
    }

    table = runner.invoke(app, ["collect", "--program", "xiangshan", "--as-of", "2021-01-31"])
    assert table.exit_code == 0 and "nothing new in any source" in table.stdout
    wrong = runner.invoke(app, ["collect", "--program", "xiangshan", "--as-of", "31/01/2021"])
    assert wrong.exit_code == 2


def test_a_payload_that_breaks_intake_is_recorded_rejected_not_unavailable(
    sqlite_engine: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    load(sqlite_engine, validate_program(copy.deepcopy(SMALL), "demo.yaml"))
    home = tmp_path / "home"
    inbox = inbox_folder(home / "inbox", "demo", "tw")
    inbox.mkdir(parents=True)
    sent = "任务编号,进展状态,完成进度\nT-01,推进中,40\n".encode()
    (inbox / "进展.csv").write_bytes(sent)

    def broken(self: object, read: object) -> None:
        raise RuntimeError("a bug in intake, with a secret: token=abc123")

    monkeypatch.setattr("pilot_tracker.collect.intake._Checker.run", broken)
    result = run(sqlite_engine, home, "demo")

    assert result.unavailable == []  # the unit sent something: it stays subject to its flags
    (summary,) = result.submissions
    assert (summary.unit, summary.status, summary.rejected) == ("tw", "rejected", 1)
    reason = summary.rejections[0].reason
    assert "专班" in reason and "RuntimeError" not in reason and "abc123" not in reason
    assert [(e["unit"], e["file"]) for e in result.errors] == [("tw", "进展.csv")]
    assert "tw: intake failed" in "\n".join(result.lines())
    # archived and recorded; the file left the inbox; the liaison is told
    assert (home / "archive" / summary.sha256[:2] / summary.sha256).read_bytes() == sent
    assert not (inbox / "进展.csv").exists()
    with db.session(sqlite_engine) as session:
        submission = session.exec(select(Submission)).one()
        assert (submission.status, submission.rejected) == ("rejected", 1)
        assert session.exec(select(StatusReport)).all() == []
        (notice,) = session.exec(select(Notification)).all()
        assert "专班" in notice.body
    # the operator gets the traceback in the log, and only there
    assert any(record.exc_info for record in caplog.records if record.levelname == "ERROR")
    # not "unavailable": the unit that sent it is still flagged for the missing report
    with db.session(sqlite_engine) as session:
        flagged = flags.flag(
            session=session,
            program="demo",
            as_of=AS_OF,
            unavailable=frozenset(item.unit for item in result.unavailable),
        )
        missing = {f.unit for f in flagged.findings if f.rule == "missing_report"}
    assert "tw" in missing

    monkeypatch.undo()
    (inbox / "进展.csv").write_bytes(sent)  # the same bytes again: already recorded
    again = run(sqlite_engine, home, "demo")
    assert [s.status for s in again.submissions] == ["duplicate"] and again.errors == []


def test_collect_exits_non_zero_when_intake_broke(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    assert runner.invoke(app, ["simulate", "--program", "xiangshan", "--until", "2021-01-31"])

    def broken(self: object, read: object) -> None:
        raise RuntimeError("a bug in intake")

    monkeypatch.setattr("pilot_tracker.collect.intake._Checker.run", broken)
    result = runner.invoke(app, ["collect", "--program", "xiangshan", "--as-of", "2021-01-31"])
    assert result.exit_code == 70  # a bug of ours, not a refused file
    assert "could not be taken in" in result.stderr and "Traceback" not in result.output
    assert "unavailable" not in result.stdout


def test_status_exits_non_zero_after_a_collection_with_intake_errors(
    isolated_environment: Path,
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    engine = db.make_engine(f"sqlite:///{isolated_environment / 'pilot-tracker.db'}")
    for outcome in ("ok", "intake errors"):
        runs.record(
            engine=engine,
            program="xiangshan",
            flow="collect-status",
            as_of=AS_OF,
            started=NOW,
            finished=NOW,
            outcome=outcome,
            summary={"submissions": 1, "unavailable": [], "errors": []},
        )
        shown = runner.invoke(app, ["status"])
        assert f"collect-status: {outcome} for 2021-03-31" in shown.stdout
        assert shown.exit_code == (0 if outcome == "ok" else 1), shown.output
    engine.dispose()
