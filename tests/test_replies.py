"""The units' mail, taken in: whose each file is, what is held for the office, the receipts
that answer each mail in its thread, and that the same mail twice changes nothing.

These tests give ``replies.take_mail`` what the mailbox would have fetched; the mailbox
itself, a real IMAP server, is tests/test_mailbox.py's and tests/test_mail_in.py's.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.collect import replies
from pilot_tracker.collect.mailbox import Fetched, MailPull
from pilot_tracker.errors import MailError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, validate_program
from pilot_tracker.models import Mail, MailPart, Notification, StatusReport, Submission

from .conftest import ROOT
from .mail_fixtures import filled, template
from .test_program_file import SMALL

NOW = datetime(2021, 3, 24, 2, 0, tzinfo=UTC)
AS_OF = date(2021, 3, 24)
TEMPLATES = outbox.Templates(ROOT / "templates")
LIAISON_TW = "tuanwei@demo.gov.cn"
LIAISON_JYJ = "jiaoyu@demo.gov.cn"
OFFICE_SERVER = "mx.demo.gov.cn"


def program_spec(**mailbox: Any) -> ProgramSpec:
    document = copy.deepcopy(SMALL)
    document["units"][0]["contacts"][0]["email"] = LIAISON_TW
    document["units"][1]["contacts"] = [{"role": "liaison", "email": LIAISON_JYJ}]
    document["units"][2]["mail_from"] = ["Office@RSJ.demo.gov.cn"]
    document["mailbox"] = {
        "host": "127.0.0.1",
        "security": "none",
        "user": "office",
        "password_env": "PT_MAIL_PASSWORD",
        **mailbox,
    }
    return validate_program(document, "demo.yaml")


@pytest.fixture
def loaded(engine: sa.Engine) -> sa.Engine:
    load(engine, program_spec())
    return engine


def load(engine: sa.Engine, spec: ProgramSpec) -> None:
    with db.session(engine) as session:
        store.load_program(
            session=session, spec=spec, source_name="demo.yaml", source_sha256="", now=NOW
        )


def workbook(unit: str = "tw", percent: Any = 40) -> bytes:
    """The unit's submission workbook (hidden metadata included), its tasks filled in."""
    return filled(
        template(program_spec(), unit, date(2021, 1, 1)),
        percent=percent,
        progress="已起草制度文件",
        reported_on=date(2021, 3, 22),
    )


CSV = "任务编号,进展状态,完成进度,填报日期\nT-01,推进中,40,2021-03-22\n".encode()
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def message(
    sender: str = LIAISON_TW,
    files: list[tuple[str, bytes]] | None = None,
    *,
    message_id: str = "reply-1@demo.gov.cn",
    subject: str = "回复：【进展提醒】演示县试点",
    headers: dict[str, str] | None = None,
) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"团县委联络员 <{sender}>"
    mail["To"] = "office@demo.gov.cn"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime(2021, 3, 23, 9, 30, tzinfo=UTC))
    if message_id:
        mail["Message-ID"] = f"<{message_id}>"
    mail["In-Reply-To"] = "<reminder-7@pilot-tracker>"
    mail["References"] = "<reminder-7@pilot-tracker>"
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content("填报表见附件，请查收。")
    for name, data in [("团县委填报表.xlsx", workbook())] if files is None else files:
        kind = XLSX_TYPE if name.endswith(".xlsx") else "text/csv"
        maintype, subtype = kind.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


def fetched(raw: bytes, uid: int = 1, message_id: str = "reply-1@demo.gov.cn") -> Fetched:
    return Fetched(uid=uid, raw=raw, size=len(raw), oversized=False, message_id=message_id)


def take(engine: sa.Engine, home: Path, *items: Fetched, known: list[int] | None = None):
    return replies.take_mail(
        engine=engine,
        program="demo",
        pull=MailPull(uidvalidity=7, fetched=list(items), known=known or [], more=False),
        as_of=AS_OF,
        now=NOW,
        home=home,
        templates=TEMPLATES,
    )


def outbox_items(engine: sa.Engine) -> list[Notification]:
    with db.session(engine) as session:
        items = session.exec(select(Notification).order_by(col(Notification.id))).all()
        session.expunge_all()
    return list(items)


def mails(engine: sa.Engine) -> list[tuple[Mail, list[MailPart]]]:
    with db.session(engine) as session:
        found = [
            (
                mail,
                list(
                    session.exec(
                        select(MailPart)
                        .where(MailPart.mail_id == mail.id)
                        .order_by(col(MailPart.position))
                    )
                ),
            )
            for mail in session.exec(select(Mail).order_by(col(Mail.id)))
        ]
        session.expunge_all()
    return found


def test_a_liaisons_reply_is_imported_and_answered_in_its_thread(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    raw = message()
    taken = take(loaded, tmp_path, fetched(raw))

    assert taken.filed == [1]
    [summary] = taken.submissions
    assert (summary.unit, summary.source, summary.status) == ("tw", "mail", "imported")
    assert summary.imported == 1
    [(mail, [part])] = mails(loaded)
    assert (mail.status, mail.sender, mail.message_id) == (
        "taken",
        LIAISON_TW,
        "reply-1@demo.gov.cn",
    )
    assert (tmp_path / mail.archive_path).read_bytes() == raw  # the whole mail, as received
    assert part.outcome == "submitted" and part.name == "团县委填报表.xlsx"
    with db.session(loaded) as session:
        submission = session.get(Submission, part.submission_id)
        assert submission is not None and submission.source == "mail"
        assert session.exec(select(StatusReport)).one().percent == 40

    [receipt] = outbox_items(loaded)
    assert receipt.target == "unit:tw role:liaison"
    assert receipt.headers == {
        "Auto-Submitted": "auto-replied",
        "In-Reply-To": "<reply-1@demo.gov.cn>",
        "References": "<reminder-7@pilot-tracker> <reply-1@demo.gov.cn>",
    }
    assert receipt.subject == "回复：【进展提醒】演示县试点"
    assert "《团县委填报表.xlsx》：已导入（新增 1 条）" in receipt.body
    assert "团县委联络员：" in receipt.body


def test_rejected_rows_are_in_the_receipt_not_in_a_second_notice(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    raw = message(files=[("团县委填报表.xlsx", workbook(percent="约一半"))])
    [summary] = take(loaded, tmp_path, fetched(raw)).submissions

    assert summary.status == "rejected"
    [receipt] = outbox_items(loaded)  # one message: the receipt carries the rejection
    assert "有 1 处未能导入" in receipt.body
    assert "“完成进度”列（填写内容：约一半）" in receipt.body


def test_a_workbook_of_another_unit_sent_from_a_units_address_is_held(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    raw = message(sender=LIAISON_JYJ, files=[("团县委填报表.xlsx", workbook("tw"))])
    taken = take(loaded, tmp_path, fetched(raw))

    assert taken.submissions == [] and taken.filed == [1]
    [(mail, [part])] = mails(loaded)
    assert mail.status == "held"
    assert part.outcome == "held"
    assert "这是团县委的填报表，却由县教育局的邮箱" in part.reason
    receipt, office = outbox_items(loaded)
    assert receipt.target == "unit:jyj role:liaison"  # the sender's unit hears of it
    assert "未导入，已转专班核查" in receipt.body
    assert office.target == "role:office"
    assert f"文件编号 {part.id}" in office.body
    assert "pilot-tracker mail release --program demo" in office.body
    with db.session(loaded) as session:
        assert session.exec(select(Submission)).all() == []


def test_a_csv_from_an_address_no_unit_has_is_held_and_no_one_but_the_office_hears(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    raw = message(sender="someone@example.com", files=[("进展.csv", CSV)])
    take(loaded, tmp_path, fetched(raw))

    [(mail, [part])] = mails(loaded)
    assert (mail.status, part.outcome) == ("held", "held")
    assert "无法确定报送单位：发件地址someone@example.com不是任何成员单位登记的地址" in part.reason
    [office] = outbox_items(loaded)
    assert office.target == "role:office"


def test_a_templates_metadata_names_the_unit_whoever_sends_it(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    # The education bureau's workbook, forwarded by a person whose address is not on file.
    raw = message(sender="colleague@163.com", files=[("教育局.xlsx", workbook("jyj"))])
    [summary] = take(loaded, tmp_path, fetched(raw)).submissions

    assert summary.unit == "jyj"
    [receipt] = outbox_items(loaded)
    # to the liaison on file, never to the address the mail came from
    assert receipt.target == "unit:jyj role:liaison"


def test_a_mailed_workbook_is_opened_once_to_know_whose_it_is_and_take_it(
    loaded: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its hidden metadata names the unit, and the rows are taken in, from one open."""
    from .test_payload import Opens

    raw = message(sender="colleague@163.com", files=[("教育局.xlsx", workbook("jyj"))])
    opens = Opens(monkeypatch)
    [summary] = take(loaded, tmp_path, fetched(raw)).submissions
    assert (summary.unit, summary.status, summary.imported) == ("jyj", "imported", 1)
    assert opens.calamine + len(opens.openpyxl) == 1


def test_the_units_shared_mailbox_counts_as_the_unit_in_any_case(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    raw = message(
        sender="office@rsj.DEMO.gov.cn", files=[("人社局.csv", CSV.replace(b"T-01", b"T-02"))]
    )
    [summary] = take(loaded, tmp_path, fetched(raw)).submissions
    assert summary.unit == "rsj"


def test_the_reminders_own_workbook_quoted_back_is_not_a_submission(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    sent = workbook()
    path = tmp_path / "outbox" / "demo" / "tw-2021-03-20-填报表.xlsx"
    path.parent.mkdir(parents=True)
    path.write_bytes(sent)
    with db.session(loaded) as session:
        program = store.get_program(session=session, code="demo")
        outbox.enqueue(
            session=session,
            program_id=program.id,
            dedup_key="reminder",
            target="unit:tw role:liaison",
            subject="提醒",
            body="请填报",
            now=NOW,
            attachments=[str(path.relative_to(tmp_path))],
        )
    take(loaded, tmp_path, fetched(message(files=[("tw-2021-03-20-填报表.xlsx", sent)])))

    [(mail, [part])] = mails(loaded)
    assert part.outcome == "quoted"
    assert mail.status == "held"  # nothing new: a person reads what the liaison wrote
    with db.session(loaded) as session:
        assert session.exec(select(Submission)).all() == []
    receipt = outbox_items(loaded)[1]
    assert "这是专班发出的原填报表（未作修改），不作为报送" in receipt.body


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Subject": "自动回复：【进展提醒】演示县试点"},
    ],
)
def test_an_automatic_answer_is_read_and_never_answered(
    loaded: sa.Engine, tmp_path: Path, headers: dict[str, str]
) -> None:
    extra = {name: value for name, value in headers.items() if name != "Subject"}
    raw = message(subject=headers.get("Subject", "回复：提醒"), headers=extra)
    taken = take(loaded, tmp_path, fetched(raw))

    assert taken.filed == [1] and taken.submissions == []
    [(mail, parts)] = mails(loaded)
    assert mail.status == "ignored" and parts == []
    assert outbox_items(loaded) == []


def test_the_same_mail_delivered_twice_changes_nothing(loaded: sa.Engine, tmp_path: Path) -> None:
    first = message()
    again = b"Received: from relay by mx; Tue, 23 Mar 2021 09:31:00 +0000\r\n" + first
    take(loaded, tmp_path, fetched(first))
    before = (mails(loaded), [item.id for item in outbox_items(loaded)])

    taken = take(loaded, tmp_path, fetched(again, uid=2))

    assert taken.filed == [2] and taken.submissions == []
    assert [outcome.status for outcome in taken.mail] == ["duplicate"]
    assert len(mails(loaded)) == 1
    assert [item.id for item in outbox_items(loaded)] == before[1]


def test_the_same_workbook_in_another_mail_is_a_duplicate_submission(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    data = workbook()
    take(loaded, tmp_path, fetched(message(files=[("a.xlsx", data)])))
    raw = message(files=[("a.xlsx", data)], message_id="reply-2@demo.gov.cn")
    [summary] = take(
        loaded, tmp_path, fetched(raw, uid=2, message_id="reply-2@demo.gov.cn")
    ).submissions

    assert summary.status == "duplicate"
    assert "与此前报送的文件完全相同，未重复导入" in outbox_items(loaded)[-1].body


def test_known_messages_are_not_fetched_again(loaded: sa.Engine, tmp_path: Path) -> None:
    take(loaded, tmp_path, fetched(message()))
    known = replies.known_messages(engine=loaded, program="demo")
    assert known("reply-1@demo.gov.cn")
    assert not known("reply-2@demo.gov.cn")
    assert not known("")


def test_an_oversized_mail_is_refused_and_its_sender_told_why(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    head = message()[:2048]
    item = Fetched(uid=3, raw=head, size=50 * 1024 * 1024, oversized=True, message_id="big@x")
    taken = take(loaded, tmp_path, item)

    assert taken.filed == [3]
    [(mail, parts)] = mails(loaded)
    assert (mail.status, mail.archived, parts) == ("refused", "head", [])
    assert mail.sender == LIAISON_TW
    assert (tmp_path / mail.archive_path).read_bytes() == head
    receipt, office = outbox_items(loaded)
    assert "邮件过大（约 50 MB，超过 40 MB），未读取" in receipt.body
    assert office.target == "role:office"


def test_a_sender_the_offices_server_marks_as_forged_is_held_unanswered(
    engine: sa.Engine, tmp_path: Path
) -> None:
    load(engine, program_spec(authserv_id=OFFICE_SERVER))
    verdict = (
        f"{OFFICE_SERVER}; spf=fail smtp.mailfrom=demo.gov.cn; dmarc=fail header.from=demo.gov.cn"
    )
    raw = message(headers={"Authentication-Results": verdict})
    take(engine, tmp_path, fetched(raw))

    [(mail, [part])] = mails(engine)
    assert (mail.status, part.outcome) == ("held", "held")
    assert "未通过本单位邮件服务器的发件人验证" in part.reason
    [office] = outbox_items(engine)
    assert office.target == "role:office"  # the unit named in From hears nothing of it


def test_a_verdict_from_any_other_server_is_not_trusted(engine: sa.Engine, tmp_path: Path) -> None:
    load(engine, program_spec(authserv_id=OFFICE_SERVER))
    raw = message(headers={"Authentication-Results": "mx.attacker.example; dmarc=pass"})
    [summary] = take(engine, tmp_path, fetched(raw)).submissions
    assert summary.unit == "tw"  # no verdict of the office's server: the address counts


def test_a_held_file_released_by_the_office_is_taken_as_the_unit(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    take(
        loaded, tmp_path, fetched(message(sender="someone@example.com", files=[("进展.csv", CSV)]))
    )
    [(_, [part])] = mails(loaded)
    with db.session(loaded) as session:
        program = store.get_program(session=session, code="demo")
        summary = replies.release(
            session=session,
            program=program,
            part_id=part.id,
            unit_code="tw",
            by="office-demo",
            as_of=AS_OF,
            now=NOW,
            home=tmp_path,
            templates=TEMPLATES,
        )
    assert (summary.unit, summary.status, summary.imported) == ("tw", "imported", 1)
    [(mail, [part])] = mails(loaded)
    assert (mail.status, part.outcome, part.released_by) == ("taken", "submitted", "office-demo")
    with db.session(loaded) as session:
        program = store.get_program(session=session, code="demo")
        with pytest.raises(MailError, match="is submitted, not held"):
            replies.release(
                session=session,
                program=program,
                part_id=part.id,
                unit_code="tw",
                by="",
                as_of=AS_OF,
                now=NOW,
                home=tmp_path,
                templates=TEMPLATES,
            )


def test_a_bug_on_one_mail_holds_it_for_the_office_and_the_next_goes_on(
    loaded: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def broken(**kwargs: Any) -> Any:
        calls.append(kwargs["payload"].name)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return original(**kwargs)

    original = replies.take_payload
    monkeypatch.setattr(replies, "take_payload", broken)
    second = message(files=[("b.csv", CSV)], message_id="reply-2@demo.gov.cn")
    taken = take(
        loaded,
        tmp_path,
        fetched(message()),
        fetched(second, uid=2, message_id="reply-2@demo.gov.cn"),
    )

    assert taken.filed == [1, 2]
    assert [error["error"] for error in taken.errors] == ["RuntimeError"]
    (failed, parts), (fine, _) = mails(loaded)
    assert failed.status == "held" and parts == []  # the half-done work was rolled back
    assert failed.reason.startswith("系统处理该邮件时出错")
    assert fine.status == "taken"


def test_the_office_lists_held_mail_and_releases_a_file_from_the_command_line(
    isolated_environment: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from pilot_tracker.cli import app
    from pilot_tracker.ledger.program_file import write_program_file

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    write_program_file(program_spec(), tmp_path / "demo.yaml")
    assert runner.invoke(app, ["program", "load", str(tmp_path / "demo.yaml")]).exit_code == 0
    engine = db.make_engine(f"sqlite:///{isolated_environment / 'pilot-tracker.db'}")
    try:
        take(
            engine,
            isolated_environment,
            fetched(message(sender="x@example.com", files=[("进展.csv", CSV)])),
        )
    finally:
        engine.dispose()

    listed = runner.invoke(app, ["mail", "list", "--program", "demo", "--held"])
    assert listed.exit_code == 0, listed.output
    assert "x@example.com" in listed.stdout and "进展.csv" in listed.stdout
    [item] = json.loads(runner.invoke(app, ["mail", "list", "--program", "demo", "--json"]).stdout)
    [file] = item["files"]
    assert (item["status"], file["outcome"]) == ("held", "held")

    wrong = runner.invoke(
        app, ["mail", "release", str(file["id"]), "--program", "demo", "--unit", "nope"]
    )
    assert wrong.exit_code != 0 and "no unit 'nope' in program demo" in wrong.output

    released = runner.invoke(
        app,
        [
            "mail",
            "release",
            str(file["id"]),
            "--program",
            "demo",
            "--unit",
            "tw",
            "--as-of",
            "2021-03-24",
        ],
    )
    assert released.exit_code == 0, released.output
    assert f"file {file['id']} taken as tw's: imported (imported 1" in released.stdout
    assert (
        runner.invoke(app, ["mail", "list", "--program", "demo", "--held"]).stdout.strip()
        == "no mail held"
    )


def test_several_units_workbooks_in_one_mail_each_go_to_their_unit(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    # The lead unit's coordinator gathers two units' workbooks and sends them in one mail.
    raw = message(
        sender="coordinator@demo.gov.cn",
        files=[("团县委.xlsx", workbook("tw")), ("教育局.xlsx", workbook("jyj"))],
    )
    taken = take(loaded, tmp_path, fetched(raw))

    assert sorted((s.unit, s.status) for s in taken.submissions) == [
        ("jyj", "imported"),
        ("tw", "imported"),
    ]
    receipts = {item.target: item.body for item in outbox_items(loaded)}
    assert set(receipts) == {"unit:tw role:liaison", "unit:jyj role:liaison"}
    assert "《团县委.xlsx》：已导入" in receipts["unit:tw role:liaison"]
    assert "教育局.xlsx" not in receipts["unit:tw role:liaison"]  # each hears of its own


def test_a_held_file_whose_archived_copy_was_altered_is_not_released(
    loaded: sa.Engine, tmp_path: Path
) -> None:
    take(loaded, tmp_path, fetched(message(sender="x@example.com", files=[("进展.csv", CSV)])))
    [(_, [part])] = mails(loaded)
    (tmp_path / part.archive_path).write_bytes(CSV.replace(b"40", b"90"))
    with db.session(loaded) as session:
        program = store.get_program(session=session, code="demo")
        with pytest.raises(MailError, match="is not the file received"):
            replies.release(
                session=session,
                program=program,
                part_id=part.id,
                unit_code="tw",
                by="",
                as_of=AS_OF,
                now=NOW,
                home=tmp_path,
                templates=TEMPLATES,
            )
    [(_, [part])] = mails(loaded)
    assert part.outcome == "held"
