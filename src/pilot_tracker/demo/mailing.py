"""The demo's mail in: the office's mailbox on loopback, and the units that answer by mail.

A few units of the first example program (``submissions.mailing``) send their workbook by
mail: in reply to their last reminder where they had one (quoting it, in its thread), else
as a new mail. The first of them to be reminded has its liaison away, and their mail
server answers that reminder with an out-of-office reply, which pilot-tracker reads and
never answers. Each mail is
appended to the office's mailbox (Dovecot on 127.0.0.1, ``demo.mail_server``) and kept as
an ``.eml`` under ``mail/replies/``; the receipts go out with the other alerts, into
``mail/``.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, datetime, time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from pilot_tracker.demo.submissions import Mailed
from pilot_tracker.ledger.program_file import ContactSpec, MailboxSpec, ProgramSpec
from pilot_tracker.models import ContactRole

DOMAIN = "demo.example.gov.cn"
PASSWORD_ENV = "PILOT_TRACKER_DEMO_MAIL_PASSWORD"
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def office_user(spec: ProgramSpec) -> str:
    return f"{spec.code}-office@{DOMAIN}"


def liaison_address(spec: ProgramSpec, unit: str) -> str:
    """The liaison's address: the one the demo's alerts go to, and the one it mails from."""
    return f"{spec.code}-{unit}-liaison@{DOMAIN}"


def with_mailbox(spec: ProgramSpec, port: int) -> ProgramSpec:
    """The program with the demo's mailbox, and each liaison's address on file."""
    units = []
    for unit in spec.units:
        contacts = [c for c in unit.contacts if c.role is not ContactRole.LIAISON]
        liaison = next((c for c in unit.contacts if c.role is ContactRole.LIAISON), None)
        email_address = liaison_address(spec, unit.code)
        contacts.insert(
            0,
            liaison.model_copy(update={"email": email_address})
            if liaison is not None
            else ContactSpec(role=ContactRole.LIAISON, email=email_address),
        )
        units.append(unit.model_copy(update={"contacts": contacts}))
    mailbox = MailboxSpec(
        host="127.0.0.1",
        port=port,
        security="none",
        user=office_user(spec),
        password_env=PASSWORD_ENV,
        timeout=10,
        deadline=60,
    )
    return spec.model_copy(update={"mailbox": mailbox, "units": units})


def reply(spec: ProgramSpec, mailed: Mailed, reminder: bytes | None) -> bytes:
    """A liaison's mail with the workbook: a reply quoting the reminder, or a new mail."""
    unit = next(unit for unit in spec.units if unit.code == mailed.unit)
    message = _letter(spec, mailed.unit, mailed.day, hour=16)
    if reminder is not None:
        original = email.message_from_bytes(reminder, policy=email.policy.default)
        message["Subject"] = f"回复：{original['Subject']}"
        _thread(message, original)
        quoted = "\n".join(f"> {line}" for line in _text(original).splitlines())
        message.set_content(f"专班：\n\n已按要求填写，请查收附件。\n\n{unit.name}\n\n{quoted}\n")
    else:
        message["Subject"] = f"{unit.name}报送{mailed.day.month}月任务进展"
        message.set_content(f"专班：\n\n{unit.name}本月任务进展见附件，请查收。\n\n{unit.name}\n")
    message.add_attachment(mailed.data, maintype=XLSX[0], subtype=XLSX[1], filename=mailed.name)
    return message.as_bytes(policy=email.policy.SMTP)


def out_of_office(spec: ProgramSpec, unit: str, reminder: bytes, day: date) -> bytes:
    """What a liaison's mail server answers while they are away: an automatic reply."""
    original = email.message_from_bytes(reminder, policy=email.policy.default)
    message = _letter(spec, unit, day, hour=9)
    message["Subject"] = f"自动回复：{original['Subject']}"
    message["Auto-Submitted"] = "auto-replied"
    _thread(message, original)
    message.set_content("您好，本人外出学习，期间邮件将延迟回复，急事请电话联系。")
    return message.as_bytes(policy=email.policy.SMTP)


def _letter(spec: ProgramSpec, unit: str, day: date, *, hour: int) -> EmailMessage:
    message = EmailMessage()
    name = next(u.name for u in spec.units if u.code == unit)
    message["From"] = f"{name}联络员 <{liaison_address(spec, unit)}>"
    message["To"] = office_user(spec)
    sent = datetime.combine(day, time(hour, 20), tzinfo=ZoneInfo(spec.timezone))
    message["Date"] = format_datetime(sent)
    message["Message-ID"] = make_msgid(f"{unit}-{day:%Y%m%d}-{hour}", domain=DOMAIN)
    return message


def _thread(message: EmailMessage, original: EmailMessage) -> None:
    if original["Message-ID"]:
        message["In-Reply-To"] = original["Message-ID"]
        message["References"] = " ".join(
            part for part in (original["References"], original["Message-ID"]) if part
        )


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""
