"""The unit reports from its page: the online form and the upload of its workbook, over
HTTP as its liaison's browser sends them; and the form's domain (fields → payload →
rejections at their fields) without HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from pilot_tracker import db
from pilot_tracker.collect.intake import RejectionLine, SubmissionSummary
from pilot_tracker.collect.submission_workbook import build_submission_template
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import read_program_file
from pilot_tracker.models import (
    IndicatorReading,
    Notification,
    Program,
    StatusReport,
    Submission,
    Unit,
)
from pilot_tracker.portal.report_form import (
    ReportForm,
    TaskEntry,
    read_posted,
    submit_form,
)
from pilot_tracker.portal.unit_page import unit_page
from pilot_tracker.supervise.progress import progress
from pilot_tracker.web.security import UPLOAD_BYTES

from .browser import run_async
from .conftest import EXAMPLES
from .portal_fixtures import PortalUnderTest

TODAY = date(2021, 4, 20)  # the portal fixture's day, in Shanghai
XSS = "<script>alert(1)</script>"
DDE = "=cmd|' /C calc'!A0"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPEC = read_program_file(EXAMPLES / "yinzhou.yaml")
# 团区委 (tqw) leads YZ-JZ-01..03 and owns two indicators; another unit's task and indicator:
OTHER_TASK = next(task for task in SPEC.tasks if task.lead_unit == "rsj")
OTHER_INDICATOR = next(i for i in SPEC.indicators if i.owner == "rsj")


class FormFields(HTMLParser):
    """What a browser sends for one form of a page: each field's name and current value."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self.textarea: list[str] | None = None
        self.select: list[Any] | None = None  # name, first value, selected value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.inside = found.get("id") == self.form_id
        if not self.inside:
            return
        name = found.get("name") or ""
        if tag == "input" and name and found.get("type") != "file":
            self.fields[name] = found.get("value") or ""
        elif tag == "textarea":
            self.textarea = [name, ""]
        elif tag == "select":
            self.select = [name, None, None]
        elif tag == "option" and self.select is not None:
            if self.select[1] is None:
                self.select[1] = found.get("value")
            if "selected" in found:
                self.select[2] = found.get("value")

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea is not None:
            self.fields[self.textarea[0]] = self.textarea[1]
            self.textarea = None
        elif tag == "select" and self.select is not None:
            name, first, selected = self.select
            self.fields[name] = selected if selected is not None else first
            self.select = None


def fields_of(html: str, form_id: str = "report-form") -> dict[str, str]:
    parser = FormFields(form_id)
    parser.feed(html)
    assert parser.fields, f"the page has no form {form_id}"
    return parser.fields


def report(portal: PortalUnderTest, path: str, **typed: str) -> httpx.Response:
    """Open the page, change what the liaison types (``t1_percent="60"`` for t1-percent),
    and submit the form with everything else as the page shows it."""
    page = portal.client.get(path)
    assert page.status_code == 200
    fields = fields_of(page.text)
    for name, value in typed.items():
        key = name.replace("_", "-", 1)
        assert key in fields, f"no field {key} on the page"
        fields[key] = value
    return portal.client.post(f"{path}/report", data=fields)


def upload(
    portal: PortalUnderTest, path: str, data: bytes, name: str = "团区委填报表.xlsx"
) -> httpx.Response:
    csrf = portal.csrf(path)
    return portal.client.post(
        f"{path}/upload", data={"csrf": csrf}, files={"file": (name, data, XLSX)}
    )


def counts(portal: PortalUnderTest) -> dict[str, int]:
    with db.session(portal.engine) as session:
        return {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (Submission, StatusReport, IndicatorReading, Notification)
        }


NOTHING = {"Submission": 0, "StatusReport": 0, "IndicatorReading": 0, "Notification": 0}


def archived(portal: PortalUnderTest) -> list[Path]:
    folder = portal.settings.home / "archive"
    return sorted(path for path in folder.rglob("*") if path.is_file())


def tqw_progress(portal: PortalUnderTest) -> dict[str, dict[str, Any]]:
    """What ``pilot-tracker progress --program yinzhou --unit tqw --json`` prints, by task."""
    with db.session(portal.engine) as session:
        rows = progress(session=session, program="yinzhou", as_of=TODAY, unit="tqw")
    return {row["task"]: row for row in rows}


def submissions(portal: PortalUnderTest) -> list[Submission]:
    with db.session(portal.engine) as session:
        found = session.exec(select(Submission).order_by(Submission.id)).all()
        session.expunge_all()
        return list(found)


# --- the online form ----------------------------------------------------------------------


def test_the_form_shows_the_units_tasks_and_indicators_each_field_labelled(
    portal: PortalUnderTest,
) -> None:
    page = portal.client.get(portal.link("yinzhou", "tqw"))
    fields = fields_of(page.text)
    assert [fields[f"t{n}-task"] for n in (1, 2, 3)] == ["YZ-JZ-01", "YZ-JZ-02", "YZ-JZ-03"]
    assert "t4-task" not in fields  # co-led tasks are the lead unit's to report
    assert {fields["i1-indicator"], fields["i2-indicator"]} == {"YZ-ZB-07", "YZ-ZB-11"}
    assert fields["csrf"] and 'action="/u/' in page.text
    for name in fields:
        if name != "csrf" and not name.endswith(("-task", "-indicator")):
            assert f'<label for="{name}">' in page.text, name
    for label in ("未启动", "推进中", "已完成", "滞后", "暂停"):
        assert f'<option value="{label}">{label}</option>' in page.text
    assert f"文件不超过 {UPLOAD_BYTES // 1024 // 1024} MB" in page.text
    assert '<input type="file" id="upload-file" name="file"' in page.text


def test_a_good_form_is_a_submission_from_the_form_and_progress_shows_it(
    portal: PortalUnderTest,
) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = report(
        portal,
        path,
        t1_status="已完成",
        t1_percent="100",
        t1_evidence="鄞青〔2021〕3号",
        t2_status="推进中",
        t2_percent="35%",
        t2_progress="召开联席会议一次\r\n完成一季度对账",
        t2_problems="部分单位报送不及时",
        t2_next_steps="二季度开展半年度评估准备",
        i1_value="24.5",
    )
    assert answer.status_code == 200, answer.text
    assert "报送成功" in answer.text and "新增 3 条" in answer.text
    shown = tqw_progress(portal)
    assert (shown["YZ-JZ-01"]["status"], shown["YZ-JZ-01"]["percent"]) == ("completed", 100.0)
    assert (shown["YZ-JZ-02"]["status"], shown["YZ-JZ-02"]["percent"]) == ("in_progress", 35.0)
    assert shown["YZ-JZ-02"]["reported_at"] == "2021-04-20" and "YZ-JZ-03" not in shown
    [submission] = submissions(portal)
    assert submission.source == "form" and submission.status == "imported"
    assert (submission.imported, submission.ignored, submission.rejected) == (3, 2, 0)
    assert shown["YZ-JZ-02"]["submission"] == submission.sha256
    with db.session(portal.engine) as session:
        stored = session.exec(select(StatusReport).where(StatusReport.percent == 35)).one()
        assert stored.progress == "召开联席会议一次\n完成一季度对账"
        assert stored.problems == "部分单位报送不及时"
        assert stored.next_steps == "二季度开展半年度评估准备"
        assert session.exec(select(IndicatorReading.value)).all() == [24.5]
    # Archived by its sha256: the rows a workbook would hold, under its headers.
    [copy] = archived(portal)
    assert copy.name == submission.sha256
    document = json.loads(copy.read_text(encoding="utf-8"))
    assert document["meta"] == {"program": "yinzhou", "unit": "tqw", "form_version": "1"}
    assert (
        document["tasks"][1]["完成进度"] == "35%" and document["tasks"][1]["任务编号"] == "YZ-JZ-02"
    )
    assert document["indicators"][0]["当前值"] == "24.5"
    # The page now shows, and the form is prefilled with, what was just reported.
    fields = fields_of(answer.text)
    assert fields["t2-percent"] == "35" and fields["t2-status"] == "推进中"
    assert fields["t2-progress"] == "召开联席会议一次\n完成一季度对账"
    assert "上次报送 <b>35%</b>" in answer.text


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("120", "完成进度“120”超出范围，应在 0-100 之间"),
        ("约一半", "无法识别的完成进度“约一半”，请填写 0-100 的数字，如 80"),
    ],
)
def test_a_bad_percent_comes_back_at_its_field_and_nothing_is_stored(
    portal: PortalUnderTest, typed: str, reason: str
) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = report(
        portal,
        path,
        t1_status="推进中",
        t1_percent="60",
        t1_progress="已成立领导小组",
        t2_status="推进中",
        t2_percent=typed,
        t2_progress="联席会议已召开",
        i1_value="25",
    )
    assert answer.status_code == 422
    assert "未保存：有 1 处需要修改" in answer.text
    assert f'<p class="field-error" id="t2-percent-error">{reason}</p>' in answer.text
    assert f'href="#t2-percent">YZ-JZ-02 完成进度（%）</a>：{reason}' in answer.text
    field = answer.text.split('id="t2-percent"', 1)[1].split(">", 1)[0]
    assert 'aria-invalid="true"' in field and 'aria-describedby="t2-percent-error"' in field
    # Every value as typed, the bad one too.
    fields = fields_of(answer.text)
    assert fields["t2-percent"] == typed and fields["t1-percent"] == "60"
    assert fields["t1-progress"] == "已成立领导小组" and fields["i1-value"] == "25"
    # Nothing stored: no submission, no report, no notice, no archived copy.
    assert counts(portal) == NOTHING and archived(portal) == []
    # Corrected, it is stored once, with everything else as it was typed.
    fields["t2-percent"] = "50"
    corrected = portal.client.post(f"{path}/report", data=fields)
    assert corrected.status_code == 200 and "报送成功" in corrected.text
    assert counts(portal) == {**NOTHING, "Submission": 1, "StatusReport": 2, "IndicatorReading": 1}
    assert tqw_progress(portal)["YZ-JZ-02"]["percent"] == 50.0


def test_a_value_intake_refuses_in_its_combination_is_named_at_its_field(
    portal: PortalUnderTest,
) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = report(portal, path, t1_status="已完成", t1_percent="80", t2_progress="只写了进展")
    assert answer.status_code == 422
    assert (
        "进展状态为“已完成”，完成进度应为 100，而不是 80"
        in answer.text.split('id="t1-percent-error"')[1].split("</p>")[0]
    )
    assert "请选择进展状态并填写完成进度" in answer.text.split('id="t2-status-error"')[1]
    assert counts(portal) == NOTHING


def test_script_and_formula_text_is_stored_as_typed_and_shown_escaped(
    portal: PortalUnderTest,
) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = report(
        portal, path, t1_status="推进中", t1_percent="40", t1_progress=XSS, t1_problems=DDE
    )
    assert answer.status_code == 200, answer.text
    with db.session(portal.engine) as session:
        stored = session.exec(select(StatusReport)).one()
        assert (stored.progress, stored.problems) == (XSS, DDE)
    assert XSS not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in answer.text
    assert "=cmd|&#39; /C calc&#39;!A0</textarea>" in answer.text
    # Prefilled again, the text goes back exactly as stored.
    assert fields_of(answer.text)["t1-progress"] == XSS


def test_the_same_form_twice_is_one_submission_and_the_second_answer_says_so(
    portal: PortalUnderTest,
) -> None:
    path = portal.link("yinzhou", "tqw")
    first = report(portal, path, t1_status="推进中", t1_percent="30")
    assert first.status_code == 200 and "报送成功" in first.text
    again = portal.client.post(f"{path}/report", data=fields_of(first.text))
    assert again.status_code == 200
    assert "已收到，无需重复提交" in again.text
    assert "与2021-04-20 09:00收到的网上填报完全相同" in again.text
    assert len(submissions(portal)) == 1


def test_a_blank_form_stores_nothing_new_and_says_so(portal: PortalUnderTest) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = report(portal, path)
    assert answer.status_code == 200
    assert "未导入新内容" in answer.text and "忽略 5 条" in answer.text
    [submission] = submissions(portal)  # as intake takes a blank workbook: rows ignored
    assert (submission.imported, submission.ignored, submission.rejected) == (0, 5, 0)
    assert counts(portal)["StatusReport"] == 0


def test_another_units_task_or_indicator_in_the_form_is_refused_as_intake_refuses_it(
    portal: PortalUnderTest,
) -> None:
    path = portal.link("yinzhou", "tqw")
    page = portal.client.get(path)
    fields = fields_of(page.text)
    fields.update({"t1-task": OTHER_TASK.code, "t1-status": "已完成", "t1-percent": "100"})
    fields.update({"i1-indicator": OTHER_INDICATOR.code, "i1-value": "50"})
    fields.update({"t2-status": "推进中", "t2-percent": "20"})
    answer = portal.client.post(f"{path}/report", data=fields)
    assert answer.status_code == 422
    row = answer.text.split('id="t1-task-error">')[1].split("</p>")[0]
    assert row.startswith("该任务不属于本单位（牵头单位：区人力社保局）")
    assert "该指标不由本单位报送" in answer.text.split('id="i1-indicator-error">')[1]
    assert counts(portal) == NOTHING
    with db.session(portal.engine) as session:
        assert session.exec(select(StatusReport)).all() == []


@pytest.mark.parametrize("route", ["report", "upload"])
def test_a_post_without_the_form_token_writes_nothing(portal: PortalUnderTest, route: str) -> None:
    path = portal.link("yinzhou", "tqw")
    portal.client.get(path)  # the cookie, but not the page's token
    files = {"file": ("a.xlsx", b"x", XLSX)} if route == "upload" else None
    answer = portal.client.post(f"{path}/{route}", data={"t1-task": "YZ-JZ-01"}, files=files)
    assert answer.status_code == 403 and "页面已过期" in answer.text
    assert counts(portal) == NOTHING


def test_ten_thousand_fields_are_refused_before_anything_is_stored(
    portal: PortalUnderTest,
) -> None:
    path = portal.link("yinzhou", "tqw")
    fields = {"csrf": portal.csrf(path)}
    fields.update({f"t{n}-percent": "1" for n in range(10_000)})
    answer = portal.client.post(f"{path}/report", data=fields)
    assert answer.status_code == 400 and "请求有误" in answer.text
    assert counts(portal) == NOTHING


# --- the upload --------------------------------------------------------------------------


def filled_workbook(unit: str = "tqw", **rows: dict[str, Any]) -> bytes:
    """The unit's submission workbook (as `pilot-tracker template` writes it), filled in:
    ``rows`` maps a task or indicator code to its values by header."""
    workbook = build_submission_template(SPEC, unit, generated_on=date(2021, 4, 1))
    for sheet in (workbook["任务进展"], workbook["指标数据"]):
        headers = [cell.value for cell in sheet[2]]
        for line in sheet.iter_rows(min_row=3):
            for header, value in rows.get(str(line[0].value), {}).items():
                line[headers.index(header)].value = value
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_uploaded_workbook_is_taken_and_its_summary_shown(portal: PortalUnderTest) -> None:
    path = portal.link("yinzhou", "tqw")
    data = filled_workbook(
        **{
            "YZ-JZ-01": {"进展状态": "已完成", "完成进度": 100, "佐证材料": "鄞青〔2021〕3号"},
            "YZ-JZ-02": {"进展状态": "推进中", "完成进度": 120},
            "YZ-JZ-03": {"进展状态": "推进中", "完成进度": "45%", "进展情况": XSS},
            "YZ-ZB-07": {"当前值": 23},
        }
    )
    answer = upload(portal, path, data, name="C:\\Users\\联络员\\团区委填报表.xlsx")
    assert answer.status_code == 200, answer.text
    assert "部分内容未能导入" in answer.text
    assert "《团区委填报表.xlsx》：新增 3 条，更新 0 条" in answer.text
    assert "未能导入 1 条" in answer.text
    assert (
        "工作表“任务进展”第 4 行“完成进度”列（填写内容：120）：完成进度“120”超出范围，应在 0-100 之间"
        in answer.text
    )
    assert XSS not in answer.text
    shown = tqw_progress(portal)
    assert shown["YZ-JZ-01"]["percent"] == 100.0 and shown["YZ-JZ-03"]["percent"] == 45.0
    [submission] = submissions(portal)
    assert (submission.source, submission.status, submission.filename) == (
        "upload",
        "partial",
        "团区委填报表.xlsx",
    )
    assert archived(portal)[0].read_bytes() == data
    # As for a workbook from the inbox: its liaison is told what was rejected.
    with db.session(portal.engine) as session:
        notice = session.exec(select(Notification)).one()
        assert notice.target == "unit:tqw role:liaison" and "完成进度" in notice.body
    again = upload(portal, path, data)
    assert again.status_code == 200 and "已收到，无需重复提交" in again.text
    assert len(submissions(portal)) == 1


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("照片.xlsx", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "内容不是 Excel 工作簿"),
        ("填报表.xlsx", zip_bomb(), "工作簿压缩比异常，疑似恶意文件，已拒收"),
        ("旧版.xls", bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512, "另存为 .xlsx"),
    ],
    ids=["not-a-workbook", "bomb", "xls"],
)
def test_a_file_intake_refuses_is_recorded_as_rejected_and_the_reason_shown(
    portal: PortalUnderTest, name: str, data: bytes, reason: str
) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = upload(portal, path, data, name=name)
    assert answer.status_code == 422
    assert "<h2>未能导入</h2>" in answer.text and reason in answer.text
    [submission] = submissions(portal)
    assert (submission.source, submission.status, submission.rejected) == ("upload", "rejected", 1)
    assert counts(portal)["StatusReport"] == 0


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("填报表.xlsx", "所选文件《填报表.xlsx》是空文件（0 字节），未导入"),
        ("", "没有选择文件，未导入"),
    ],
    ids=["empty-file", "no-file-chosen"],
)
def test_an_empty_upload_is_refused_at_the_file_field_and_nothing_stored(
    portal: PortalUnderTest, name: str, reason: str
) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = upload(portal, path, b"", name=name)
    assert answer.status_code == 422
    assert "上传未成功" in answer.text
    assert f'<p class="field-error" id="upload-file-error">{reason}' in answer.text
    assert counts(portal) == NOTHING and archived(portal) == []


def test_a_50_mb_upload_is_refused_by_its_declared_length_before_it_is_read(
    portal: PortalUnderTest,
) -> None:
    path = portal.link("yinzhou", "tqw")
    csrf = portal.csrf(path)
    answer = portal.client.post(
        f"{path}/upload",
        data={"csrf": csrf},
        files={"file": ("大文件.xlsx", b"PK\x03\x04" + b"\0" * 1024, XLSX)},
        headers={"content-length": str(50 * 1024 * 1024)},
    )
    assert answer.status_code == 413
    assert "提交的内容过大" in answer.text and "5 MB" in answer.text
    assert counts(portal) == NOTHING and archived(portal) == []


def test_a_50_mb_upload_sent_in_chunks_is_cut_off_at_the_bound(portal: PortalUnderTest) -> None:
    """No Content-Length: the guard counts what arrives and stops reading at the bound
    (the body is generated as it is read, never held whole)."""
    path = portal.link("yinzhou", "tqw")
    csrf = portal.csrf(path)
    sent = [0]

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
            '--b\r\nContent-Disposition: form-data; name="file"; filename="大文件.xlsx"\r\n'
            f"Content-Type: {XLSX}\r\n\r\n"
        ).encode()
        chunk = b"\0" * 65536
        for _ in range(50 * 16):  # 50 MB
            sent[0] += len(chunk)
            yield chunk
        yield b"\r\n--b--\r\n"

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=portal.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            c.cookies.update(portal.client.cookies)
            return await c.post(
                f"{path}/upload",
                content=body(),
                headers={"content-type": "multipart/form-data; boundary=b"},
            )

    answer = run_async(asyncio.wait_for(post(), timeout=60))
    assert answer.status_code == 413 and "提交的内容过大" in answer.text
    assert sent[0] <= UPLOAD_BYTES + 65536
    assert counts(portal) == NOTHING and archived(portal) == []


def test_an_upload_intake_fails_on_is_archived_and_recorded_not_lost(
    portal: PortalUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> Any:
        raise RuntimeError("a bug in intake")

    monkeypatch.setattr("pilot_tracker.portal.report_form.take_payload", broken)
    path = portal.link("yinzhou", "tqw")
    data = filled_workbook(**{"YZ-JZ-01": {"进展状态": "推进中", "完成进度": 10}})
    answer = upload(portal, path, data)
    assert answer.status_code == 500
    assert "系统处理该文件时出错，文件已存档并转交试点工作专班核查" in answer.text
    assert "a bug in intake" not in answer.text and "Traceback" not in answer.text
    [submission] = submissions(portal)
    assert (submission.source, submission.status) == ("upload", "rejected")
    assert archived(portal)[0].read_bytes() == data


@pytest.mark.parametrize("route", ["report", "upload"])
def test_the_address_of_an_answer_opened_again_leads_back_to_the_page(
    portal: PortalUnderTest, route: str
) -> None:
    path = portal.link("yinzhou", "tqw")
    answer = portal.client.get(f"{path}/{route}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == path
    assert counts(portal) == NOTHING


def test_another_units_workbook_is_refused_whole(portal: PortalUnderTest) -> None:
    path = portal.link("yinzhou", "tqw")
    theirs = filled_workbook("rsj", **{OTHER_TASK.code: {"进展状态": "推进中", "完成进度": 10}})
    answer = upload(portal, path, theirs)
    assert answer.status_code == 422
    assert "这是区人力社保局的填报表，不是团区委的" in answer.text
    assert counts(portal)["StatusReport"] == 0


# --- the domain, without HTTP ---------------------------------------------------------------


def test_the_form_is_the_rows_of_a_workbook_in_one_canonical_document() -> None:
    posted = [
        ("csrf", "x" * 64),
        ("t2-task", "T-02"),
        ("t1-task", "T-01"),
        ("t1-percent", "80"),
        ("t1-percent", "90"),  # a field given twice counts once
        ("t1-progress", "第一行\r\n第二行"),
        ("t1-bogus", "ignored"),
        ("i1-indicator", "I-01"),
        ("i1-value", "12.5"),
    ]
    shown = ReportForm(tasks=[TaskEntry(row=1, code="T-01", title="任务一")])
    form = read_posted(posted, shown_form=shown)
    assert [(t.row, t.code, t.title) for t in form.tasks] == [
        (1, "T-01", "任务一"),
        (2, "T-02", ""),
    ]
    assert form.tasks[0].values == {"percent": "80", "progress": "第一行\n第二行"}
    document = form.document(program="p", unit="u", today=TODAY)
    again = read_posted(list(reversed(posted[:-2])) + posted[-2:], shown_form=shown)
    assert again.document(program="p", unit="u", today=TODAY) != document  # 90 counted first
    same = read_posted(posted, shown_form=ReportForm())
    assert same.document(program="p", unit="u", today=TODAY) == document
    rows = json.loads(document)
    assert rows["meta"] == {"form_version": "1", "program": "p", "unit": "u"}
    assert rows["tasks"][0] == {
        "任务编号": "T-01",
        "进展状态": "",
        "完成进度": "80",
        "进展情况": "第一行\n第二行",
        "存在问题": "",
        "下步计划": "",
        "佐证材料": "",
        "填报日期": "2021-04-20",
    }
    assert rows["indicators"] == [{"指标编号": "I-01", "当前值": "12.5", "统计时点": "2021-04-20"}]
    # Another day, other bytes: the same values reported again in a new period are not
    # taken for a duplicate of the last.
    assert form.document(program="p", unit="u", today=date(2021, 5, 20)) != document


def test_each_rejection_lands_at_the_field_it_came_from() -> None:
    form = ReportForm(
        tasks=[TaskEntry(row=1, code="T-01"), TaskEntry(row=2, code="T-02")],
        indicators=read_posted([("i1-indicator", "I-01")], shown_form=ReportForm()).indicators,
    )
    summary = SubmissionSummary("u", "form", "f.json", "0" * 64, "rejected")
    summary.rejections = [
        RejectionLine("tasks", 2, "完成进度", "120", "超出范围"),
        RejectionLine("tasks", 2, "进展状态", "好", "无法识别"),
        RejectionLine("tasks", 1, "任务编号", "X-9", "不属于本单位"),
        RejectionLine("tasks", 1, "填报日期", "2030-01-01", "晚于报送当日"),
        RejectionLine("indicators", 1, "当前值", "abc", "不是数字"),
        RejectionLine("", None, "", "", "这是其他试点的填报表"),
        RejectionLine("tasks", 9, "完成进度", "", "第 9 行"),
    ]
    form.mark(summary)
    assert form.tasks[1].errors == {"percent": "超出范围", "status": "无法识别"}
    assert form.tasks[0].errors == {"task": "不属于本单位；晚于报送当日"}
    assert form.indicators[0].errors == {"value": "不是数字"}
    assert form.errors == ["这是其他试点的填报表", "第 9 行"]
    assert [where for _, where, _ in form.problems()] == [
        "",
        "",
        "T-01 任务编号",
        "T-02 进展状态",
        "T-02 完成进度（%）",
        "I-01 当前值",
    ]
    assert form.problems()[2][0] == "t1" and form.problems()[4][0] == "t2-percent"


def _load_yinzhou(engine: sa.Engine) -> None:
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=SPEC,
            source_name="yinzhou.yaml",
            source_sha256="",
            now=datetime(2021, 1, 1, tzinfo=UTC),
        )


def _submit(
    engine: sa.Engine, home: Path, typed: dict[str, str], hold: Any = None
) -> tuple[Any, ReportForm]:
    """The tqw form as its page shows it, with ``typed`` changed, through ``submit_form``;
    ``hold`` is called before the transaction commits."""
    with db.session(engine) as session:
        program = session.exec(select(Program).where(Program.code == "yinzhou")).one()
        unit = session.exec(
            select(Unit).where(Unit.program_id == program.id, Unit.code == "tqw")
        ).one()
        page = unit_page(session=session, program=program, unit=unit, today=TODAY)
        shown = [(entry.name("task"), entry.code) for entry in page.report.tasks]
        shown += [(entry.name("indicator"), entry.code) for entry in page.report.indicators]
        form = read_posted(shown + list(typed.items()), shown_form=page.report)
        outcome = submit_form(
            session=session,
            program=program,
            unit=unit,
            form=form,
            today=TODAY,
            now=datetime(2021, 4, 20, 1, 0, tzinfo=UTC),
            home=home,
            templates=None,
        )
        if hold is not None:
            hold()
        return outcome, form


def test_a_rejected_form_is_rolled_back_and_a_corrected_one_kept(
    engine: sa.Engine, tmp_path: Path
) -> None:
    _load_yinzhou(engine)
    home = tmp_path / "data"
    outcome, form = _submit(engine, home, {"t1-status": "推进中", "t1-percent": "约一半"})
    assert not outcome.stored and outcome.summary.rejected == 1
    assert form.tasks[0].errors == {
        "percent": "无法识别的完成进度“约一半”，请填写 0-100 的数字，如 80"
    }
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Submission)).one() == 0
    assert [path for path in home.rglob("*") if path.is_file()] == []
    outcome, form = _submit(engine, home, {"t1-status": "推进中", "t1-percent": "50"})
    assert outcome.stored and outcome.summary.imported == 1 and form.problems() == []


def test_the_same_form_posted_twice_at_once_is_one_submission(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A double click: the second request runs while the first has not committed yet."""
    _load_yinzhou(engine)
    typed = {"t1-status": "推进中", "t1-percent": "50"}
    first_taken, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def hold() -> None:
        first_taken.set()
        release.wait(timeout=30)

    def first() -> None:
        results["first"] = _submit(engine, tmp_path, typed, hold)[0]

    def second() -> None:
        first_taken.wait(timeout=30)
        results["second"] = _submit(engine, tmp_path, typed)[0]

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_taken.wait(timeout=30)
    threads[1].join(timeout=1)  # the second is now waiting on the first's transaction
    release.set()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert results["first"].stored
    assert results["second"].duplicate and results["second"].received == "2021-04-20 09:00"
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Submission)).one() == 1
