"""The board's report library: every report of a program with its files, their sha256 and
the messages that sent it; downloads found by the report's id and the file's key only."""

from __future__ import annotations

import hashlib
import html
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlmodel import Session, select

from pilot_tracker.models import Document, Notification, Program, Unit

from .board_fixtures import NOW, BoardUnderTest


def _program(session: Session, code: str) -> Program:
    return session.exec(select(Program).where(Program.code == code)).one()


def _quarterly(board: BoardUnderTest, code: str = "xiangshan") -> Document:
    with Session(board.engine) as session:
        program = _program(session, code)
        row = session.exec(
            select(Document).where(Document.program_id == program.id, Document.period == "2021Q1")
        ).one()
        session.expunge(row)
        return row


def _text(page: str) -> str:
    """A page's text as a person reads it: tags out, spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _card(page: str, report_id: int) -> str:
    found = re.search(
        rf'<section class="card report[^"]*" id="report-{report_id}">(.*?)</section>', page, re.S
    )
    assert found, f"no card of report {report_id}"
    return found.group(1)


def test_the_library_lists_the_quarterly_with_its_formats_and_statements(
    board: BoardUnderTest,
) -> None:
    row = _quarterly(board)
    page = board.client("office-xs").get("/p/xiangshan/reports")
    assert page.status_code == 200
    assert 'aria-current="page">报告库' in page.text
    card = _card(page.text, row.id)
    text = _text(card)
    assert "季度对账（2021年第1季度）" in text and "最新" in text
    assert "生成于 2021-04-08 09:00" in text  # 01:00 UTC, in Shanghai
    assert set(row.formats) == {"html", "pdf", "xlsx", "docx", "statements_docx"}
    assert "Word 文档" in text and "各单位对账单（Word）" in text
    for key in row.formats:
        assert f'href="/p/xiangshan/reports/{row.id}/{key}"' in card
        assert f'<code class="sha">{row.sha256[key]}</code>' in card
    statements = [key for key in row.paths if key.startswith("statement:")]
    assert len(statements) >= 20
    with Session(board.engine) as session:
        names = dict(
            session.exec(
                select(Unit.code, Unit.name).where(Unit.program_id == row.program_id)
            ).all()
        )
    assert f"各单位对账单（{len(statements)}份）" in text
    for key in statements:
        assert f'href="/p/xiangshan/reports/{row.id}/{key}"' in card
        assert f'<code class="sha">{row.sha256[key]}</code>' in card
        assert names[key.removeprefix("statement:")] in text
    assert '<details class="statements">' in card


def test_the_announcements_and_the_statements_messages_show_with_their_status(
    board: BoardUnderTest,
) -> None:
    row = _quarterly(board)
    with Session(board.engine) as session:
        messages = session.exec(
            select(Notification).where(Notification.dedup_key.startswith("report:xiangshan:"))
        ).all()
        assert {m.target for m in messages} == {"role:office", "role:leader"}
        assert all(m.status == "sent" for m in messages)
        statements = session.exec(
            select(Notification).where(
                Notification.dedup_key.startswith("statement:xiangshan:2021Q1:")
            )
        ).all()
    browser = board.client("office-xs")
    text = _text(_card(browser.get("/p/xiangshan/reports").text, row.id))
    assert "专班 已发送 2021-04-08 09:00" in text
    assert "领导 已发送 2021-04-08 09:00" in text
    assert text.count("已发送 2021-04-08 09:00") == 2 + len(statements)

    with Session(board.engine) as session:
        for message in session.exec(
            select(Notification).where(Notification.dedup_key.startswith("report:xiangshan:"))
        ):
            if message.target == "role:leader":
                message.status, message.sent_at, message.attempts = "failed", None, 3
            else:
                message.status, message.sent_at = "pending", None
            session.add(message)
        first = statements[0]
        unit = first.dedup_key.rsplit(":", 1)[1]
        failed = session.exec(select(Notification).where(Notification.id == first.id)).one()
        failed.status, failed.sent_at, failed.attempts = "failed", None, 5
        session.add(failed)
        name = session.exec(
            select(Unit.name).where(Unit.program_id == row.program_id, Unit.code == unit)
        ).one()
        session.commit()
    text = _text(_card(browser.get("/p/xiangshan/reports").text, row.id))
    assert "专班 待发送" in text
    assert "领导 发送失败 已尝试3次" in text
    assert re.search(rf"{re.escape(name)} 下载 [0-9a-f]{{64}} 发送失败 已尝试5次", text)


DOCX_MEDIA = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize("key", ["html", "pdf", "xlsx", "docx", "statements_docx", "statement"])
def test_a_download_is_the_stored_file_as_an_attachment(board: BoardUnderTest, key: str) -> None:
    row = _quarterly(board)
    if key == "statement":
        key = next(k for k in row.paths if k.startswith("statement:"))
    answer = board.client("office-xs").get(f"/p/xiangshan/reports/{row.id}/{key}")
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == row.sha256[key]
    media = {
        "html": "text/html; charset=utf-8",
        "pdf": "application/pdf",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx": DOCX_MEDIA,
        "statements_docx": DOCX_MEDIA,
    }
    assert answer.headers["content-type"] == media.get(key, "application/pdf")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    name = unquote(disposition.split("filename*=utf-8''")[1])
    if key.startswith("statement:"):
        assert name.startswith("象山县试点-2021年第1季度-对账单-") and name.endswith(".pdf")
    elif key == "statements_docx":
        assert name == "象山县试点-2021年第1季度-对账单-各单位.docx"
    else:
        assert name == f"象山县试点-2021年第1季度-季度对账.{key}"


def test_the_leader_reads_the_library_and_downloads(board: BoardUnderTest) -> None:
    row = _quarterly(board)
    browser = board.client("leader-xs")
    page = browser.get("/p/xiangshan/reports")
    assert page.status_code == 200
    assert "季度对账（2021年第1季度）" in page.text
    assert 'method="post" action="/p/' not in page.text  # nothing to post
    answer = browser.get(f"/p/xiangshan/reports/{row.id}/pdf")
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == row.sha256["pdf"]


def test_a_report_of_another_program_is_not_found(board: BoardUnderTest) -> None:
    theirs = _quarterly(board, "yinzhou")
    browser = board.client("office-xs")
    answer = browser.get(f"/p/xiangshan/reports/{theirs.id}/pdf")
    assert answer.status_code == 404
    assert "没有找到这份报告" in answer.text
    unknown = browser.get("/p/xiangshan/reports/99999/pdf")
    assert unknown.status_code == 404
    assert _text(unknown.text) == _text(answer.text)  # the same page as for no report at all
    # ... nor under its own program, for an account of another one
    assert browser.get(f"/p/yinzhou/reports/{theirs.id}/pdf").status_code == 404
    assert browser.get("/p/yinzhou/reports").status_code == 404
    assert board.client("office-yz").get("/p/xiangshan/reports").status_code == 404


@pytest.mark.parametrize(
    "tail",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "statement:..%2F..%2Fx",
        "statement:..",
        "statement:tw%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "statement:",
        "statement:nosuch",
        "nope",
        "HTML",
        "odt",  # not a format of any report
        "DOCX",
        "%00",
        "pdf%00.html",
    ],
)
def test_a_key_not_on_record_is_not_found(board: BoardUnderTest, tail: str) -> None:
    row = _quarterly(board)
    answer = board.client("office-xs").get(f"/p/xiangshan/reports/{row.id}/{tail}")
    assert answer.status_code == 404
    assert "root:" not in answer.text and "Traceback" not in answer.text


@pytest.mark.parametrize("report_id", ["abc", "1.0", "-1", "0", "1e3", "１", "9" * 40, "%20"])
def test_an_id_that_is_no_report_is_not_found(board: BoardUnderTest, report_id: str) -> None:
    answer = board.client("office-xs").get(f"/p/xiangshan/reports/{report_id}/pdf")
    assert answer.status_code == 404


def test_a_stored_path_outside_the_home_or_missing_is_not_found(
    board: BoardUnderTest, tmp_path: Path
) -> None:
    """A record's path that climbs out of the data home, names a file of another kind, or a
    file no longer there: 404 (never 500), and the library says the file is gone."""
    row = _quarterly(board)
    home = board.settings.home
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"%PDF-1.4 not a report of ours")
    statement = next(k for k in row.paths if k.startswith("statement:"))
    with Session(board.engine) as session:
        stored = session.get(Document, row.id)
        stored.paths = {
            **stored.paths,
            "pdf": "../../../../../../../../etc/passwd",
            "html": "/etc/passwd",
            "xlsx": str(tmp_path / "gone.xlsx"),
            statement: os.path.relpath(outside, home),
        }
        session.add(stored)
        session.commit()
    browser = board.client("office-xs")
    for key in ("pdf", "html", "xlsx", statement):
        answer = browser.get(f"/p/xiangshan/reports/{row.id}/{key}")
        assert answer.status_code == 404, key
        assert "没有找到这份报告文件" in answer.text
        assert "root:" not in answer.text
    page = browser.get("/p/xiangshan/reports")
    assert page.status_code == 200
    assert _text(page.text).count("文件已不在服务器上") == 4


def test_a_report_written_twice_shows_both_the_newest_first(board: BoardUnderTest) -> None:
    row = _quarterly(board)
    with Session(board.engine) as session:
        again = Document(
            program_id=row.program_id,
            kind=row.kind,
            period=row.period,
            formats=row.formats,
            paths=row.paths,
            sha256=row.sha256,
            generated_at=NOW + timedelta(hours=3),
        )
        session.add(again)
        session.commit()
        newer = again.id
    page = board.client("office-xs").get("/p/xiangshan/reports").text
    assert page.index(f'id="report-{newer}"') < page.index(f'id="report-{row.id}"')
    newest, older = _text(_card(page, newer)), _text(_card(page, row.id))
    assert "最新" in newest and "生成于 2021-04-08 13:00" in newest
    assert "最新" not in older and "旧版" in older
    # The messages went out with the first; the second was not sent again.
    assert "专班 已发送" in older and "已发送" not in newest
    assert "本次重新生成未再发送" in newest
    assert page.count('class="tag latest"') == 1


def test_a_program_without_reports_says_so(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        for row in session.exec(select(Document)).all():
            session.delete(row)
        session.commit()
    page = board.client("office-xs").get("/p/xiangshan/reports")
    assert page.status_code == 200
    assert "本试点尚未生成报告" in page.text


def test_an_anonymous_visitor_is_sent_to_sign_in(board: BoardUnderTest) -> None:
    row = _quarterly(board)
    for path in ("/p/xiangshan/reports", f"/p/xiangshan/reports/{row.id}/pdf"):
        answer = board.anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?back=")


def test_an_annual_blue_book_is_listed_as_its_year_and_downloads(
    board: BoardUnderTest, tmp_path: Path
) -> None:
    """The blue book's record (kind annual, period 2021), its files outside the data home
    (kept absolute): first in the library, as 2021年度, and on the city view."""
    files = {}
    for key in ("html", "pdf", "docx"):
        files[key] = tmp_path / f"xiangshan-2021-青年发展蓝皮书.{key}"
        files[key].write_bytes(f"blue book {key}".encode())
    row = _quarterly(board)
    with Session(board.engine) as session:
        annual = Document(
            program_id=row.program_id,
            kind="annual",
            period="2021",
            formats=sorted(files),
            paths={key: str(path) for key, path in files.items()},
            sha256={key: hashlib.sha256(p.read_bytes()).hexdigest() for key, p in files.items()},
            generated_at=NOW + timedelta(hours=1),
        )
        session.add(annual)
        session.commit()
        annual_id = annual.id
    browser = board.client("city")
    page = browser.get("/p/xiangshan/reports")
    assert page.status_code == 200
    # The year ends after the quarter: the book comes first, and both are the latest of theirs.
    assert page.text.index(f'id="report-{annual_id}"') < page.text.index(f'id="report-{row.id}"')
    card = _text(_card(page.text, annual_id))
    assert card.startswith("青年发展蓝皮书（2021年度） 最新 青年发展蓝皮书 · 2021年度 · 生成于")
    assert "网页（HTML） 下载" in card and "Word 文档 下载" in card
    assert "生成时未发送给专班和领导" in card
    assert "最新" in _text(_card(page.text, row.id))
    answer = browser.get(f"/p/xiangshan/reports/{annual_id}/docx")
    assert answer.status_code == 200 and answer.content == b"blue book docx"
    name = unquote(answer.headers["content-disposition"].split("filename*=utf-8''")[1])
    assert name == "象山县试点-2021年度-青年发展蓝皮书.docx"
    home = browser.get("/").text
    assert "青年发展蓝皮书（2021年度）" in home
