"""A unit's answers through its page, over HTTP: the quarterly statement (确认, 提出异议, the
PDF), its notices (签收), its extension requests (延期申请); and the office seeing them at
the command line (`reconcile list`, `extension list|approve|reject`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app
from pilot_tracker.models import (
    Acknowledgement,
    Document,
    Escalation,
    Extension,
    Program,
    Reconciliation,
    Unit,
)
from pilot_tracker.reports import figures, writing
from pilot_tracker.settings import PROJECT_TEMPLATES

from .conftest import load_examples
from .portal_fixtures import NOW, PortalUnderTest

runner = CliRunner()


def cli(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def q1_written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The examples' 2021Q1 reconciliation, PDF and all, written once for the module (the
    PDF takes seconds): its record's paths (absolute: written outside each test's data
    home) and checksums."""
    home = tmp_path_factory.mktemp("q1")
    engine = db.make_engine(f"sqlite:///{home / 'q1.db'}")
    db.migrate(engine)
    with db.session(engine) as session:
        load_examples(session, "xiangshan")
        written = writing.write(
            session=session,
            kind="quarterly",
            program="xiangshan",
            period="2021Q1",
            folder=home / "reports",
            home=tmp_path_factory.getbasetemp() / "elsewhere",
            templates=PROJECT_TEMPLATES,
            now=NOW,
            send=False,
        )
        record = session.exec(select(Document)).one()
        found = {"paths": dict(record.paths), "sha256": dict(record.sha256)}
    engine.dispose()
    assert written.problems == [] and "pdf" in written.files
    assert all(Path(path).is_absolute() for path in found["paths"].values())
    return found


def ids(portal: PortalUnderTest, unit: str) -> tuple[int, int]:
    with Session(portal.engine) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        row = session.exec(
            select(Unit).where(Unit.program_id == program.id, Unit.code == unit)
        ).one()
        assert program.id is not None and row.id is not None
        return program.id, row.id


@pytest.fixture
def statement(portal: PortalUnderTest, q1_written: dict[str, Any]) -> PortalUnderTest:
    """The portal with the 2021Q1 reconciliation on record."""
    program_id, _ = ids(portal, "tw")
    with db.session(portal.engine) as session:
        session.add(
            Document(
                program_id=program_id,
                kind="quarterly",
                period="2021Q1",
                formats=["html", "pdf", "xlsx"],
                paths=q1_written["paths"],
                sha256=q1_written["sha256"],
                generated_at=NOW,
            )
        )
    return portal


def post(portal: PortalUnderTest, unit: str, route: str, **fields: str) -> Any:
    path = portal.link("xiangshan", unit)
    return portal.client.post(f"{path}/{route}", data={"csrf": portal.csrf(path), **fields})


def rows(portal: PortalUnderTest, model: Any) -> list[Any]:
    with Session(portal.engine) as session:
        return list(session.exec(select(model).order_by(model.id)).all())


def squeeze(html: str) -> str:
    return re.sub(r"\s+", "", html)


# --- the quarterly statement ---------------------------------------------------------------


def test_the_page_shows_the_units_statement_and_serves_its_own_pdf(
    statement: PortalUnderTest, q1_written: dict[str, Any]
) -> None:
    path = statement.link("xiangshan", "tw")
    page = statement.client.get(path)
    assert page.status_code == 200
    text = squeeze(page.text)
    assert "2021年第1季度任务对账单·确认状态：" in text and ">未确认</b>" in text
    assert "XS-JZ-01" in text and "需核实的问题" in text
    assert f'href="{path}/statement/2021Q1"' in page.text
    assert 'value="confirm">确认</button>' in page.text
    assert 'value="dispute" class="secondary">提出异议</button>' in page.text

    pdf = statement.client.get(f"{path}/statement/2021Q1")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert pdf.content == Path(q1_written["paths"]["statement:tw"]).read_bytes()
    assert pdf.content != Path(q1_written["paths"]["statement:zzb"]).read_bytes()


@pytest.mark.parametrize(
    "quarter", ["2021Q2", "2021Q5", "..%2Fq1.db", "2021Q1.pdf", "statement:zzb", "pdf"]
)
def test_no_other_file_is_reachable(statement: PortalUnderTest, quarter: str) -> None:
    path = statement.link("xiangshan", "tw")
    answer = statement.client.get(f"{path}/statement/{quarter}")
    assert answer.status_code == 404
    assert "没有找到本单位该季度的对账单" in answer.text or "页面不存在" in answer.text


def test_before_any_statement_is_written_the_page_says_so(portal: PortalUnderTest) -> None:
    page = portal.client.get(portal.link("xiangshan", "tw"))
    assert "专班尚未生成季度对账单" in page.text
    answer = post(portal, "tw", "statement", quarter="2021Q1", action="confirm")
    assert answer.status_code == 404
    assert rows(portal, Reconciliation) == []


def test_a_unit_confirms_its_statement_and_the_office_sees_it(statement: PortalUnderTest) -> None:
    answer = post(statement, "tw", "statement", quarter="2021Q1", action="confirm")
    assert answer.status_code == 200
    assert "已确认2021年第1季度对账单（2021-04-20 09:00）。" in answer.text
    assert squeeze(
        '<b class="answer confirmed">已确认</b><small>（2021-04-20 09:00，单位在线提交）'
    ) in squeeze(answer.text)
    (row,) = rows(statement, Reconciliation)
    assert (row.quarter, row.status, row.note, row.via) == ("2021Q1", "confirmed", "", "portal")

    # Sent again (a reload, a double tap): taken once.
    again = post(statement, "tw", "statement", quarter="2021Q1", action="confirm")
    assert again.status_code == 200
    assert "本单位已于2021-04-20 09:00就2021年第1季度对账单确认，无需重复提交。" in again.text
    assert len(rows(statement, Reconciliation)) == 1

    # The quarterly report's figures, and so its statement's status, show the answer.
    with Session(statement.engine) as session:
        snapshot = figures.load(
            session=session, program="xiangshan", as_of=date(2021, 3, 31), quarter="2021Q1"
        )
    quarterly = figures.quarterly(snapshot, "2021Q1")
    assert quarterly.totals["confirmed"] == 1
    (tw,) = [s for s in quarterly.statements if s.unit == "tw"]
    assert tw.confirmation_label == "已确认"


def test_a_dispute_needs_a_reason_and_a_later_answer_supersedes(
    statement: PortalUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = post(statement, "zzb", "statement", quarter="2021Q1", action="dispute", reason=" ")
    assert refused.status_code == 400
    assert 'class="invalid" aria-invalid="true" aria-describedby="statement-reason-error"' in (
        refused.text
    )
    assert re.search(
        r'<p class="field-error" id="statement-reason-error">请写明异议的内容：[^<]+</p>',
        refused.text,
    )
    assert 'href="#statement-reason">查看</a>' in refused.text
    assert rows(statement, Reconciliation) == []

    post(statement, "zzb", "statement", quarter="2021Q1", action="confirm")
    reason = "XS-JZ-07 已于3月印发<script>alert(1)</script>"
    disputed = post(
        statement, "zzb", "statement", quarter="2021Q1", action="dispute", reason=reason
    )
    assert disputed.status_code == 200
    assert "已提交对2021年第1季度对账单的异议" in disputed.text
    assert "异议内容：XS-JZ-07 已于3月印发&lt;script&gt;" in disputed.text
    assert "<script>" not in disputed.text
    assert "此前的答复（1次，以最新一次为准）" in disputed.text
    assert "<li>已确认（2021-04-20 09:00，单位在线提交）</li>" in disputed.text
    assert [(r.status, r.note) for r in rows(statement, Reconciliation)] == [
        ("confirmed", ""),
        ("disputed", reason),
    ]

    # The office: the answer that stands, when, how, and the one it superseded.
    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", str(statement.engine.url))
    listed = json.loads(
        cli("reconcile", "list", "--program", "xiangshan", "--quarter", "2021Q1", "--json").stdout
    )
    assert len(listed) == 30
    by_unit = {item["unit"]: item for item in listed}
    assert by_unit["zzb"] == {
        "unit": "zzb",
        "name": "县委组织部",
        "status": "disputed",
        "label": "有异议",
        "recorded_at": "2021-04-20T01:00:00+00:00",
        "via": "portal",
        "note": reason,
        "superseded": 1,
    }
    assert by_unit["tw"]["status"] is None and by_unit["tw"]["label"] == "未确认"
    shown = cli("reconcile", "list", "--program", "xiangshan", "--quarter", "2021Q1")
    assert "xiangshan 2021Q1: 1 of 30 units answered" in shown.stdout
    assert "not answered" in shown.stdout


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quarter": "2021Q1", "action": "approve"}, "statement-action"),
        ({"quarter": "2021Q1", "action": "confirm", "reason": "长" * 2001}, "statement-reason"),
    ],
)
def test_a_statement_answer_that_cannot_be_taken_is_shown_at_its_field(
    statement: PortalUnderTest, fields: dict[str, str], field: str
) -> None:
    refused = post(statement, "tw", "statement", **fields)
    assert refused.status_code == 400
    assert f'href="#{field}">查看</a>' in refused.text
    assert rows(statement, Reconciliation) == []


# --- notices -------------------------------------------------------------------------------


def escalate(portal: PortalUnderTest, unit: str, level: str = "urge") -> int:
    program_id, unit_id = ids(portal, unit)
    with db.session(portal.engine) as session:
        record = Escalation(
            program_id=program_id,
            unit_id=unit_id,
            level=level,
            status="open",
            opened_on=date(2021, 3, 1),
            raised_on=date(2021, 4, 1),
        )
        session.add(record)
        session.flush()
        assert record.id is not None
        return record.id


def test_a_notice_of_a_closed_escalation_waits_for_no_receipt(portal: PortalUnderTest) -> None:
    number = escalate(portal, "tw")
    with db.session(portal.engine) as session:
        record = session.get(Escalation, number)
        assert record is not None
        record.status, record.closed_on = "closed", date(2021, 4, 10)
    page = portal.client.get(portal.link("xiangshan", "tw"))
    assert "通知（2条）" in page.text and "待签收" not in page.text
    card = page.text.split(f'id="notice-{number}-urge"')[1].split("</li>")[0]
    assert "已结束" in card and "无需签收" in card and "<button" not in card


def test_a_notice_is_acknowledged_once(portal: PortalUnderTest) -> None:
    number = escalate(portal, "tw")
    page = portal.client.get(portal.link("xiangshan", "tw"))
    assert "通知（2条，2条待签收）" in page.text
    assert f'id="notice-{number}-urge"' in page.text and "2021-04-01发出" in page.text

    taken = post(portal, "tw", "notices", escalation=str(number), level="urge")
    assert taken.status_code == 200
    assert "已签收“督办”通知（2021-04-20 09:00）。" in taken.text
    assert "已签收（2021-04-20 09:00）" in taken.text
    assert "通知（2条，1条待签收）" in taken.text

    portal.clock[0] = datetime(2021, 4, 21, 2, tzinfo=UTC)
    again = post(portal, "tw", "notices", escalation=str(number), level="urge")
    assert again.status_code == 200
    assert "该“督办”通知已于2021-04-20 09:00签收，无需重复签收。" in again.text
    assert [(a.escalation_id, a.level) for a in rows(portal, Acknowledgement)] == [(number, "urge")]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"level": "urge"}, id="another unit's notice"),
        pytest.param({"level": "interview"}, id="a rung not reached"),
        pytest.param({"escalation": "x", "level": "urge"}, id="not a number"),
    ],
)
def test_acknowledging_another_units_notice_is_not_found(
    portal: PortalUnderTest, fields: dict[str, str]
) -> None:
    theirs = escalate(portal, "zzb")
    escalate(portal, "tw")
    refused = post(portal, "tw", "notices", **{"escalation": str(theirs), **fields})
    assert refused.status_code == 404
    assert "没有找到这条通知" in refused.text
    assert "县委组织部" not in refused.text
    assert rows(portal, Acknowledgement) == []


# --- extension requests --------------------------------------------------------------------


def test_a_unit_asks_for_an_extension_and_the_office_decides(
    portal: PortalUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = portal.client.get(portal.link("xiangshan", "tw"))
    assert '<option value="XS-JZ-01">XS-JZ-01' in page.text
    assert '<option value="XS-JZ-04">' not in page.text  # due at the program's end
    assert '<option value="XS-JZ-07">' not in page.text  # zzb's

    asked = post(
        portal, "tw", "extensions", task="XS-JZ-01", proposed="2021-06-30", reason="需会签"
    )
    assert asked.status_code == 200
    assert (
        "已提交任务XS-JZ-01的延期申请（原定2021-03-31，申请延期至2021-06-30），请等待专班审批。"
        in asked.text
    )
    assert "原定 2021-03-31 · 申请延期至 2021-06-30 · 2021-04-20提交" in asked.text
    assert '<b class="extension pending">待审批</b>' in asked.text
    again = post(
        portal, "tw", "extensions", task="XS-JZ-01", proposed="2021-06-30", reason="需会签"
    )
    assert "正在等待专班审批，无需重复提交" in again.text
    assert len(rows(portal, Extension)) == 1

    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", str(portal.engine.url))
    (listed,) = json.loads(
        cli("extension", "list", "--program", "xiangshan", "--status", "pending", "--json").stdout
    )
    assert {k: listed[k] for k in ("unit", "task", "previous_due", "proposed_due", "status")} == {
        "unit": "tw",
        "task": "XS-JZ-01",
        "previous_due": "2021-03-31",
        "proposed_due": "2021-06-30",
        "status": "pending",
    }
    approved = cli("extension", "approve", str(listed["id"]), "--on", "2021-04-20")
    assert approved.stdout.strip() == (
        f"extension {listed['id']} (xiangshan tw XS-JZ-01) approved: due 2021-06-30 "
        "(was 2021-03-31) from 2021-04-20; message queued for tw's liaison"
    )
    assert cli("extension", "list", "--status", "pending").stdout.strip() == (
        "no extension requests"
    )
    twice = cli("extension", "reject", str(listed["id"]), "--note", "不同意", code=1)
    assert "was already approved on 2021-04-20; nothing was changed" in twice.stderr

    page = portal.client.get(portal.link("xiangshan", "tw"))
    assert "原定完成 2021-03-31 · 延期至 <b>2021-06-30</b>" in page.text
    assert '<b class="extension approved">已批准</b>' in page.text


def test_the_office_rejects_with_a_note(
    portal: PortalUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    post(portal, "tw", "extensions", task="XS-JZ-03", proposed="2021-09-30", reason="等待审议")
    (row,) = rows(portal, Extension)
    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", str(portal.engine.url))
    bare = cli("extension", "reject", str(row.id), code=1)
    assert bare.stderr.strip() == 'error: say why, for the unit: --note "..."'
    cli("extension", "reject", str(row.id), "--note", "请按原定时限完成", "--on", "2021-04-21")
    unknown = cli("extension", "approve", "999", code=1)
    assert "no extension request 999" in unknown.stderr
    bad_day = cli("extension", "approve", str(row.id), "--on", "tomorrow", code=2)
    assert "is not a date" in bad_day.stderr
    page = portal.client.get(portal.link("xiangshan", "tw"))
    assert '<b class="extension rejected">未批准</b>' in page.text
    assert "专班意见：请按原定时限完成" in page.text
    assert "计划完成 2021-06-30" in page.text  # XS-JZ-03 keeps its date


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"task": "XS-JZ-07"}, "task", "“XS-JZ-07”不是本单位牵头的任务"),  # zzb's task
        ({"task": "XS-JZ-02"}, "task", "不是本单位牵头的任务"),  # tw is a co-unit of it
        ({"proposed": "约六月底"}, "proposed", "日期“约六月底”无效"),
        ({"proposed": "2021-03-01"}, "proposed", "应晚于现在的完成时限（2021-03-31）"),
        ({"reason": ""}, "reason", "请写明申请延期的理由"),
    ],
)
def test_an_extension_that_cannot_be_taken_is_refused_at_its_field(
    portal: PortalUnderTest, fields: dict[str, str], field: str, says: str
) -> None:
    sent = {"task": "XS-JZ-01", "proposed": "2021-06-30", "reason": "需会签", **fields}
    refused = post(portal, "tw", "extensions", **sent)
    assert refused.status_code == 400
    error = re.search(
        rf'<p class="field-error" id="extensions-{field}-error">([^<]+)</p>', refused.text
    )
    assert error and says in error.group(1)
    assert f'href="#extensions-{field}">查看</a>' in refused.text
    # What was sent is there to correct, not to type again.
    assert f">{sent['reason']}</textarea>" in refused.text
    assert rows(portal, Extension) == []


# --- every answer goes through the unit's form --------------------------------------------


@pytest.mark.parametrize("route", ["statement", "notices", "extensions"])
def test_an_answer_without_the_pages_form_token_writes_nothing(
    statement: PortalUnderTest, route: str
) -> None:
    number = escalate(statement, "tw")
    path = statement.link("xiangshan", "tw")
    statement.csrf(path)  # the browser holds the cookie, but the form lacks the token
    fields = {
        "statement": {"quarter": "2021Q1", "action": "confirm"},
        "notices": {"escalation": str(number), "level": "urge"},
        "extensions": {"task": "XS-JZ-01", "proposed": "2021-06-30", "reason": "需会签"},
    }[route]
    refused = statement.client.post(f"{path}/{route}", data=fields)
    assert refused.status_code == 403
    for model in (Reconciliation, Acknowledgement, Extension):
        assert rows(statement, model) == []
