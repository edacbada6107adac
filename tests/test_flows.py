"""The flows, run for real by Prefect (a temporary server for the whole session)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flows import collect_status as collect_module
from flows.collect_status import collect_status
from typer.testing import CliRunner

from pilot_tracker.cli import app
from pilot_tracker.collect.http import HttpSource
from pilot_tracker.demo.submissions import Behaviour, behaviours, deliver
from pilot_tracker.ledger.program_file import read_program_file, write_program_file

from .conftest import EXAMPLES
from .http_fixtures import Answer, http_server

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_collect_status_takes_in_every_unit_and_reports_the_unavailable(
    isolated_environment: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    program_file = tmp_path / "yinzhou.yaml"
    with http_server() as server:
        # The big-data centre's system answers on this test server instead of port 8765.
        text = (EXAMPLES / "yinzhou.yaml").read_text(encoding="utf-8")
        program_file.write_text(
            text.replace(
                "http://127.0.0.1:8765/yinzhou/dsj/progress.json", f"{server.url}/dsj.json"
            ),
            encoding="utf-8",
        )
        assert runner.invoke(app, ["program", "load", str(program_file)]).exit_code == 0
        delivery = deliver(
            spec=spec, inbox=isolated_environment / "inbox", since=None, until=date(2021, 1, 31)
        )
        server.answer("/dsj.json", Answer(body=delivery.http["dsj"]))

        result = collect_status("yinzhou", as_of=date(2021, 1, 31), settle_seconds=0)

    units = {summary.unit: summary for summary in result.submissions}
    plan = behaviours(spec)
    assert units["dsj"].source == "http" and units["dsj"].status == "imported"
    for unit, kind in plan.items():
        if kind is Behaviour.SILENT:
            assert unit not in units
        else:
            assert unit in units, unit
    assert result.unavailable == [] and result.errors == [] and result.outcome == "ok"
    json.dumps(result.as_dict())  # what the run records is plain data


def test_a_source_that_stays_down_does_not_fail_the_flow(
    isolated_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[str] = []
    fetch = HttpSource.fetch

    def counted(source: HttpSource) -> object:
        tries.append(source.unit)
        return fetch(source)

    monkeypatch.setattr(HttpSource, "fetch", counted)
    # Retried as in production, without the production waits between tries.
    fast = collect_module.pull_http.with_options(retry_delay_seconds=0.01)
    monkeypatch.setattr(collect_module, "pull_http", fast)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    text = (EXAMPLES / "yinzhou.yaml").read_text(encoding="utf-8")
    program_file = tmp_path / "yinzhou.yaml"
    program_file.write_text(
        text.replace(
            "http://127.0.0.1:8765/yinzhou/dsj/progress.json", "http://127.0.0.1:9/dsj.json"
        ),
        encoding="utf-8",
    )
    assert runner.invoke(app, ["program", "load", str(program_file)]).exit_code == 0

    result = collect_status("yinzhou", as_of=date(2021, 1, 31), settle_seconds=0)

    assert [(u.unit, u.source) for u in result.unavailable] == [("dsj", "http")]
    assert "could not be reached" in result.unavailable[0].error
    assert result.submissions == [] and result.errors == []
    assert tries == ["dsj"] * 3  # a source that is down is retried twice


def test_a_bug_in_a_source_is_the_run_s_error_not_the_unit_s_source_down(
    isolated_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[str] = []

    def broken(source: HttpSource) -> object:
        tries.append(source.unit)
        raise KeyError("a bug in the source")

    monkeypatch.setattr(HttpSource, "fetch", broken)
    fast = collect_module.pull_http.with_options(retry_delay_seconds=0.01)
    monkeypatch.setattr(collect_module, "pull_http", fast)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "yinzhou.yaml")]).exit_code == 0

    result = collect_status("yinzhou", as_of=date(2021, 1, 31), settle_seconds=0)

    assert result.unavailable == []  # not "unavailable": the unit's source is not down
    (error,) = result.errors
    assert (error["unit"], error["source"], error["error"]) == ("dsj", "http", "KeyError")
    assert result.unread == ["dsj"] and result.excused() == {"dsj"}  # not flagged on it
    assert tries == ["dsj"]  # a bug is not retried: it would fail the same way
    shown = runner.invoke(app, ["status"])
    assert "collect-status: source errors for 2021-01-31" in shown.stdout
    assert "sources down" not in shown.stdout
    assert shown.exit_code == 1


def test_a_source_on_loopback_not_marked_internal_is_refused_at_once(
    isolated_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[str] = []
    fetch = HttpSource.fetch

    def counted(source: HttpSource) -> object:
        tries.append(source.unit)
        return fetch(source)

    monkeypatch.setattr(HttpSource, "fetch", counted)
    fast = collect_module.pull_http.with_options(retry_delay_seconds=0.01)
    monkeypatch.setattr(collect_module, "pull_http", fast)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with http_server() as server:
        url = server.answer("/dsj.json", Answer(body=b"{}"))
        text = (EXAMPLES / "yinzhou.yaml").read_text(encoding="utf-8")
        program_file = tmp_path / "yinzhou.yaml"
        program_file.write_text(
            text.replace(
                '"http://127.0.0.1:8765/yinzhou/dsj/progress.json", format: json, timeout: 10, '
                "internal: true",
                f'"{url}", format: json',
            ),
            encoding="utf-8",
        )
        assert runner.invoke(app, ["program", "load", str(program_file)]).exit_code == 0

        result = collect_status("yinzhou", as_of=date(2021, 1, 31), settle_seconds=0)
        assert server.requests == []

    (unavailable,) = result.unavailable
    assert (unavailable.unit, unavailable.source) == ("dsj", "http")
    assert "refused: 127.0.0.1 is not a public address (loopback)" in unavailable.error
    assert "internal: true" in unavailable.error
    assert tries == ["dsj"]  # a refusal is not retried: the program file must change
    assert result.submissions == []


def test_supervise_collects_flags_and_sends_once(
    isolated_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.supervise import send_alerts, supervise

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    spec = read_program_file(EXAMPLES / "xiangshan.yaml")
    deliver(spec=spec, inbox=isolated_environment / "inbox", since=None, until=date(2021, 4, 6))
    with http_server() as server:
        server.answer("/office", Answer(body=b"{}"))
        config = tmp_path / "apprise.yml"
        config.write_text(
            f"version: 1\nurls:\n  - json://{server.url.removeprefix('http://')}/office:\n"
            "      tag: role:office\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("PILOT_TRACKER_APPRISE_CONFIG", str(config))

        result = supervise("xiangshan", as_of=date(2021, 4, 6), settle_seconds=0)
        delivered = len(server.bodies)
        again = send_alerts()

    assert result.collected and len(result.collected.submissions) > 10
    assert result.flagged and result.flagged.flags and result.flagged.calendar == "official"
    assert result.sent and result.sent.sent == delivered > 0 and result.sent.pending == 0
    assert again.sent == 0 and len(server.bodies) == delivered  # a second run sends nothing
    titles = [json.loads(body)["title"] for body in server.bodies]
    assert any(title.startswith("【进度提醒】象山县试点") for title in titles)


def test_the_report_flows_write_record_and_queue(isolated_environment: Path) -> None:
    from flows.reports import half_year_evaluation, quarterly_reconciliation

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    spec = read_program_file(EXAMPLES / "xiangshan.yaml")
    deliver(spec=spec, inbox=isolated_environment / "inbox", since=None, until=date(2021, 3, 31))
    assert (
        runner.invoke(app, ["collect", "--program", "xiangshan", "--as-of", "2021-03-31"]).exit_code
        == 0
    )

    quarter = quarterly_reconciliation("xiangshan", quarter="2021Q1")
    half = half_year_evaluation("xiangshan", half="2021H1", send=False)

    assert quarter.written and half.written and quarter.sent and half.sent is None
    assert set(quarter.written.files) == {"html", "pdf", "xlsx", "docx", "statements_docx"}
    assert quarter.written.problems == []
    assert all(Path(path).is_file() for path in quarter.written.files.values())
    assert quarter.written.queued > 2  # office, leaders, and the units' statements
    assert quarter.sent.pending >= quarter.written.queued  # no Apprise file: they wait
    assert set(half.written.files) == {"html", "pdf", "xlsx", "docx"}
    assert half.written.queued == 0 and "2021H1" in str(half.written.files["pdf"])


def test_supervise_warns_the_office_once_a_week_while_next_year_is_not_in_the_calendar(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flows.supervise import supervise
    from sqlmodel import select

    from pilot_tracker import db
    from pilot_tracker.models import Notification
    from pilot_tracker.settings import Settings
    from pilot_tracker.supervise import workdays

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    year = max(workdays.package_years()) + 1  # 2027 with chinese-calendar 1.11.0

    with caplog.at_level("WARNING"):
        first = supervise("xiangshan", as_of=date(year - 1, 12, 1), settle_seconds=0)
        second = supervise("xiangshan", as_of=date(year - 1, 12, 3), settle_seconds=0)
    logged = [r.getMessage() for r in caplog.records if "calendar add" in r.getMessage()]
    assert len(logged) == 2  # every run says so
    assert logged[0] == f"xiangshan: {workdays.warning_text(year)}"

    engine = db.make_engine(Settings().resolved_database_url)
    with db.session(engine) as session:
        warnings = [
            (n.target, n.subject)
            for n in session.exec(select(Notification)).all()
            if n.dedup_key.startswith("calendar:")
        ]
    engine.dispose()
    assert warnings == [("role:office", f"【工作日历提醒】{year}年节假日安排尚未录入 · 象山县试点")]
    assert first.flagged and second.flagged
    assert first.flagged.calendar == second.flagged.calendar == "official"


def test_a_rerun_for_an_earlier_day_fails_and_rewrites_nothing(isolated_environment: Path) -> None:
    from flows.supervise import flag_laggards, supervise

    from pilot_tracker.errors import EarlierDayError

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    flag_laggards("xiangshan", as_of=date(2021, 4, 7))
    listed = runner.invoke(app, ["escalation", "list", "--program", "xiangshan", "--json"]).stdout
    assert json.loads(listed)

    with pytest.raises(EarlierDayError, match="on record up to 2021-04-07"):
        supervise("xiangshan", as_of=date(2021, 4, 6), settle_seconds=0)
    with pytest.raises(EarlierDayError, match="--dry-run"):
        flag_laggards("xiangshan", as_of=date(2021, 1, 5))

    again = runner.invoke(app, ["escalation", "list", "--program", "xiangshan", "--json"]).stdout
    assert again == listed


def test_collect_status_records_a_failed_intake_and_the_run_says_so(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    spec = read_program_file(EXAMPLES / "xiangshan.yaml")
    deliver(spec=spec, inbox=isolated_environment / "inbox", since=None, until=date(2021, 1, 31))

    def broken(self: object, read: object) -> None:
        raise RuntimeError("a bug in intake")

    monkeypatch.setattr("pilot_tracker.collect.intake._Checker.run", broken)
    result = collect_status("xiangshan", as_of=date(2021, 1, 31), settle_seconds=0)

    assert result.unavailable == []  # the units sent files: they stay subject to flags
    assert result.errors and {s.status for s in result.submissions} == {"rejected"}
    assert result.unread == [] and result.outcome == "intake errors"
    shown = runner.invoke(app, ["status"])
    assert "collect-status: intake errors for 2021-01-31" in shown.stdout
    assert shown.exit_code == 1


def test_an_error_of_the_tree_fails_the_run_with_its_line_and_no_traceback(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flows.supervise import flag_laggards

    from pilot_tracker.errors import NotFoundError

    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    with caplog.at_level("INFO"):
        state = flag_laggards("nowhere", as_of=date(2021, 4, 7), return_state=True)
    assert state.is_failed()
    assert 'no program "nowhere"' in state.message
    with pytest.raises(NotFoundError):
        # _sync: once a browser test has run in this process, Playwright's event loop runs in
        # the main thread, and Prefect would hand back a coroutine instead of raising.
        state.result(_sync=True)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert {r.name for r in errors} >= {"prefect.flow_runs", "prefect.task_runs"}
    assert all('no program "nowhere"' in r.getMessage() for r in errors)
    assert all(r.exc_info is None for r in errors)
    assert "Traceback" not in caplog.text


def test_a_bug_in_a_run_keeps_its_traceback(
    isolated_environment: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.supervise import flag_laggards

    from pilot_tracker.supervise import flags

    def broken(**kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(flags, "flag_and_escalate", broken)
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    with caplog.at_level("INFO"):
        state = flag_laggards("nowhere", as_of=date(2021, 4, 7), return_state=True)
    assert state.is_failed() and "KeyError" in state.message
    assert "Traceback" in caplog.text


def test_collect_status_takes_the_offices_mail_and_files_it(
    isolated_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail_user: Any
) -> None:
    from .test_mail_in import (
        LIAISON,
        filled,
        program_spec,
        reply_to,
        simple_reminder,
        template_of_spec,
    )

    spec = program_spec(mail_user.server.imap_port, mail_user.name)
    program_file = tmp_path / "demo.yaml"
    write_program_file(spec, program_file)
    monkeypatch.setenv("PT_MAIL_PASSWORD", mail_user.password)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(program_file)]).exit_code == 0
    mail_user.deliver(reply_to(simple_reminder(), ("进展.xlsx", filled(template_of_spec()))))

    result = collect_status("demo", as_of=date(2021, 3, 29), settle_seconds=0)

    [summary] = result.submissions
    assert (summary.unit, summary.source, summary.status) == ("tw", "mail", "imported")
    assert result.mail == [f"mail from {LIAISON}: taken; 进展.xlsx: submitted as tw"]
    assert mail_user.uids("INBOX") == [] and len(mail_user.uids("已处理")) == 1


def test_a_mailbox_that_is_down_does_not_fail_the_flow_and_status_says_so(
    isolated_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail_user: Any
) -> None:
    from .imap_fixtures import free_port
    from .test_mail_in import program_spec

    tries: list[int] = []
    pull = collect_module.MailboxSource.pull

    def counted(source: Any, known: Any) -> Any:
        tries.append(1)
        return pull(source, known)

    monkeypatch.setattr(collect_module.MailboxSource, "pull", counted)
    fast = collect_module.pull_mailbox.with_options(retry_delay_seconds=0.01)
    monkeypatch.setattr(collect_module, "pull_mailbox", fast)
    program_file = tmp_path / "demo.yaml"
    write_program_file(program_spec(free_port(), mail_user.name), program_file)
    monkeypatch.setenv("PT_MAIL_PASSWORD", mail_user.password)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(program_file)]).exit_code == 0

    result = collect_status("demo", as_of=date(2021, 3, 29), settle_seconds=0)

    assert result.mailbox_error is not None and result.excused() == {"tw", "jyj", "rsj"}
    assert len(tries) == 3  # a mailbox that is down is retried twice
    shown = runner.invoke(app, ["status"])
    assert "sources down: mailbox" in shown.stdout
