"""Mail in, end to end: a real reminder goes out over SMTP with the unit's workbook, the
liaison replies to it with the workbook filled in, the reply lands in a real IMAP server
(Dovecot on loopback), the next collection takes it in, files it, and the receipt goes back
in the liaison's thread. And what a mailbox does when it is down, drops the connection,
refuses the login, or gets the same mail twice or a mail of 50 MB."""

from __future__ import annotations

import copy
import email.policy
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.alerts import delivery, outbox
from pilot_tracker.collect import collection
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, validate_program
from pilot_tracker.models import Mail, Notification, StatusReport, Submission
from pilot_tracker.supervise import flags

from .conftest import ROOT
from .imap_fixtures import FaultProxy, free_port
from .mail_fixtures import filled as fill
from .mail_fixtures import template
from .test_alerts import smtp_server, write_config
from .test_program_file import SMALL

TEMPLATES = outbox.Templates(ROOT / "templates")
PASSWORD_ENV = "PT_MAIL_PASSWORD"
LIAISON = "tuanwei-liaison@demo.gov.cn"
REMINDED = date(2021, 3, 26)  # the day after March's deadline: tw has sent nothing
ANSWERED = date(2021, 3, 29)


def moment(day: date, hour: int = 1) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def program_spec(port: int, user: str) -> ProgramSpec:
    document = copy.deepcopy(SMALL)
    document["units"][0]["contacts"][0]["email"] = LIAISON
    document["mailbox"] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "user": user,
        "password_env": PASSWORD_ENV,
        "timeout": 5,
        "deadline": 20,
    }
    return validate_program(document, "demo.yaml")


def load(engine: sa.Engine, spec: ProgramSpec) -> None:
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=spec,
            source_name="demo.yaml",
            source_sha256="",
            now=moment(REMINDED),
        )


def collect(engine: sa.Engine, home: Path, password: str, day: date = ANSWERED):
    return collection.collect(
        engine=engine,
        program="demo",
        as_of=day,
        now=moment(day),
        home=home,
        environ={PASSWORD_ENV: password},
        templates=TEMPLATES,
        settle_seconds=0,
        attempts=1,
        sleep=lambda _: None,
    )


def send(engine: sa.Engine, home: Path, config: Path, day: date) -> delivery.SendResult:
    return delivery.send(
        engine=engine,
        targets=delivery.load_targets(config),
        templates=TEMPLATES,
        home=home,
        now=lambda: moment(day, 2),
        sleep=lambda _: None,
    )


def filled(workbook: bytes) -> bytes:
    """The reminder's workbook as a liaison fills it in: every task row reported."""
    return fill(
        workbook, percent=45, progress="联席会议制度已印发征求意见稿", reported_on=date(2021, 3, 28)
    )


def reply_to(reminder: EmailMessage, *attachments: tuple[str, bytes]) -> bytes:
    """The liaison's reply as a mail client writes it: Re: subject, the thread's headers,
    the reminder quoted in the body, the files attached."""
    reply = EmailMessage()
    reply["From"] = f"团县委联络员 <{LIAISON}>"
    reply["To"] = "office@demo.gov.cn"
    reply["Subject"] = f"回复：{reminder['Subject']}"
    reply["Date"] = format_datetime(moment(ANSWERED, 0))
    reply["Message-ID"] = "<reply-tw-0329@demo.gov.cn>"
    reply["In-Reply-To"] = reminder["Message-ID"]
    reply["References"] = reminder["Message-ID"]
    quoted = "\n".join(f"> {line}" for line in body_of(reminder).splitlines())
    reply.set_content(f"已填写，请查收。\n\n{quoted}\n")
    for name, data in attachments:
        reply.add_attachment(
            data,
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=name,
        )
    return reply.as_bytes(policy=email.policy.SMTP)


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def workbook_of(message: EmailMessage) -> tuple[str, bytes]:
    [part] = list(message.iter_attachments())
    return part.get_filename() or "", part.get_payload(decode=True)


@pytest.fixture
def office(engine: sa.Engine, mail_user: Any, tmp_path: Path) -> dict[str, Any]:
    load(engine, program_spec(mail_user.server.imap_port, mail_user.name))
    return {"engine": engine, "user": mail_user, "home": tmp_path / "home"}


def test_a_reply_to_a_real_reminder_is_imported_filed_and_answered_in_its_thread(
    office: dict[str, Any], tmp_path: Path
) -> None:
    engine, user, home = office["engine"], office["user"], office["home"]
    smtp_port = free_port()
    with smtp_server(smtp_port) as smtp:
        config = write_config(
            tmp_path,
            {
                f"mailto://127.0.0.1:{smtp_port}?from=office@demo.gov.cn&to={LIAISON}"
                "&format=text": "unit:tw, role:liaison",
                f"mailto://127.0.0.1:{smtp_port}?from=office@demo.gov.cn"
                "&to=qnfz@demo.gov.cn&format=text": "role:office",
            },
        )
        # The reminder: tw has sent nothing by March's deadline.
        with db.session(engine) as session:
            flags.flag_and_escalate(
                session=session,
                program="demo",
                as_of=REMINDED,
                now=moment(REMINDED),
                templates=TEMPLATES,
                home=home,
            )
        send(engine, home, config, REMINDED)
        [reminder] = [m for m in smtp.messages() if str(m["To"]).endswith(LIAISON)]
        name, sent_workbook = workbook_of(reminder)
        assert name.endswith("填报表.xlsx")

        # The liaison replies, quoting the reminder and its original file, with the
        # workbook filled in.
        user.deliver(
            reply_to(reminder, (name, sent_workbook), ("团县委3月进展.xlsx", filled(sent_workbook)))
        )
        result = collect(engine, home, user.password)

        assert result.mailbox_error is None and result.errors == []
        [summary] = result.submissions
        assert (summary.unit, summary.source, summary.status) == ("tw", "mail", "imported")
        assert user.uids("INBOX") == [] and len(user.uids("已处理")) == 1
        with db.session(engine) as session:
            report = session.exec(select(StatusReport)).one()
            assert (report.percent, report.progress) == (45, "联席会议制度已印发征求意见稿")

        before = len(smtp.contents)
        send(engine, home, config, ANSWERED)
        [receipt] = smtp.messages()[before:]

    assert str(receipt["To"]).endswith(LIAISON)
    assert receipt["In-Reply-To"] == "<reply-tw-0329@demo.gov.cn>"
    assert receipt["References"] == f"{reminder['Message-ID']} <reply-tw-0329@demo.gov.cn>"
    assert receipt["Auto-Submitted"] == "auto-replied"
    # (spaces aside: between two RFC 2047 encoded words a space is not part of the text,
    # and Python's encoder of the reply puts one there)
    assert receipt["Subject"].replace(" ", "") == f"回复：{reminder['Subject']}".replace(" ", "")
    text = body_of(receipt)
    assert "《团县委3月进展.xlsx》：已导入（新增 1 条）" in text
    assert f"《{name}》：这是专班发出的原填报表（未作修改），不作为报送" in text

    # The next run finds nothing new and answers nothing again.
    again = collect(engine, home, user.password, date(2021, 3, 30))
    assert again.submissions == [] and again.mail == []


def test_the_same_mail_delivered_twice_is_taken_once_and_both_are_filed(
    office: dict[str, Any],
) -> None:
    engine, user, home = office["engine"], office["user"], office["home"]
    raw = reply_to(simple_reminder(), ("进展.xlsx", filled(template_of_spec())))
    user.deliver(raw, raw)

    result = collect(engine, home, user.password)

    assert [summary.status for summary in result.submissions] == ["imported"]
    assert user.uids("INBOX") == [] and len(user.uids("已处理")) == 2
    with db.session(engine) as session:
        assert len(session.exec(select(Mail)).all()) == 1
        assert len(session.exec(select(Submission)).all()) == 1


def test_a_mailbox_that_cannot_be_reached_spares_every_unit_and_keeps_the_mail(
    engine: sa.Engine, mail_user: Any, tmp_path: Path
) -> None:
    closed = free_port()
    load(engine, program_spec(closed, mail_user.name))

    result = collect(engine, tmp_path, mail_user.password)

    assert result.mailbox_error is not None and f"127.0.0.1:{closed}" in result.mailbox_error
    assert result.excused() == {"tw", "jyj", "rsj"}
    assert any(line.startswith("mailbox: unavailable") for line in result.lines())


def test_a_refused_login_is_unavailable_and_never_shows_the_password(
    office: dict[str, Any],
) -> None:
    engine, user, home = office["engine"], office["user"], office["home"]
    user.deliver(reply_to(simple_reminder(), ("进展.xlsx", filled(template_of_spec()))))

    result = collect(engine, home, "wrong-" + user.password)

    assert result.mailbox_error is not None and "login" in result.mailbox_error
    assert user.password not in result.mailbox_error
    assert result.submissions == [] and user.uids("INBOX") != []


def test_a_connection_dropped_mid_fetch_takes_nothing_and_loses_nothing(
    engine: sa.Engine, mail_user: Any, tmp_path: Path
) -> None:
    workbook = filled(template_of_spec())
    mail_user.deliver(
        *[
            reply_to(simple_reminder(), (f"进展{number}.xlsx", workbook + bytes(number)))
            for number in range(3)
        ]
    )
    proxy = FaultProxy(mail_user.server.imap_port, drop_after=4_000)
    try:
        load(engine, program_spec(proxy.port, mail_user.name))
        result = collect(engine, tmp_path, mail_user.password)
    finally:
        proxy.close()

    assert result.mailbox_error is not None
    assert result.submissions == [] and result.mail == []
    assert len(mail_user.uids("INBOX")) == 3  # all still there, for the next run
    with db.session(engine) as session:
        assert session.exec(select(Mail)).all() == []


def test_a_mail_of_50_mb_is_refused_filed_and_its_sender_told(office: dict[str, Any]) -> None:
    engine, user, home = office["engine"], office["user"], office["home"]
    big = EmailMessage()
    big["From"] = LIAISON
    big["To"] = "office@demo.gov.cn"
    big["Subject"] = "进展材料（含照片）"
    big["Message-ID"] = "<big@demo.gov.cn>"
    big.set_content("照片见附件")
    big.add_attachment(bytes(50 * 1024 * 1024), maintype="image", subtype="jpeg", filename="a.jpg")
    user.deliver(big.as_bytes(policy=email.policy.SMTP))

    result = collect(engine, home, user.password)

    assert result.submissions == [] and user.uids("INBOX") == []
    with db.session(engine) as session:
        mail = session.exec(select(Mail)).one()
        assert (mail.status, mail.archived, mail.sender) == ("refused", "head", LIAISON)
        assert (home / mail.archive_path).stat().st_size <= 1024 * 1024
        [receipt] = [
            item.body
            for item in session.exec(select(Notification))
            if item.target.startswith("unit:tw")
        ]
    assert "邮件过大（约 68 MB，超过 40 MB），未读取" in receipt  # 50 MB in base64


def template_of_spec() -> bytes:
    return template(validate_program(copy.deepcopy(SMALL), "demo.yaml"), "tw", date(2021, 1, 4))


def simple_reminder() -> EmailMessage:
    reminder = EmailMessage()
    reminder["Subject"] = "【进度提醒】演示县试点 · 团县委"
    reminder["Message-ID"] = "<reminder-1@pilot-tracker>"
    reminder.set_content("请于3月25日前报送。")
    return reminder
