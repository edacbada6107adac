"""The mail held for the office, on the answers inbox (单位答复 → 邮件待处理): each held or
refused mail, newest first, with its files and why; the office takes a held file as a
unit's submission; anyone who may see the program reads the original mail, checked against
its sha256.

Not on the played demo (tests/board_fixtures.py caches it for every test process): a board
of its own, on the example programs in a fresh database (SQLite, and PostgreSQL where
configured) and a data home of its own, with the liaisons of 团县委 (tw) and 县委组织部
(zzb) given addresses; mail is put in as a collection run does, through
``replies.take_mail``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.collect import replies
from pilot_tracker.collect.mailbox import Fetched, MailPull
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, validate_program
from pilot_tracker.models import Mail, MailPart, Notification, Submission
from pilot_tracker.settings import PROJECT_TEMPLATES, Settings
from pilot_tracker.web.app import create_app

from .board_fixtures import (
    CHEAP,
    NOW,
    SECRET,
    BoardUnderTest,
    add_accounts,
    csrf_of,
)
from .conftest import EXAMPLES, load_examples
from .mail_fixtures import filled, template

INBOX = "/p/xiangshan/inbox"
TASK = "XS-JZ-01"  # 团县委's
TW = "tw@xs.example.gov.cn"
ZZB = "zzb@xs.example.gov.cn"
RECEIVED = NOW - timedelta(hours=1)  # 09:00 in Shanghai
AS_OF = date(2021, 4, 8)
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xiangshan() -> ProgramSpec:
    """The example xiangshan, its tw and zzb liaisons with an address each."""
    document = yaml.safe_load((EXAMPLES / "xiangshan.yaml").read_text(encoding="utf-8"))
    for unit in document["units"]:
        address = {"tw": TW, "zzb": ZZB}.get(unit["code"])
        if address:
            unit["contacts"][0]["email"] = address
    return validate_program(document, "xiangshan.yaml")


@pytest.fixture
def board(tmp_path: Path, engine: sa.Engine) -> Iterator[BoardUnderTest]:
    """The board on the example programs, with its own data home and accounts."""
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=xiangshan(),
            source_name="xiangshan.yaml",
            source_sha256="",
            now=NOW - timedelta(days=90),
        )
        load_examples(session, "yinzhou")
        add_accounts(session)
    settings = Settings(
        home=tmp_path / "data",
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key=SECRET,
        templates=PROJECT_TEMPLATES,
    )
    clock = [NOW]
    app = create_app(settings, engine=engine, clock=lambda: clock[0], passwords=CHEAP)
    with TestClient(app, base_url="http://127.0.0.1:8000") as anonymous:
        board = BoardUnderTest(
            engine=engine, settings=settings, app=app, anonymous=anonymous, clock=clock
        )
        try:
            yield board
        finally:
            board.close()


# --- mail, as the office's mailbox gives it ---------------------------------------------------


def workbook(unit: str = "tw", percent: Any = 40) -> bytes:
    """The unit's submission workbook (its hidden metadata names it), its tasks filled in."""
    return filled(
        template(xiangshan(), unit, date(2021, 4, 1)),
        percent=percent,
        progress="已召开专题会议",
        reported_on=date(2021, 4, 7),
    )


def csv(percent: str = "40") -> bytes:
    return f"任务编号,进展状态,完成进度,填报日期\n{TASK},推进中,{percent},2021-04-07\n".encode()


def message(
    sender: str, files: list[tuple[str, bytes]], *, number: int, subject: str = "回复：进展提醒"
) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"联络员 <{sender}>"
    mail["To"] = "office@xs.example.gov.cn"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(RECEIVED - timedelta(minutes=5))
    mail["Message-ID"] = f"<reply-{number}@xs.example.gov.cn>"
    mail.set_content("填报表见附件，请查收。")
    for name, data in files:
        kind = XLSX_TYPE if name.endswith(".xlsx") else CSV_TYPE
        maintype, subtype = kind.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


def fetched(raw: bytes, number: int, *, size: int | None = None) -> Fetched:
    return Fetched(
        uid=number,
        raw=raw,
        size=size or len(raw),
        oversized=size is not None,
        message_id=f"reply-{number}@xs.example.gov.cn",
    )


def take(board: BoardUnderTest, program: str, *items: Fetched) -> replies.MailTaken:
    """What a collection run does with a pull of the office's mailbox."""
    return replies.take_mail(
        engine=board.engine,
        program=program,
        pull=MailPull(uidvalidity=1, fetched=list(items), known=[], more=False),
        as_of=AS_OF,
        now=RECEIVED,
        home=board.settings.home,
        templates=board.app.state.portal.messages,
    )


SUBJECT = '<script>alert("主题")</script>进展'
STRANGE_NAME = '<img src=x onerror="alert(1)">进展.csv'
OTHER_UNITS = "这是团县委的填报表，却由县委组织部的邮箱（zzb@xs.example.gov.cn）发送"
UNKNOWN = "无法确定报送单位：发件地址stranger@example.com不是任何成员单位登记的地址"


class Held:
    """The held mail put in: ``mail[name]`` its id, ``part[name]`` its held file's id, and
    ``raw[name]`` the bytes received."""

    def __init__(self, board: BoardUnderTest) -> None:
        self.raw = {
            "other": message(ZZB, [("团县委填报表.xlsx", workbook("tw"))], number=1),
            "unknown": message(
                "stranger@example.com", [(STRANGE_NAME, csv())], number=2, subject=SUBJECT
            ),
            "big": message(TW, [("团县委填报表.xlsx", workbook("tw"))], number=3)[:2048],
            "fine": message(TW, [("团县委.csv", csv("50"))], number=4),
        }
        taken = take(
            board,
            "xiangshan",
            fetched(self.raw["other"], 1),
            fetched(self.raw["unknown"], 2),
            fetched(self.raw["big"], 3, size=50 * 1024 * 1024),
            fetched(self.raw["fine"], 4),
        )
        assert [outcome.status for outcome in taken.mail] == ["held", "held", "refused", "taken"]
        self.mail = {
            name: outcome.mail_id for name, outcome in zip(self.raw, taken.mail, strict=True)
        }
        self.part = {
            name: outcome.files[0].part_id
            for name, outcome in zip(self.raw, taken.mail, strict=True)
            if outcome.files
        }
        other = message("stranger@example.com", [("进展.csv", csv())], number=9)
        (elsewhere,) = take(board, "yinzhou", fetched(other, 9)).mail
        assert elsewhere.status == "held"
        self.mail["yinzhou"] = elsewhere.mail_id
        self.part["yinzhou"] = elsewhere.files[0].part_id


@pytest.fixture
def held(board: BoardUnderTest) -> Held:
    return Held(board)


def release(browser: TestClient, part: int | str, unit: str, program: str = "xiangshan") -> Any:
    """The release form sent from the inbox as the browser has it (its token with it)."""
    token = csrf_of(browser.get(f"/p/{program}/inbox").text)
    return browser.post(f"/p/{program}/mail/{part}/release", data={"csrf": token, "unit": unit})


def section(page: str) -> str:
    """The 邮件待处理 section of the inbox."""
    start = page.index('<section class="card" id="mail">')
    return page[start : page.index("</section>", start)]


def item(page: str, mail: int) -> str:
    """One mail of the section."""
    text = section(page)
    start = text.index(f'id="mail-{mail}"')
    end = text.find('<li class="mail ', start)
    return text[start : end if end >= 0 else len(text)]


def part_of(board: BoardUnderTest, part: int) -> MailPart:
    with Session(board.engine) as session:
        row = session.get(MailPart, part)
        assert row is not None
        return row


def mail_submissions(board: BoardUnderTest) -> list[Submission]:
    with Session(board.engine) as session:
        return list(
            session.exec(
                select(Submission).where(Submission.source == "mail").order_by(col(Submission.id))
            ).all()
        )


def fingerprint(board: BoardUnderTest) -> str:
    """Every row the release writes to, hashed: to show nothing was written."""
    digest = hashlib.sha256()
    with board.engine.connect() as connection:
        for table in ("mail", "mailpart", "submission", "status_report", "notification"):
            for row in connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1")):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


# --- what the inbox shows ---------------------------------------------------------------------


def test_the_inbox_shows_each_held_or_refused_mail_newest_first_with_why(
    board: BoardUnderTest, held: Held
) -> None:
    page = board.client("office-xs").get(INBOX)
    assert page.status_code == 200
    text = section(page.text)
    assert "<h2>邮件待处理</h2>" in text
    assert '<a href="#mail" class="count held-mail">邮件待处理 <b>3</b></a>' in page.text
    at = [text.index(f'id="mail-{held.mail[name]}"') for name in ("big", "unknown", "other")]
    assert at == sorted(at)  # newest first
    assert f'id="mail-{held.mail["fine"]}"' not in text  # taken: nothing for the office
    assert f'id="mail-{held.mail["yinzhou"]}"' not in page.text  # another program's

    other = item(page.text, held.mail["other"])
    assert "2021-04-08 09:00收到 · 发件人：zzb@xs.example.gov.cn（县委组织部登记的地址）" in other
    assert "回复：进展提醒" in other and "待专班处理" in other
    assert f"原因：{OTHER_UNITS}" in other
    assert "《团县委填报表.xlsx》" in other
    assert f"待处理原因：{OTHER_UNITS}" in other
    assert '文件所指单位（待核实）：团县委 <span class="code">tw</span>' in other
    part = held.part["other"]
    assert f'action="/p/xiangshan/mail/{part}/release"' in other
    assert '<option value="tw" selected>团县委（tw）</option>' in other  # the one it claims
    assert other.count(" selected") == 1
    assert '<button type="submit">作为该单位报送导入</button>' in other
    assert f'href="/p/xiangshan/mail/{held.mail["other"]}/original">下载原始邮件</a>' in other
    assert "仅存档前 1 MB" not in other

    unknown = item(page.text, held.mail["unknown"])
    assert "发件人：stranger@example.com ·" in unknown
    assert f"待处理原因：{UNKNOWN}" in unknown
    assert "文件所指单位" not in unknown
    assert '<option value="" selected>请选择单位</option>' in unknown  # none is claimed
    assert '<option value="zzb">县委组织部（zzb）</option>' in unknown

    big = item(page.text, held.mail["big"])
    assert '<b class="mail-status refused">已拒收</b>' in big
    assert "原因：邮件过大（约 50 MB，超过 40 MB），未读取" in big
    assert f'href="/p/xiangshan/mail/{held.mail["big"]}/original">下载原始邮件</a>' in big
    assert "（邮件过大，仅存档前 1 MB）" in big
    assert "<form" not in big  # no file to take


def test_html_in_a_subject_or_a_file_name_is_shown_escaped(
    board: BoardUnderTest, held: Held
) -> None:
    page = board.client("office-xs").get(INBOX).text
    unknown = item(page, held.mail["unknown"])
    assert "&lt;script&gt;alert(&#34;主题&#34;)&lt;/script&gt;进展" in unknown
    assert "《&lt;img src=x onerror=&#34;alert(1)&#34;&gt;进展.csv》" in unknown
    assert "<script>" not in page and "<img" not in page


def test_without_held_mail_the_section_says_so(board: BoardUnderTest) -> None:
    page = board.client("office-xs").get(INBOX).text
    assert "邮件待处理 <b>0</b>" in page
    assert "暂无待处理的邮件" in section(page)


def test_a_leader_sees_the_held_mail_and_no_form_and_posts_nothing(
    board: BoardUnderTest, held: Held
) -> None:
    leader = board.client("leader-xs")
    page = leader.get(INBOX)
    assert page.status_code == 200
    text = section(page.text)
    assert OTHER_UNITS in text and UNKNOWN in text and "下载原始邮件" in text
    assert "<form" not in text and "<select" not in text and "作为该单位报送导入" not in text
    assert leader.get(f"/p/xiangshan/mail/{held.mail['other']}/original").status_code == 200
    before = fingerprint(board)
    token = csrf_of(page.text)  # the logout form's: a leader has no other
    refused = leader.post(
        f"/p/xiangshan/mail/{held.part['other']}/release", data={"csrf": token, "unit": "tw"}
    )
    assert refused.status_code == 403
    assert "领导账户只能查看，不能提交或修改" in refused.text
    assert fingerprint(board) == before


# --- the office takes a held file as a unit's submission ------------------------------------


def test_the_office_takes_a_held_file_as_the_unit_it_names(
    board: BoardUnderTest, held: Held
) -> None:
    browser = board.client("office-xs")
    part = held.part["other"]
    answer = release(browser, part, "tw")
    assert answer.status_code == 200
    # Post/redirect/get: back to the inbox, which says what was done once.
    assert [(step.status_code, step.headers["location"]) for step in answer.history] == [
        (303, INBOX)
    ]
    # Each of tw's tasks; XS-JZ-01 had come in by mail from tw's own address already.
    said = "已将《团县委填报表.xlsx》作为团县委的报送导入（新增19条，更新1条）。"
    assert said in answer.text
    assert said not in browser.get(INBOX).text
    # The mail has nothing left for the office: off the section, off the count.
    assert f'id="mail-{held.mail["other"]}"' not in section(answer.text)
    assert "邮件待处理 <b>2</b>" in answer.text

    row = part_of(board, part)
    assert (row.outcome, row.released_by) == ("submitted", "office-xs")
    (submission,) = mail_submissions(board)[1:]  # [0]: the mail from tw's own address
    assert row.submission_id == submission.id
    assert (submission.filename, submission.status) == ("团县委填报表.xlsx", "imported")
    # The unit's task history shows the report, come by mail, with the original to download.
    history = browser.get(f"/p/xiangshan/tasks/{TASK}").text
    assert "来源：专班邮箱" in history and "团县委填报表.xlsx" in history
    assert f'href="/p/xiangshan/submissions/{submission.id}"' in history
    original = browser.get(f"/p/xiangshan/submissions/{submission.id}")
    assert original.status_code == 200
    assert hashlib.sha256(original.content).hexdigest() == row.sha256  # the file received


def test_a_file_of_no_claimed_unit_is_taken_as_the_unit_chosen_and_a_rejection_told(
    board: BoardUnderTest,
) -> None:
    raw = message("stranger@example.com", [("进展.csv", csv("约一半"))], number=5)
    (outcome,) = take(board, "xiangshan", fetched(raw, 5)).mail
    part = outcome.files[0].part_id
    assert part is not None
    answer = release(board.client("city"), part, "tw")
    assert answer.status_code == 200
    assert (
        "已将《进展.csv》作为团县委的报送导入，但有1处未能导入；已通知该单位联络员修改后重新报送。"
        in answer.text
    )
    assert part_of(board, part).released_by == "city"
    with Session(board.engine) as session:
        told = session.exec(
            select(Notification).where(Notification.target == "unit:tw role:liaison")
        ).all()
    assert any("约一半" in message.body for message in told)


def test_a_file_already_taken_is_refused_with_a_message_at_its_line(
    board: BoardUnderTest, held: Held
) -> None:
    part = held.part["other"]
    assert release(board.client("office-xs"), part, "tw").status_code == 200
    before = fingerprint(board)
    again = release(board.client("city"), part, "zzb")
    assert again.status_code == 400
    says = "《团县委填报表.xlsx》已作为团县委的报送导入（办理人：office-xs），无需重复导入"
    assert f"未能办理：{says}" in again.text
    # Its mail has nothing left for the office: the page shows it no more.
    assert f'id="mail-{held.mail["other"]}"' not in section(again.text)
    assert fingerprint(board) == before
    assert len(mail_submissions(board)) == 2


@pytest.mark.parametrize(
    ("unit", "says"),
    [
        ("", "请选择该文件所属的单位。"),
        ("nobody", "“nobody”不是本试点的成员单位，请从列表中选择该文件所属的单位。"),
        ("tqw", "“tqw”不是本试点的成员单位"),  # yinzhou's
    ],
)
def test_a_unit_not_of_the_program_is_refused_at_the_form_and_nothing_written(
    board: BoardUnderTest, held: Held, unit: str, says: str
) -> None:
    before = fingerprint(board)
    part = held.part["unknown"]
    answer = release(board.client("office-xs"), part, unit)
    assert answer.status_code == 400
    assert "未能办理：" + says in answer.text
    form = section(answer.text)[section(answer.text).index(f'id="mail-file-{part}"') :]
    assert f'id="mail-file-{part}-unit-error">{says}' in form
    assert 'class="invalid"' in form.split("</form>")[0]
    assert fingerprint(board) == before
    assert part_of(board, part).outcome == "held"


def test_a_held_file_whose_archive_copy_differs_is_refused_not_taken(
    board: BoardUnderTest, held: Held
) -> None:
    row = part_of(board, held.part["unknown"])
    (board.settings.home / row.archive_path).write_bytes(csv("100"))
    before = fingerprint(board)
    answer = release(board.client("office-xs"), row.id, "tw")  # type: ignore[arg-type]
    assert answer.status_code == 400
    assert (
        "该文件的存档副本无法读取，或与收到时不一致（校验值 sha256 不符），未能导入" in answer.text
    )
    assert fingerprint(board) == before


# --- the original mail ------------------------------------------------------------------------


def test_the_original_mail_downloads_as_received(board: BoardUnderTest, held: Held) -> None:
    browser = board.client("office-xs")
    for name in ("other", "big"):
        number = held.mail[name]
        answer = browser.get(f"/p/xiangshan/mail/{number}/original")
        assert answer.status_code == 200, name
        assert answer.content == held.raw[name]  # the head only of the mail refused by its size
        assert answer.headers["content-type"] == "message/rfc822"
        disposition = answer.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert f"filename*=utf-8''%E9%82%AE%E4%BB%B6-{number}.eml" in disposition  # 邮件-<id>
        assert f'filename="mail-{number}.eml"' in disposition
        assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("other", ["yinzhou", "99999", "abc", "-1", "1e3", "１", "9" * 40])
def test_a_mail_or_file_of_another_program_is_the_same_404_as_one_not_on_record(
    board: BoardUnderTest, held: Held, other: str
) -> None:
    browser = board.client("city")  # sees both programs
    number = held.mail["yinzhou"] if other == "yinzhou" else other
    missing = browser.get("/p/xiangshan/mail/99999/original")
    answer = browser.get(f"/p/xiangshan/mail/{number}/original")
    assert answer.status_code == missing.status_code == 404
    assert answer.text == missing.text
    assert "没有这项内容，或它不属于本试点" in answer.text
    before = fingerprint(board)
    part = held.part["yinzhou"] if other == "yinzhou" else other
    refused = release(browser, part, "tw")
    assert refused.status_code == 404
    assert "没有这项内容，或它不属于本试点" in refused.text
    assert fingerprint(board) == before
    # Its own program's board has it.
    assert browser.get(f"/p/yinzhou/mail/{held.mail['yinzhou']}/original").status_code == 200


def test_an_archive_copy_that_differs_is_refused_and_never_sent(
    board: BoardUnderTest, held: Held
) -> None:
    with Session(board.engine) as session:
        mail = session.get(Mail, held.mail["other"])
        assert mail is not None
    path = board.settings.home / mail.archive_path
    path.write_bytes(held.raw["other"] + b"\r\nX-Changed: by hand\r\n")
    browser = board.client("office-xs")
    answer = browser.get(f"/p/xiangshan/mail/{mail.id}/original")
    assert answer.status_code == 409
    assert "这封邮件的存档副本与收到时不一致（校验值 sha256 不符）" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "attachment" not in answer.headers.get("content-disposition", "")
    path.unlink()
    gone = browser.get(f"/p/xiangshan/mail/{mail.id}/original")
    assert gone.status_code == 404
    assert "这封邮件的存档副本已不在服务器上" in gone.text
    # The inbox itself still shows the mail, and its link.
    assert f'id="mail-{mail.id}"' in browser.get(INBOX).text


def test_two_offices_releasing_at_once_take_the_file_once(
    board: BoardUnderTest, held: Held
) -> None:
    """The first release holds the file until it is committed; the second then finds it
    taken and says by whom (on SQLite and on PostgreSQL)."""
    from pilot_tracker.board import inbox
    from pilot_tracker.errors import BoardError
    from pilot_tracker.models import Program

    from .at_once import while_held

    with Session(board.engine) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        session.expunge(program)
    outcomes: dict[str, Any] = {}

    def take_as(who: str, unit: str, wait: Any = lambda: None) -> None:
        try:
            with db.session(board.engine) as session:
                outcomes[who] = inbox.release_file(
                    session=session,
                    program=program,
                    part_id=str(held.part["other"]),
                    unit_code=unit,
                    by=who,
                    as_of=AS_OF,
                    now=NOW,
                    home=board.settings.home,
                    templates=board.app.state.portal.messages,
                )
                wait()
        except BoardError as refused:
            outcomes[who] = refused

    while_held(lambda wait: take_as("office-a", "tw", wait), lambda: take_as("office-b", "zzb"))
    assert isinstance(outcomes["office-a"], inbox.Done)
    assert isinstance(outcomes["office-b"], BoardError)
    assert "已作为团县委的报送导入（办理人：office-a）" in str(outcomes["office-b"])
    assert part_of(board, held.part["other"]).released_by == "office-a"
    assert len(mail_submissions(board)) == 2
