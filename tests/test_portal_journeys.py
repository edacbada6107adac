"""A unit's whole job through its personal link, in a real browser (Debian's Chromium,
tests/browser.py), each as its liaison does it: open the link found in a real reminder
(delivered over SMTP, read back from its .eml), report with the online form (one bad
value, corrected), upload the filled workbook, confirm or dispute the quarterly statement,
acknowledge (签收) a notice, ask for an extension, and report at a phone's width; and after
each, what the office sees: the commands it runs (`progress --json`, `reconcile list`,
`extension approve`, ...), through typer's runner on the portal's database.

The portal is served once for the module (tests/conftest.py ``portal_server``); each test
works with units of its own, so none depends on another or on their order. The reminder's
test has a portal of its own: its ladder run and its delivery touch every unit.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session, select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.cli import app
from pilot_tracker.demo.playthrough import apprise_config
from pilot_tracker.ledger.program_file import read_program_file
from pilot_tracker.models import (
    Acknowledgement,
    Program,
    Reconciliation,
    Submission,
    Unit,
)
from pilot_tracker.settings import PROJECT_TEMPLATES
from pilot_tracker.supervise import flags

from . import portal_fixtures
from .browser import PHONE, Console, png_size
from .conftest import EXAMPLES
from .portal_fixtures import NOW, SECRET, ServedPortal

TODAY = "2021-04-20"  # the portal's clock (NOW), in Shanghai
AT = "2021-04-20 09:00"  # the same moment, as the pages show it
PERCENT = "完成进度（%）"
STATUS = "进展状态"
SUBMIT = "提交本期进展"
runner = CliRunner()


# --- the office: its commands on the portal's database --------------------------------------


@dataclass
class Office:
    """The office's side of the portal under test: ``pilot-tracker`` on the same database
    and data home, with the portal's address and key (so the links it prints open it)."""

    portal: ServedPortal
    environment: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, code: int = 0) -> Any:
        environment = {
            "PILOT_TRACKER_HOME": str(self.portal.settings.home),
            "PILOT_TRACKER_DATABASE_URL": self.portal.engine.url.render_as_string(
                hide_password=False
            ),
            "PILOT_TRACKER_PUBLIC_URL": self.portal.url,
            "PILOT_TRACKER_SECRET_KEY": SECRET,
            **self.environment,
        }
        result = runner.invoke(app, list(args), env=environment)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def progress(self, program: str, unit: str) -> dict[str, dict[str, Any]]:
        """What `pilot-tracker progress --program P --unit U --json` prints, by task."""
        rows = self.json("progress", "--program", program, "--unit", unit, "--as-of", TODAY)
        return {row["task"]: row for row in rows}

    def rows(self, model: Any, program: str, unit: str) -> list[Any]:
        """The unit's rows of a table that has a unit_id."""
        with Session(self.portal.engine) as session:
            found = session.exec(
                select(model)
                .join(Unit, model.unit_id == Unit.id)
                .join(Program, Unit.program_id == Program.id)
                .where(Program.code == program, Unit.code == unit)
                .order_by(model.id)
            ).all()
            session.expunge_all()
            return list(found)


@pytest.fixture(scope="module")
def office(portal_server: ServedPortal) -> Office:
    return Office(portal_server)


@pytest.fixture(scope="module")
def statements(office: Office) -> dict[str, Any]:
    """Xiangshan's 2021Q1 reconciliation written by the office, once for the module (the
    PDFs take a few seconds): `report quarterly --no-send --json`."""
    return office.json(
        "report", "quarterly", "--program", "xiangshan", "--quarter", "2021Q1", "--no-send"
    )


# --- what a liaison does -------------------------------------------------------------------


def submitting(page: Page, button: Locator, *, tap: bool = False) -> Any:
    """Press ``button`` of a form (``tap`` it on a phone) and wait for the page it posts
    to; the answer to the POST."""
    with page.expect_response(lambda answer: answer.request.method == "POST") as posted:
        if tap:
            button.tap()
        else:
            button.click()
    page.wait_for_load_state()
    return posted.value


def entry(page: Page, code: str) -> Locator:
    """The online form's part for one task or indicator, by the code in its legend."""
    return page.locator("fieldset.entry").filter(has=page.locator("legend", has_text=code))


def expect_error_at(page: Page, field: Locator, says: str) -> None:
    """The refusal is at its field: the field marked invalid and described by the error
    (what a screen reader reads with it), the error shown right under it, in red."""
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile(re.escape(says)))
    described = field.get_attribute("aria-describedby")
    error = page.locator(f"#{described}")
    expect(error).to_be_visible()
    expect(error).to_contain_text(says)
    expect(error).to_have_css("color", "rgb(180, 35, 24)")
    box, under = field.bounding_box(), error.bounding_box()
    assert box and under, "the field or its error is not laid out"
    gap = under["y"] - (box["y"] + box["height"])
    assert 0 <= gap <= 24, f"the error is {gap:.0f} px from its field"
    assert under["x"] < box["x"] + box["width"] and box["x"] < under["x"] + under["width"]


def phone_shot(page: Page, path: Path) -> None:
    """The whole page as a phone shows it, as a PNG: no wider than the screen's pixels."""
    page.screenshot(path=path, full_page=True)
    assert png_size(path)[0] == PHONE["viewport"]["width"] * PHONE["device_scale_factor"]


# --- 1. the online form ----------------------------------------------------------------------


def test_a_liaison_reports_with_one_bad_value_corrects_it_and_the_office_sees_it(
    portal_server: ServedPortal, office: Office, page: Page
) -> None:
    answer = page.goto(portal_server.link("yinzhou", "tqw"))
    assert answer is not None and answer.status == 200
    expect(page.locator("#report h2")).to_contain_text("网上填报")
    first, second = entry(page, "YZ-JZ-01"), entry(page, "YZ-JZ-02")
    first.get_by_label(STATUS).select_option("已完成")
    first.get_by_label(PERCENT).fill("100")
    first.get_by_label("佐证材料").fill("鄞青〔2021〕3号")
    second.get_by_label(STATUS).select_option("推进中")
    second.get_by_label(PERCENT).fill("120")
    second.get_by_label("进展情况").fill("召开联席会议一次")
    entry(page, "YZ-ZB-07").get_by_label(re.compile("^当前值")).fill("24.5")

    refused = submitting(page, page.get_by_role("button", name=SUBMIT))
    assert refused.status == 422
    expect(page.locator("#outcome h2")).to_have_text("未保存：有 1 处需要修改")
    percent = entry(page, "YZ-JZ-02").get_by_label(PERCENT)
    says = "完成进度“120”超出范围，应在 0-100 之间"
    expect_error_at(page, percent, says)
    # Everything else is kept as typed; only the bad value is to correct.
    expect(percent).to_have_value("120")
    expect(entry(page, "YZ-JZ-01").get_by_label("佐证材料")).to_have_value("鄞青〔2021〕3号")
    expect(entry(page, "YZ-ZB-07").get_by_label(re.compile("^当前值"))).to_have_value("24.5")
    # The summary at the top leads to the field.
    page.locator("#outcome").get_by_role("link", name="YZ-JZ-02 完成进度（%）").click()
    expect(percent).to_be_focused()
    assert office.rows(Submission, "yinzhou", "tqw") == []

    percent.fill("50")
    taken = submitting(page, page.get_by_role("button", name=SUBMIT))
    assert taken.status == 200
    outcome = page.locator("#outcome")
    expect(outcome.locator("h2")).to_have_text("报送成功")
    expect(outcome).to_contain_text("网上填报：新增 3 条，更新 0 条")
    expect(outcome).to_contain_text("未能导入 0 条")
    expect(page.locator("[aria-invalid=true]")).to_have_count(0)
    expect(page.locator("#task-YZ-JZ-02")).to_contain_text("上次报送 50%（推进中")
    expect(page.locator("#indicator-YZ-ZB-07")).to_contain_text("24.5")

    shown = office.progress("yinzhou", "tqw")
    assert (shown["YZ-JZ-01"]["status"], shown["YZ-JZ-01"]["percent"]) == ("completed", 100.0)
    assert (shown["YZ-JZ-02"]["status"], shown["YZ-JZ-02"]["percent"]) == ("in_progress", 50.0)
    assert shown["YZ-JZ-02"]["reported_at"] == TODAY and "YZ-JZ-03" not in shown
    [submission] = office.rows(Submission, "yinzhou", "tqw")
    assert (submission.source, submission.status) == ("form", "imported")
    assert shown["YZ-JZ-01"]["submission"] == submission.sha256


# --- 2. the upload ---------------------------------------------------------------------------


def test_a_liaison_uploads_the_filled_workbook_and_sees_the_import_summary(
    portal_server: ServedPortal, office: Office, page: Page, tmp_path: Path
) -> None:
    # The unit's workbook as the office writes it, filled in as in Excel.
    workbook = tmp_path / "区人力社保局填报表.xlsx"
    office.run("template", "--program", "yinzhou", "--unit", "rsj", "-o", str(workbook))
    book = openpyxl.load_workbook(workbook)
    typed = {
        "YZ-ZD-02": {"进展状态": "推进中", "完成进度": 40, "进展情况": "已开工建设"},
        "YZ-FZ-05": {"进展状态": "推进中", "完成进度": "30%"},
        "YZ-ZB-01": {"当前值": 1.8},
    }
    for sheet in (book["任务进展"], book["指标数据"]):
        headers = [cell.value for cell in sheet[2]]
        for line in sheet.iter_rows(min_row=3):
            for header, value in typed.get(str(line[0].value), {}).items():
                line[headers.index(header)].value = value
    book.save(workbook)

    page.goto(portal_server.link("yinzhou", "rsj"))
    upload = page.locator("#upload")
    upload.get_by_label("填报表文件（.xlsx）").set_input_files(workbook)
    answer = submitting(page, upload.get_by_role("button", name="上传并导入"))
    assert answer.status == 200
    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("role", "status")
    expect(outcome.locator("h2")).to_have_text("报送成功")
    expect(outcome).to_contain_text(f"上传的填报表《{workbook.name}》：新增 3 条，更新 0 条")
    expect(outcome).to_contain_text("未能导入 0 条")
    expect(page.locator("#task-YZ-FZ-05")).to_contain_text("上次报送 30%")

    shown = office.progress("yinzhou", "rsj")
    assert {task: row["percent"] for task, row in shown.items()} == {
        "YZ-ZD-02": 40.0,
        "YZ-FZ-05": 30.0,
    }
    [submission] = office.rows(Submission, "yinzhou", "rsj")
    assert (submission.source, submission.filename) == ("upload", workbook.name)
    assert submission.sha256 == shown["YZ-ZD-02"]["submission"]


# --- 3. the quarterly statement --------------------------------------------------------------


@pytest.mark.slow  # the statements' PDFs, written first, take about 4 s
def test_one_unit_confirms_its_statement_another_disputes_and_the_office_sees_both(
    portal_server: ServedPortal,
    office: Office,
    statements: dict[str, Any],
    page: Page,
) -> None:
    page.goto(portal_server.link("xiangshan", "tw"))
    statement = page.locator("#statement")
    expect(statement).to_contain_text("2021年第1季度任务对账单 · 确认状态：未确认")
    # The unit's own statement, as the office wrote it.
    with page.expect_download() as downloading:
        statement.get_by_role("link", name="下载本单位对账单（PDF）").click()
    download = downloading.value
    assert download.suggested_filename == "xiangshan-2021Q1-对账单-tw.pdf"
    mine = Path(download.path()).read_bytes()
    assert mine.startswith(b"%PDF")
    assert mine == Path(statements["statements"]["tw"]).read_bytes()
    assert mine != Path(statements["statements"]["zzb"]).read_bytes()

    confirmed = submitting(page, statement.get_by_role("button", name="确认", exact=True))
    assert confirmed.status == 200
    expect(page.locator("#flash")).to_have_text(f"已确认2021年第1季度对账单（{AT}）。 查看")
    expect(statement.locator("b.answer")).to_have_text("已确认")
    expect(statement).to_contain_text(f"（{AT}，单位在线提交）")

    page.goto(portal_server.link("xiangshan", "zzb"))
    statement = page.locator("#statement")
    disputed = submitting(page, statement.get_by_role("button", name="提出异议"))
    assert disputed.status == 400
    reason = statement.get_by_label(re.compile("^异议内容"))
    expect_error_at(page, reason, "请写明异议的内容")
    expect(page.locator("#flash")).to_have_attribute("role", "alert")
    assert office.rows(Reconciliation, "xiangshan", "zzb") == []

    why = "XS-JZ-07 已于3月印发实施方案，请核实"
    reason.fill(why)
    disputed = submitting(page, statement.get_by_role("button", name="提出异议"))
    assert disputed.status == 200
    expect(page.locator("#flash")).to_contain_text("已提交对2021年第1季度对账单的异议")
    expect(statement.locator("b.answer")).to_have_text("有异议")
    expect(statement).to_contain_text(f"异议内容：{why}")

    listed = {
        item["unit"]: item
        for item in office.json(
            "reconcile", "list", "--program", "xiangshan", "--quarter", "2021Q1"
        )
    }
    assert {k: listed["tw"][k] for k in ("status", "via", "note")} == {
        "status": "confirmed",
        "via": "portal",
        "note": "",
    }
    assert {k: listed["zzb"][k] for k in ("status", "via", "note")} == {
        "status": "disputed",
        "via": "portal",
        "note": why,
    }
    assert (
        listed["tw"]["recorded_at"] == listed["zzb"]["recorded_at"] == "2021-04-20T01:00:00+00:00"
    )
    table = office.run("reconcile", "list", "--program", "xiangshan", "--quarter", "2021Q1")
    assert "xiangshan 2021Q1: 2 of 30 units answered" in table.stdout


# --- 4. a notice acknowledged -----------------------------------------------------------------


def test_a_notice_from_the_ladder_is_acknowledged_once(
    portal_server: ServedPortal, office: Office, page: Page, console: Console
) -> None:
    # The office's daily run: 县发改局 (fgj) has not reported XS-JZ-02, due 31 March.
    flagged = office.json("flag", "--program", "xiangshan", "--as-of", TODAY)
    [opened] = [item for item in flagged["escalations"] if item["unit"] == "fgj"]
    assert (opened["level"], opened["status"]) == ("reminder", "open")

    link = portal_server.link("xiangshan", "fgj")
    page.goto(link)
    # The same page in a second tab, opened before the notice is acknowledged.
    later = console.watch(page.context.new_page())
    later.goto(link)

    notices = page.locator("#notices")
    expect(notices.locator("h2")).to_have_text("通知（1条，1条待签收）")
    notice = notices.locator(f"#notice-{opened['id']}-reminder")
    expect(notice).to_contain_text("提醒：【进度提醒】")
    expect(notice).to_contain_text(f"{TODAY}发出 · 跟进中")
    taken = submitting(page, notice.get_by_role("button", name="签收"))
    assert taken.status == 200
    expect(page.locator("#flash")).to_have_text(f"已签收“提醒”通知（{AT}）。 查看")
    notice = page.locator(f"#notice-{opened['id']}-reminder")
    expect(notice.locator(".acknowledged")).to_have_text(f"已签收（{AT}）")
    expect(notice.get_by_role("button", name="签收")).to_have_count(0)
    expect(page.locator("#notices h2")).to_have_text("通知（1条）")

    with Session(portal_server.engine) as session:
        [row] = session.exec(
            select(Acknowledgement).where(Acknowledgement.escalation_id == opened["id"])
        ).all()
        assert row.level == "reminder" and row.acknowledged_at is not None
        assert row.acknowledged_at.replace(tzinfo=UTC) == NOW  # SQLite keeps it in UTC

    # The second tab's button, pressed later: already done, nothing more written.
    portal_server.clock[0] = NOW.replace(hour=3)
    try:
        again = submitting(later, later.locator("#notices").get_by_role("button", name="签收"))
    finally:
        portal_server.clock[0] = NOW
    assert again.status == 200
    expect(later.locator("#flash")).to_contain_text(f"该“提醒”通知已于{AT}签收，无需重复签收。")
    with Session(portal_server.engine) as session:
        assert (
            len(
                session.exec(
                    select(Acknowledgement).where(Acknowledgement.escalation_id == opened["id"])
                ).all()
            )
            == 1
        )


# --- 5. an extension request ------------------------------------------------------------------


def test_a_unit_asks_for_an_extension_and_sees_both_dates_once_approved(
    portal_server: ServedPortal, office: Office, page: Page
) -> None:
    link = portal_server.link("xiangshan", "czj")
    page.goto(link)
    section = page.locator("#extensions")
    section.get_by_label("任务（本单位牵头）").select_option("XS-JZ-09")
    section.get_by_label("申请延期至").fill("2021-09-30")
    section.get_by_label("延期理由").fill("资金拨付流程尚需县政府常务会议审议")
    asked = submitting(page, section.get_by_role("button", name="提交延期申请"))
    assert asked.status == 200
    expect(page.locator("#flash")).to_contain_text(
        "已提交任务XS-JZ-09的延期申请（原定2021-06-30，申请延期至2021-09-30），请等待专班审批。"
    )
    request = page.locator("#extensions li.task")
    expect(request).to_have_count(1)
    expect(request).to_contain_text(f"原定 2021-06-30 · 申请延期至 2021-09-30 · {TODAY}提交")
    expect(request.locator("b.extension")).to_have_text("待审批")

    pending = [
        item
        for item in office.json(
            "extension", "list", "--program", "xiangshan", "--status", "pending"
        )
        if item["unit"] == "czj"
    ]
    assert [(item["task"], item["proposed_due"]) for item in pending] == [
        ("XS-JZ-09", "2021-09-30")
    ]
    approved = office.run(
        "extension", "approve", str(pending[0]["id"]), "--note", "同意", "--on", TODAY
    )
    assert "approved: due 2021-09-30 (was 2021-06-30) from 2021-04-20" in approved.stdout

    page.goto(link)
    expect(page.locator("#task-XS-JZ-09")).to_contain_text(
        "原定完成 2021-06-30 · 延期至 2021-09-30"
    )
    request = page.locator("#extensions li.task")
    expect(request.locator("b.extension")).to_have_text("已批准")
    expect(request).to_contain_text("专班意见：同意")


# --- 6. at a phone's width -------------------------------------------------------------------


def test_the_report_works_on_a_phone(
    portal_server: ServedPortal, office: Office, phone_page: Page, tmp_path: Path
) -> None:
    page, screen = phone_page, PHONE["viewport"]["width"]
    page.goto(portal_server.link("yinzhou", "jyj"))
    task = entry(page, "YZ-FZ-01")
    task.get_by_label(STATUS).select_option("推进中")
    task.get_by_label(PERCENT).fill("约一半")
    entry(page, "YZ-ZB-06").get_by_label(re.compile("^当前值")).fill("86.2")
    submit = page.get_by_role("button", name=SUBMIT)
    refused = submitting(page, submit, tap=True)
    assert refused.status == 422

    percent = entry(page, "YZ-FZ-01").get_by_label(PERCENT)
    expect_error_at(page, percent, "无法识别的完成进度“约一半”")
    # With the error shown, nothing is wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= screen, f"the page is {width} px wide on a {screen} px screen"
    # Every field of the form is within the screen's width, reached by scrolling down.
    fields = "#report-form :is(input, select, textarea, button):not([type=hidden])"
    outside = page.evaluate(
        """([fields, screen]) => [...document.querySelectorAll(fields)].filter((field) => {
              const box = field.getBoundingClientRect();
              return !(box.width > 0 && box.left >= 0 && box.right <= screen); })
            .map((field) => field.id || field.name || field.tagName)""",
        [fields, screen],
    )
    assert outside == []
    submit.scroll_into_view_if_needed()
    expect(submit).to_be_in_viewport()
    phone_shot(page, tmp_path / "phone-refused.png")

    percent.tap()
    percent.fill("50")
    taken = submitting(page, page.get_by_role("button", name=SUBMIT), tap=True)
    assert taken.status == 200
    expect(page.locator("#outcome h2")).to_have_text("报送成功")
    expect(page.locator("#outcome")).to_be_in_viewport()
    # The page as it is now, the unit's reading in the indicators' table, fits too.
    expect(page.locator("#indicator-YZ-ZB-06")).to_contain_text("86.2")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= screen, f"the page is {width} px wide on a {screen} px screen"
    phone_shot(page, tmp_path / "phone-taken.png")
    assert office.progress("yinzhou", "jyj")["YZ-FZ-01"]["percent"] == 50.0


# --- 7. from a real reminder, received over SMTP --------------------------------------------


class Mailroom:
    """An SMTP server's mail drop on loopback (aiosmtpd): every message it is given kept
    as an .eml file, as it came over the wire."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        count = len(list(self.folder.glob("*.eml")))
        (self.folder / f"{count + 1:04d}.eml").write_bytes(envelope.original_content)
        return "250 OK"

    def mails(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.folder.glob("*.eml"))
        ]


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[Mailroom, int]]:
    """A real SMTP server on 127.0.0.1 for one test: its mail drop and its port."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd's Controller needs a port of its own
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailroom = Mailroom(tmp_path / "mail")
    controller = Controller(mailroom, hostname="127.0.0.1", port=port, ready_timeout=15)
    controller.start()
    try:
        yield mailroom, port
    finally:
        controller.stop()


@pytest.fixture
def own_portal(tmp_path: Path, portal_examples: Path) -> Iterator[ServedPortal]:
    """The examples' portal for one test: a ladder run and a delivery of its own, on a
    database no other test has flagged."""
    yield from portal_fixtures.portal_server(tmp_path / "portal", portal_examples)


def test_a_liaison_opens_the_link_in_a_real_reminder_email_and_reports(
    own_portal: ServedPortal,
    smtp_server: tuple[Mailroom, int],
    page: Page,
    tmp_path: Path,
) -> None:
    portal, (mailroom, port) = own_portal, smtp_server
    # The day's supervise run, as the scheduled flow runs it: the ladder reminds every
    # lagging unit, each message carrying the unit's link to this portal.
    with db.session(portal.engine) as session:
        _, changes = flags.flag_and_escalate(
            session=session,
            program="yinzhou",
            as_of=date(2021, 4, 20),
            now=portal.clock[0],
            templates=outbox.Templates(PROJECT_TEMPLATES, links=portal.links),
            home=portal.settings.home,
        )
        moved = [(change.unit, change.change, change.escalation.level) for change in changes]
    assert ("tqw", "opened", "reminder") in moved
    # Delivered by the office's command through Apprise: every liaison, head and the
    # office has an address on the SMTP server (as the demo's Apprise file gives them).
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    config = apprise_config([spec], port, tmp_path / "apprise.yml")
    office = Office(portal, {"PILOT_TRACKER_APPRISE_CONFIG": str(config)})
    sent = office.json("alerts", "send")
    assert sent["sent"] >= 1 and (sent["failed"], sent["pending"]) == (0, 0)

    # The liaison's mail, read back from the .eml the server received.
    [mail] = [
        mail for mail in mailroom.mails() if mail["To"] == "yinzhou-tqw-liaison@demo.example.gov.cn"
    ]
    assert mail["Subject"].startswith("【进度提醒】") and "团区委" in mail["Subject"]
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    body = part.get_content()
    [link] = re.findall(re.escape(f"{portal.url}/u/") + r"[A-Za-z0-9_.\-]+", body)
    assert "2021年7月19日前有效" in body  # issued on the portal's day, for 90 days
    [workbook] = [each.get_filename() for each in mail.iter_attachments()]
    assert workbook and workbook.endswith(".xlsx")

    answer = page.goto(link)
    assert answer is not None and answer.status == 200
    expect(page.locator("h1")).to_have_text("团区委")
    expect(page.locator(".intro")).to_contain_text("本链接有效期至 2021-07-19")
    expect(page.locator("#notices")).to_contain_text(mail["Subject"])

    task = entry(page, "YZ-JZ-03")
    task.get_by_label(STATUS).select_option("推进中")
    task.get_by_label(PERCENT).fill("约一半")
    task.get_by_label("进展情况").fill("规划初稿已完成，正在征求意见")
    entry(page, "YZ-ZB-11").get_by_label(re.compile("^当前值")).fill("82")
    refused = submitting(page, page.get_by_role("button", name=SUBMIT))
    assert refused.status == 422
    percent = entry(page, "YZ-JZ-03").get_by_label(PERCENT)
    expect_error_at(page, percent, "无法识别的完成进度“约一半”，请填写 0-100 的数字，如 80")
    assert office.progress("yinzhou", "tqw") == {}

    percent.fill("55")
    taken = submitting(page, page.get_by_role("button", name=SUBMIT))
    assert taken.status == 200
    expect(page.locator("#outcome h2")).to_have_text("报送成功")
    expect(page.locator("#indicator-YZ-ZB-11")).to_contain_text("82")

    shown = office.progress("yinzhou", "tqw")
    assert {task: (row["status"], row["percent"]) for task, row in shown.items()} == {
        "YZ-JZ-03": ("in_progress", 55.0)
    }
    [submission] = office.rows(Submission, "yinzhou", "tqw")
    assert submission.source == "form" and shown["YZ-JZ-03"]["submission"] == submission.sha256
