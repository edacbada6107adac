"""Replies: the units' mail, taken from the office's mailbox.

A liaison answers the reminder with the workbook filled in. Each message read from the
mailbox (``collect/mailbox.py``) is archived whole (its raw bytes, content-addressed) before
anything in it is read, then read into its files (``collect/mail.py``). Each file is taken
as the unit it belongs to, or held for the office:

- **whose it is**: the unit the workbook's hidden metadata names first; else the unit whose
  address sent the mail. A workbook of unit A sent from unit B's address, a file from an
  address no unit has and with no metadata, a sender the office's own mail server marks as
  failing SPF, DKIM or DMARC: held, with the reason, never taken under a guess.
- a file pilot-tracker sent itself (the reminder's workbook quoted back) is not a
  submission; a picture or a PDF is noted and skipped.
- automatic mail (auto-replies, out-of-office answers, bounces) is read and never answered,
  so two robots never talk to each other.

One message is one transaction: its record, its files' submissions and the receipts. A
receipt goes to the liaison of each unit the mail concerned, as a reply to the mail
(In-Reply-To and References set, so it threads in their mail client), through the outbox:
to the address the office configured for that liaison, never to an address taken from the
mail, so a forged From cannot make pilot-tracker write to a stranger, and the real liaison
learns of anything sent in their unit's name. The message is filed in the mailbox only
after its transaction commits; a run stopped in between reads it again and finds it on
record (by Message-ID, or by its bytes), so it changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pilot_tracker import db, periods
from pilot_tracker.alerts import outbox
from pilot_tracker.collect.intake import (
    NOTICE_REJECTIONS,
    SubmissionSummary,
    archive_payload,
    read_archived,
    take_payload,
)
from pilot_tracker.collect.mail import (
    TOO_LARGE,
    Attachment,
    Letter,
    authentication,
    read_letter,
)
from pilot_tracker.collect.mailbox import Fetched, MailPull
from pilot_tracker.collect.payload import Payload, ReadPayload, display_name
from pilot_tracker.collect.reader import read_now
from pilot_tracker.errors import ArchiveError, MailError, MailRefused, NotFoundError
from pilot_tracker.ledger import store
from pilot_tracker.models import (
    ArchiveExtent,
    Contact,
    Mail,
    MailPart,
    MailStatus,
    Notification,
    PartOutcome,
    Program,
    Submission,
    SubmissionStatus,
    Unit,
)

log = logging.getLogger(__name__)

SOURCE = "mail"
RECEIPT_TEMPLATE = "alerts/receipt.txt.j2"
HELD_TEMPLATE = "alerts/held_mail.txt.j2"
# What makes a receipt an automatic answer (RFC 3834): a well-behaved auto-responder at
# the unit's end does not answer it back.
AUTO_SUBMITTED = "auto-replied"
MAX_REFERENCES = 20
MAX_SENT_FILES = 500  # files pilot-tracker attached, hashed to recognise one quoted back

UNKNOWN_SENDER = (
    "无法确定报送单位：发件地址{sender}不是任何成员单位登记的地址，附件中也没有填报表的单位信息"
)
FORGED = (
    "发件地址{sender}未通过本单位邮件服务器的发件人验证（SPF/DKIM/DMARC），可能是伪造的，未导入"
)
QUOTED = "这是专班发出的原填报表（未作修改），不作为报送；请填写后再发送"
NO_FILES = "邮件中没有填报表附件"
FAILED = "系统处理该邮件时出错，邮件已存档并转专班核查"


@dataclass
class MailFile:
    """One file of a mail and what became of it, as a receipt and the log say it."""

    name: str
    outcome: str
    unit: str = ""  # the unit's code it was taken as, or that it claims
    reason: str = ""
    summary: SubmissionSummary | None = None
    part_id: int | None = None


@dataclass
class MailOutcome:
    """What one mail brought: its files, its record's status, and the uid to file."""

    uid: int
    sender: str
    subject: str
    status: str
    reason: str = ""
    files: list[MailFile] = field(default_factory=list)
    mail_id: int | None = None

    def line(self) -> str:
        parts = ", ".join(
            f"{item.name}: {item.outcome}{f' as {item.unit}' if item.unit else ''}"
            + (f" ({item.reason})" if item.outcome == PartOutcome.HELD.value else "")
            for item in self.files
        )
        reason = f" ({self.reason})" if self.reason else ""
        return f"mail from {self.sender or 'an unknown sender'}: {self.status}{reason}" + (
            f"; {parts}" if parts else ""
        )


@dataclass
class MailTaken:
    """What the mailbox gave one run: submissions, one outcome per mail, the uids to file
    (taken now, or on record already) and the mail a bug of ours failed on."""

    submissions: list[SubmissionSummary] = field(default_factory=list)
    mail: list[MailOutcome] = field(default_factory=list)
    filed: list[int] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def message_key(message_id: str, raw: bytes) -> str:
    """What makes two deliveries one mail: the Message-ID, or the bytes without one."""
    if message_id:
        return hashlib.sha256(message_id.strip().encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def known_messages(*, engine: Engine, program: str) -> Callable[[str], bool]:
    """Whether a Message-ID is on record for the program: the mailbox need not fetch it."""
    with db.session(engine) as session:
        record = store.get_program(session=session, code=program)
        keys = set(session.exec(select(Mail.message_key).where(Mail.program_id == record.id)))
    return lambda message_id: bool(message_id) and message_key(message_id, b"") in keys


def take_mail(
    *,
    engine: Engine,
    program: str,
    pull: MailPull,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> MailTaken:
    """Take every mail of a pull, each in its own transaction; a bug of ours on one mail
    is recorded (the mail held for the office, archived) and the others go on."""
    taken = MailTaken(filed=list(pull.known))
    sent = _SentFiles(home)
    for fetched in pull.fetched:
        try:
            with db.session(engine) as session:
                outcome = _Reader(session, program, as_of, now, home, templates, sent).take(fetched)
        except Exception as error:  # a bug of ours: the mail is the office's, not lost
            log.error("taking mail %s failed", fetched.message_id or fetched.uid, exc_info=error)
            outcome = _record_failure(engine, program, fetched, now, home, templates, error)
            taken.errors.append(
                {
                    "unit": "",
                    "source": SOURCE,
                    "file": fetched.message_id or f"uid {fetched.uid}",
                    "error": type(error).__name__,
                    "outcome": "archived and held for the office"
                    if outcome is not None
                    else "not recorded; left in the mailbox for the next run",
                }
            )
            if outcome is None:
                continue
        taken.mail.append(outcome)
        taken.filed.append(fetched.uid)
        taken.submissions += [item.summary for item in outcome.files if item.summary]
    return taken


class _SentFiles:
    """The sha256 of the files pilot-tracker attached to the program's messages (the
    reminders' workbooks, the statements): such a file quoted back is not a submission.
    Hashed when a mail first brings a file, the newest ``MAX_SENT_FILES`` of them, in the
    session of that mail (a second session would wait on its lock)."""

    def __init__(self, home: Path):
        self.home = home
        self._found: set[str] | None = None

    def has(self, session: Session, program: Program, sha256: str) -> bool:
        if self._found is None:
            self._found = self._hash(session, program)
        return sha256 in self._found

    def _hash(self, session: Session, program: Program) -> set[str]:
        paths: list[str] = []
        for attachments in session.exec(
            select(Notification.attachments)
            .where(Notification.program_id == program.id)
            .order_by(col(Notification.id).desc())
        ):
            paths += [path for path in attachments if path not in paths]
            if len(paths) >= MAX_SENT_FILES:
                break
        found: set[str] = set()
        for path in paths[:MAX_SENT_FILES]:
            try:
                found.add(hashlib.sha256((self.home / path).read_bytes()).hexdigest())
            except OSError:
                continue
        return found


class _Reader:
    """Takes one mail in one session."""

    def __init__(
        self,
        session: Session,
        program: str,
        as_of: date,
        now: datetime,
        home: Path,
        templates: outbox.Templates | None,
        sent: _SentFiles,
    ):
        self.session = session
        self.program = store.get_program(session=session, code=program)
        self.as_of = as_of
        self.now = now
        self.home = home
        self.templates = templates
        self.sent = sent
        self.units = {
            unit.code: unit
            for unit in session.exec(select(Unit).where(Unit.program_id == self.program.id))
        }
        self.by_address = _addresses(session, self.program.id, self.units)

    def take(self, fetched: Fetched) -> MailOutcome:
        key = message_key(fetched.message_id, fetched.raw)
        seen = self.session.exec(
            select(Mail).where(Mail.program_id == self.program.id, Mail.message_key == key)
        ).first()
        if seen is not None:
            return MailOutcome(fetched.uid, seen.sender, seen.subject, "duplicate")
        mail = _archived(self.program, key, fetched, self.home, self.now)
        if fetched.oversized:
            letter = _headers_only(fetched.raw)
            refusal = TOO_LARGE.format(size=round(fetched.size / 1024 / 1024))
        else:
            try:
                letter, refusal = read_letter(fetched.raw), ""
            except MailRefused as refused:
                letter, refusal = _headers_only(fetched.raw), refused.reason
        _describe(mail, letter)
        sender_unit = self._sender_unit(mail, letter)
        outcome = MailOutcome(fetched.uid, mail.sender, mail.subject, MailStatus.TAKEN.value)
        if letter.automatic:
            mail.status, mail.reason = MailStatus.IGNORED.value, letter.automatic
        elif refusal:
            mail.status, mail.reason = MailStatus.REFUSED.value, refusal
        self.session.add(mail)
        self.session.flush()
        outcome.mail_id = mail.id
        if mail.status == MailStatus.TAKEN.value:
            outcome.files = self._take_files(mail, letter, sender_unit)
            mail.status, mail.reason = _status(outcome.files)
        outcome.status, outcome.reason = mail.status, mail.reason
        if mail.status != MailStatus.IGNORED.value:
            self._answer(mail, letter, sender_unit, outcome)
        self.session.flush()
        return outcome

    def _sender_unit(self, mail: Mail, letter: Letter) -> Unit | None:
        """The unit the sender's address is registered to (whether the office's own mail
        server vouches for the address is ``_forged``'s question)."""
        unit = self.by_address.get(letter.sender)
        mail.unit_id = unit.id if unit is not None else None
        return unit

    def _forged(self, letter: Letter) -> bool:
        spec = self.program.mailbox or {}
        authserv_id = spec.get("authserv_id") or ""
        return bool(authserv_id) and authentication(letter, authserv_id) == "fail"

    def _take_files(self, mail: Mail, letter: Letter, sender_unit: Unit | None) -> list[MailFile]:
        forged = self._forged(letter)
        files = [
            self._take_file(mail, position, attachment, sender_unit, forged, letter)
            for position, attachment in enumerate(letter.attachments)
        ]
        return files + [
            MailFile(item.name, PartOutcome.SKIPPED.value, "", item.reason)
            for item in letter.skipped
        ]

    def _take_file(
        self,
        mail: Mail,
        position: int,
        attachment: Attachment,
        sender_unit: Unit | None,
        forged: bool,
        letter: Letter,
    ) -> MailFile:
        name = display_name(attachment.name)
        sha256, relative = archive_payload(self.home, attachment.data)
        part = MailPart(
            mail_id=mail.id,  # type: ignore[arg-type]
            position=position,
            name=name[:255],
            sha256=sha256,
            archive_path=relative,
            size=len(attachment.data),
            outcome=PartOutcome.HELD.value,
        )
        item = MailFile(name, PartOutcome.HELD.value)
        payload = _payload(attachment, name)
        meta, reader = _read_once(payload)
        unit, reason = self._whose(meta, sender_unit, forged, letter)
        if self.sent.has(self.session, self.program, sha256):
            item.outcome, item.reason = PartOutcome.QUOTED.value, QUOTED
            unit = unit or sender_unit
        elif unit is not None and not reason:
            summary = take_payload(
                session=self.session,
                program=self.program,
                unit=unit,
                payload=payload,
                as_of=self.as_of,
                now=self.now,
                home=self.home,
                templates=None,  # the receipt carries the rejections
                reader=reader,  # read once: its metadata said whose it is
            )
            item.outcome, item.summary = PartOutcome.SUBMITTED.value, summary
            part.submission_id = _submission_id(self.session, unit, summary)
        else:
            item.reason = reason
        item.unit = unit.code if unit is not None else ""
        part.outcome, part.reason = item.outcome, item.reason
        part.unit_id = unit.id if unit is not None else None
        self.session.add(part)
        self.session.flush()
        item.part_id = part.id
        return item

    def _whose(
        self, meta: dict[str, str], sender_unit: Unit | None, forged: bool, letter: Letter
    ) -> tuple[Unit | None, str]:
        """The unit a file is taken as, or the reason it is held (with the unit it claims),
        by the template's hidden metadata (``meta``) and the sender."""
        claimed_program = meta.get("program", "")
        claimed = meta.get("unit", "")
        sender = letter.sender or "（空）"
        if forged:
            return self.units.get(claimed) or sender_unit, FORGED.format(sender=sender)
        if claimed_program and claimed_program != self.program.code:
            return None, f"这是其他试点（{claimed_program}）的填报表，不属于本试点"
        if claimed:
            unit = self.units.get(claimed)
            if unit is None:
                return None, f"填报表中的单位代码“{claimed}”不是本试点的成员单位"
            if sender_unit is not None and sender_unit.code != unit.code:
                return unit, (
                    f"这是{unit.name}的填报表，却由{sender_unit.name}的邮箱（{sender}）发送；"
                    "请由本单位联络员发送，或由专班核实后导入"
                )
            return unit, ""
        if sender_unit is not None:
            return sender_unit, ""
        return None, UNKNOWN_SENDER.format(sender=sender)

    def _answer(
        self, mail: Mail, letter: Letter, sender_unit: Unit | None, outcome: MailOutcome
    ) -> None:
        """A receipt to the liaison of each unit the mail concerned, and a word to the
        office of what it must look at."""
        if self.templates is None:
            return
        forged = self._forged(letter)
        concerned: dict[str, list[MailFile]] = {}
        for item in outcome.files:
            if item.outcome == PartOutcome.SUBMITTED.value and item.unit:
                concerned.setdefault(item.unit, []).append(item)
        if sender_unit is not None and not forged:
            # the sender's unit hears of everything else in its mail, too
            others = [
                item
                for item in outcome.files
                if item.outcome != PartOutcome.SUBMITTED.value or not item.unit
            ]
            concerned.setdefault(sender_unit.code, []).extend(others)
        for code, files in concerned.items():
            self._receipt(mail, letter, self.units[code], files, outcome)
        if mail.status in (MailStatus.HELD.value, MailStatus.REFUSED.value):
            self._tell_office(mail, outcome)

    def _receipt(
        self,
        mail: Mail,
        letter: Letter,
        unit: Unit,
        files: list[MailFile],
        outcome: MailOutcome,
    ) -> None:
        assert self.templates is not None
        local = (mail.sent_at or self.now).astimezone(ZoneInfo(self.program.timezone))
        deadline = periods.deadline(
            periods.period_of(self.as_of, self.program.cadence), self.program.deadline_day
        )
        outbox.tell_liaison(
            session=self.session,
            templates=self.templates,
            template=RECEIPT_TEMPLATE,
            program=self.program,
            unit=unit,
            dedup_key=f"receipt:{self.program.code}:{mail.message_key}:{unit.code}",
            now=self.now,
            headers=_reply_headers(letter),
            subject=letter.subject,
            received=f"{local.year}年{local.month}月{local.day}日{local:%H:%M}",
            refused=mail.reason if mail.status == MailStatus.REFUSED.value else "",
            files=[_shown(item) for item in files],
            deadline=outbox.chinese_date(deadline) if deadline >= self.as_of else "",
        )

    def _tell_office(self, mail: Mail, outcome: MailOutcome) -> None:
        assert self.templates is not None
        held = [item for item in outcome.files if item.outcome == PartOutcome.HELD.value]
        _tell_office(self.session, self.templates, self.program, mail, held, self.units, self.now)


def _tell_office(
    session: Session,
    templates: outbox.Templates,
    program: Program,
    mail: Mail,
    held: list[MailFile],
    units: dict[str, Unit],
    now: datetime,
) -> None:
    """A word to the office of a mail it must look at (【邮件待处理】), once per mail."""
    subject, body = templates.render(
        HELD_TEMPLATE, program=program, mail=mail, held=held, units=units
    )
    outbox.enqueue(
        session=session,
        program_id=program.id,
        dedup_key=f"held-mail:{program.code}:{mail.message_key}",
        target="role:office",
        subject=subject,
        body=body,
        now=now,
    )


def _archived(program: Program, key: str, fetched: Fetched, home: Path, now: datetime) -> Mail:
    """The record of a mail, its raw bytes archived (whole, or the head fetched of one too
    large), before anything in it is read."""
    sha256, relative = archive_payload(home, fetched.raw)
    return Mail(
        program_id=program.id,  # type: ignore[arg-type]
        message_key=key,
        message_id=fetched.message_id[:255],
        sha256=sha256,
        archive_path=relative,
        size=fetched.size,
        archived=(ArchiveExtent.HEAD if fetched.oversized else ArchiveExtent.WHOLE).value,
        received_at=now,
        status=MailStatus.TAKEN.value,
    )


def _describe(mail: Mail, letter: Letter) -> None:
    """What the record says of a mail's headers: Message-ID, sender, subject, date."""
    mail.message_id = mail.message_id or letter.message_id[:255]
    mail.sender = letter.sender[:254]
    mail.subject = letter.subject[:300]
    mail.sent_at = letter.sent_at


def _addresses(session: Session, program_id: int | None, units: dict[str, Unit]) -> dict[str, Unit]:
    """Each address a unit mails from (its contacts' and its ``mail_from``) → the unit."""
    by_id = {unit.id: unit for unit in units.values()}
    found: dict[str, Unit] = {}
    for contact in session.exec(
        select(Contact).where(col(Contact.unit_id).in_(list(by_id)), Contact.email != "")
    ):
        found[contact.email.lower()] = by_id[contact.unit_id]
    for unit in units.values():
        for address in unit.mail_from:
            found[address.lower()] = unit
    return found


def _headers_only(raw: bytes) -> Letter:
    """The letter's headers (sender, subject, Message-ID) without its body: for a mail too
    large to read or refused whole, whose sender still hears why."""
    end = min((at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0), default=-1)
    head = raw[: end if end >= 0 else min(len(raw), 256 * 1024)]
    try:
        return read_letter(head + b"\r\n\r\n")
    except MailRefused:
        return read_letter(b"\r\n\r\n")


def _status(files: list[MailFile]) -> tuple[str, str]:
    """A mail's status from its files: held if the office must look at any of them, or if
    nothing in it was a new submission (a question, an unfilled form: a person reads it)."""
    held = [item for item in files if item.outcome == PartOutcome.HELD.value]
    if held:
        return MailStatus.HELD.value, "；".join(dict.fromkeys(item.reason for item in held))
    if any(item.outcome == PartOutcome.SUBMITTED.value for item in files):
        return MailStatus.TAKEN.value, ""
    if any(item.outcome == PartOutcome.QUOTED.value for item in files):
        return MailStatus.HELD.value, QUOTED
    return MailStatus.HELD.value, NO_FILES


def _read_once(payload: Payload) -> tuple[dict[str, str], Callable[[Payload], ReadPayload]]:
    """A mailed file read once, as intake reads it: its template's hidden metadata (how a
    workbook in a mail says whose it is; ``{}`` for anything without it, a CSV, a broken or
    refused file), and intake's reader of it (``reader.read_now``), which gives what was
    read or raises what reading raised (intake names what is wrong)."""
    reader = read_now(payload)
    try:
        return dict(reader(payload).meta), reader
    except Exception:  # intake meets it again, and records it as it would
        return {}, reader


def _payload(attachment: Attachment, name: str) -> Payload:
    return Payload(
        name=name, data=attachment.data, source=SOURCE, content_type=attachment.content_type
    )


def _submission_id(session: Session, unit: Unit, summary: SubmissionSummary) -> int | None:
    return session.exec(
        select(Submission.id).where(
            Submission.unit_id == unit.id, Submission.sha256 == summary.sha256
        )
    ).first()


def _reply_headers(letter: Letter) -> dict[str, str]:
    """In-Reply-To and References of an answer to ``letter`` (RFC 5322 3.6.4), and
    Auto-Submitted (RFC 3834), so the liaison's mail client threads it under their mail and
    their auto-responder leaves it alone."""
    headers = {"Auto-Submitted": AUTO_SUBMITTED}
    if letter.message_id:
        chain = [*letter.references[-(MAX_REFERENCES - 1) :], letter.message_id]
        headers["In-Reply-To"] = f"<{letter.message_id}>"
        headers["References"] = " ".join(f"<{reference}>" for reference in chain)
    return headers


def _shown(item: MailFile) -> dict[str, object]:
    """A file as the receipt lists it: its name, what became of it, and its rejections."""
    summary = item.summary
    shown: dict[str, object] = {"name": item.name, "outcome": item.outcome, "reason": item.reason}
    if summary is not None:
        shown.update(
            status=summary.status,
            duplicate=summary.status == SubmissionStatus.DUPLICATE.value,
            imported=summary.imported,
            updated=summary.updated,
            ignored=summary.ignored,
            rejected=summary.rejected,
            rejections=summary.rejections[:NOTICE_REJECTIONS],
            more=max(0, len(summary.rejections) - NOTICE_REJECTIONS),
            notes=summary.notes,
        )
    return shown


def _record_failure(
    engine: Engine,
    program: str,
    fetched: Fetched,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
    error: Exception,
) -> MailOutcome | None:
    """Taking a mail raised (a bug of ours): record it held for the office, archived whole,
    so it is not read again and again; if even that fails, it stays in the mailbox."""
    try:
        with db.session(engine) as session:
            record = store.get_program(session=session, code=program)
            key = message_key(fetched.message_id, fetched.raw)
            if session.exec(
                select(Mail.id).where(Mail.program_id == record.id, Mail.message_key == key)
            ).first():
                return MailOutcome(fetched.uid, "", "", "duplicate")
            mail = _archived(record, key, fetched, home, now)
            _describe(mail, _headers_only(fetched.raw))
            mail.status = MailStatus.HELD.value
            mail.reason = f"{FAILED}（{type(error).__name__}）"
            session.add(mail)
            session.flush()
            outcome = MailOutcome(
                fetched.uid, mail.sender, mail.subject, mail.status, mail.reason, mail_id=mail.id
            )
            if templates is not None:
                _tell_office(session, templates, record, mail, [], {}, now)
            return outcome
    except Exception:
        log.exception("recording the failed mail %s failed", fetched.message_id or fetched.uid)
        return None


# --- the office's view: the mail read, and releasing a held file -------------------------


def list_mail(*, session: Session, program: Program, held: bool = False) -> list[dict[str, object]]:
    """The program's mail, newest first, each with its files; ``held``: only mail with a
    file or a reason the office must look at."""
    query = select(Mail).where(Mail.program_id == program.id)
    if held:
        query = query.where(Mail.status.in_([MailStatus.HELD.value, MailStatus.REFUSED.value]))  # type: ignore[attr-defined]
    mails = session.exec(query.order_by(col(Mail.id).desc())).all()
    units = {
        unit.id: unit.code
        for unit in session.exec(select(Unit).where(Unit.program_id == program.id))
    }
    parts: dict[int, list[MailPart]] = {}
    for part in session.exec(
        select(MailPart)
        .where(col(MailPart.mail_id).in_([mail.id for mail in mails]))
        .order_by(col(MailPart.position))
    ):
        parts.setdefault(part.mail_id, []).append(part)
    return [
        {
            "id": mail.id,
            "received_at": mail.received_at.isoformat() if mail.received_at else "",
            "sender": mail.sender,
            "unit": units.get(mail.unit_id, ""),
            "subject": mail.subject,
            "status": mail.status,
            "reason": mail.reason,
            "sha256": mail.sha256,
            "archived": mail.archived,  # "head": only the first MB of a mail too large
            "files": [
                {
                    "id": part.id,
                    "name": part.name,
                    "outcome": part.outcome,
                    "unit": units.get(part.unit_id, ""),
                    "reason": part.reason,
                    "sha256": part.sha256,
                    "released_by": part.released_by,
                }
                for part in parts.get(mail.id, [])  # type: ignore[arg-type]
            ],
        }
        for mail in mails
    ]


def release(
    *,
    session: Session,
    program: Program,
    part_id: int,
    unit_code: str,
    by: str,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> SubmissionSummary:
    """Take a held file of a mail as ``unit_code``'s submission, once the office has made
    sure whose it is. Its bytes come from the archive, checked against their sha256; the
    unit's liaison is told of any rejection as for any submission."""
    part = session.exec(
        select(MailPart)
        .join(Mail, col(MailPart.mail_id) == Mail.id)
        .where(MailPart.id == part_id, Mail.program_id == program.id)
        .with_for_update()
    ).first()
    if part is None:
        raise NotFoundError(f"no file {part_id} in the mail of program {program.code}")
    unit = session.exec(
        select(Unit).where(Unit.program_id == program.id, Unit.code == unit_code)
    ).first()
    if unit is None:
        raise NotFoundError(f"no unit {unit_code!r} in program {program.code}")
    if part.outcome != PartOutcome.HELD.value:
        raise MailError(f"file {part_id} is {part.outcome}, not held; only a held file is released")
    try:
        data = read_archived(home, part.archive_path, part.sha256)
    except ArchiveError as error:
        raise MailError(f"file {part_id}: {error}; restore the archive from the backup") from None
    summary = take_payload(
        session=session,
        program=program,
        unit=unit,
        payload=Payload(name=part.name, data=data, source=SOURCE),
        as_of=as_of,
        now=now,
        home=home,
        templates=templates,
    )
    part.outcome = PartOutcome.SUBMITTED.value
    part.unit_id = unit.id
    part.submission_id = _submission_id(session, unit, summary)
    part.released_by = by[:64]
    mail = session.get(Mail, part.mail_id)
    if (
        mail is not None
        and not session.exec(
            select(MailPart.id).where(
                MailPart.mail_id == mail.id, MailPart.outcome == PartOutcome.HELD.value
            )
        ).first()
    ):
        mail.status, mail.reason = MailStatus.TAKEN.value, ""
    session.flush()
    return summary
