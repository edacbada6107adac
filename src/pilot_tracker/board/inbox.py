"""The answers inbox (单位答复): what units sent back that the office decides or answers.

- **Extension requests** (延期申请): the pending ones first (oldest first), each to approve
  or reject; then the decided ones (latest decision first), with who decided and why.
- **Statements** (对账单): for each quarter written, newest first, each unit's answer as
  ``pilot-tracker reconcile list`` shows it: disputes first, then units that have not
  answered, then confirmations; under a dispute, the replies the office sent.

- **Held mail** (邮件待处理): what the office's mailbox brought that pilot-tracker would not
  take under a guess (``collect/replies.py``): a file whose unit cannot be told, a mail
  with no new workbook, a mail refused whole; newest first, each file with why it is held,
  and its original to read (checked against its sha256 before it is sent).

The office's decision goes through ``extensions.decide`` (which tells the unit's liaison,
through the outbox, with the unit's link); a reply to a dispute is a message to the unit's
liaison, with its link, queued once per text; a held file is taken as the unit the office
names through ``replies.release``. Each is checked here first, in Chinese, at
their form field (``BoardError``); what names something not of the program is a
``BoardNotFound`` (404), exactly as something that does not exist.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.collect import replies
from pilot_tracker.collect.intake import SubmissionSummary, read_archived
from pilot_tracker.errors import (
    ArchiveError,
    BoardError,
    BoardNotFound,
    MailError,
    NotFoundError,
)
from pilot_tracker.models import (
    LABELS,
    ArchiveExtent,
    Channel,
    ConfirmationStatus,
    Document,
    DocumentKind,
    Extension,
    ExtensionStatus,
    Mail,
    MailPart,
    MailStatus,
    Notification,
    NotificationStatus,
    PartOutcome,
    Program,
    SubmissionStatus,
    Unit,
)
from pilot_tracker.portal.answers import quarter_title
from pilot_tracker.reports import reconciliation
from pilot_tracker.supervise import extensions
from pilot_tracker.supervise.extensions import ExtensionLine

MAX_REPLY = 2000  # characters, as every text field of the board
MAX_NOTE = extensions.MAX_REASON  # what ``decide`` keeps of a decision's note
ACTIONS = ("approve", "reject")
BY_COMMAND_LINE = "命令行"
UNANSWERED = "未答复"
SENT = {
    NotificationStatus.PENDING.value: "待发送",
    NotificationStatus.SENT.value: "已发送",
    NotificationStatus.FAILED.value: "发送失败",
    NotificationStatus.MERGED.value: "已合并发送",
}
MISSING = "没有这项内容，或它不属于本试点。请从“单位答复”页面进入。"
# The unit's personal link in a message body: a bearer secret of that unit, never shown on
# the board (its address ends in /u/<token>).
_LINK = re.compile(r"\S*/u/[A-Za-z0-9._~-]+")
LINK_MASKED = "（该单位专属链接，仅发给该单位，此处不显示）"


# --- what the inbox shows --------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionRequest:
    """An extension request as the inbox shows it."""

    line: ExtensionLine
    unit_name: str

    @property
    def via(self) -> str:
        return LABELS[Channel][self.line.via]

    @property
    def decided_by(self) -> str:
        return self.line.decided_by or BY_COMMAND_LINE

    @property
    def requested_at(self) -> str:
        moment = self.line.requested_at
        return moment.strftime("%Y-%m-%d %H:%M") if moment else self.line.requested_on.isoformat()


@dataclass(frozen=True)
class Reply:
    """A reply the office sent to a dispute, as the outbox holds it (the link masked)."""

    subject: str
    body: str
    sent_at: str  # when it was queued, in the program's time zone
    status: str  # in Chinese


@dataclass(frozen=True)
class Answer:
    """A unit's answer to its statement of a quarter: the one that stands."""

    unit: str
    name: str
    status: str | None  # a ConfirmationStatus; None: not answered
    label: str
    recorded_at: str
    via: str
    note: str
    superseded: int
    replies: tuple[Reply, ...] = ()

    @property
    def disputed(self) -> bool:
        return self.status == ConfirmationStatus.DISPUTED.value


@dataclass(frozen=True)
class Quarter:
    """The answers to the statements of one quarter written: disputes, then units that have
    not answered, then confirmations."""

    quarter: str
    answers: list[Answer]

    @property
    def title(self) -> str:
        return quarter_title(self.quarter)

    @property
    def disputed(self) -> int:
        return sum(answer.disputed for answer in self.answers)

    @property
    def unanswered(self) -> int:
        return sum(answer.status is None for answer in self.answers)

    @property
    def confirmed(self) -> int:
        return sum(answer.status == ConfirmationStatus.CONFIRMED.value for answer in self.answers)


@dataclass(frozen=True)
class MailFile:
    """A file of a held mail: held ones with why, the others with what became of them."""

    id: int
    name: str
    outcome: str  # a PartOutcome
    reason: str
    unit: str  # the unit's code it was taken as, or the one it claims when held; "" if none
    unit_name: str
    released_by: str  # the account that took it as its unit's ("" for the command line)

    @property
    def held(self) -> bool:
        return self.outcome == PartOutcome.HELD.value

    @property
    def outcome_label(self) -> str:
        return LABELS[PartOutcome].get(self.outcome, self.outcome)


@dataclass(frozen=True)
class HeldMail:
    """A mail held for the office, or refused whole, as the inbox shows it."""

    id: int
    received_at: str  # in the program's time zone
    sender: str
    sender_unit: str  # the name of the unit whose address sent it; "" if none
    subject: str
    status: str  # a MailStatus
    reason: str
    head_only: bool  # refused by its size: the archive holds its first MB only
    files: tuple[MailFile, ...]

    @property
    def status_label(self) -> str:
        return LABELS[MailStatus].get(self.status, self.status)

    @property
    def held_files(self) -> int:
        return sum(item.held for item in self.files)


@dataclass(frozen=True)
class Inbox:
    pending: list[ExtensionRequest]
    decided: list[ExtensionRequest]
    quarters: list[Quarter]
    mail: list[HeldMail] = field(default_factory=list)
    units: list[tuple[str, str]] = field(default_factory=list)  # (code, name), to release as

    @property
    def disputed(self) -> int:
        return sum(quarter.disputed for quarter in self.quarters)

    @property
    def unanswered(self) -> int:
        return sum(quarter.unanswered for quarter in self.quarters)


def inbox(*, session: Session, program: Program) -> Inbox:
    """The program's extension requests, the answers to its statements and its held mail."""
    units = session.exec(
        select(Unit.code, Unit.name)
        .where(Unit.program_id == program.id)
        .order_by(col(Unit.position), col(Unit.id))
    ).all()
    names = dict(units)
    requests = [
        ExtensionRequest(line, names.get(line.unit, line.unit))
        for line in extensions.list_extensions(session=session, program=program)
    ]
    pending = [item for item in requests if item.line.status == ExtensionStatus.PENDING.value]
    decided = sorted(
        (item for item in requests if item.line.status != ExtensionStatus.PENDING.value),
        key=lambda item: (item.line.decided_on or date.min, item.line.id),
        reverse=True,
    )
    replies = _replies(session, program)
    quarters = [
        _quarter(session, program, quarter, replies)
        for quarter in quarters_written(session, program)
    ]
    return Inbox(
        pending=pending,
        decided=decided,
        quarters=quarters,
        mail=held_mail(session=session, program=program, names=names),
        units=[(code, name) for code, name in units],
    )


def quarters_written(session: Session, program: Program) -> list[str]:
    """The quarters whose reconciliation was written, newest first."""
    return list(
        session.exec(
            select(Document.period)
            .where(
                Document.program_id == program.id,
                Document.kind == DocumentKind.QUARTERLY.value,
            )
            .distinct()
            .order_by(col(Document.period).desc())
        )
    )


_ORDER = {ConfirmationStatus.DISPUTED.value: 0, None: 1, ConfirmationStatus.CONFIRMED.value: 2}


def _quarter(
    session: Session,
    program: Program,
    quarter: str,
    replies: dict[tuple[str, str], list[Reply]],
) -> Quarter:
    found = [
        Answer(
            unit=item["unit"],
            name=item["name"],
            status=item["status"],
            label=item["label"] if item["status"] else UNANSWERED,
            recorded_at=_when(item["recorded_at"], program.timezone),
            via=LABELS[Channel][item["via"]] if item["via"] else "",
            note=item["note"],
            superseded=item["superseded"],
            replies=tuple(replies.get((item["unit"], quarter), ())),
        )
        for item in reconciliation.answers(session=session, program=program.code, quarter=quarter)
    ]
    found.sort(key=lambda answer: _ORDER.get(answer.status, 1))  # stable: the ledger's order
    return Quarter(quarter=quarter, answers=found)


def _when(stored: str | None, zone: str) -> str:
    if not stored:
        return ""
    return db.local_moment(datetime.fromisoformat(stored), zone).strftime("%Y-%m-%d %H:%M")


# --- the office decides an extension request --------------------------------------------------


@dataclass(frozen=True)
class Done:
    """What the office did, as the page's message says it, and where on the page."""

    message: str
    anchor: str


def decide_extension(
    *,
    session: Session,
    program: Program,
    extension_id: str,
    action: str,
    note: str,
    decided_by: str,
    now: datetime,
    templates: outbox.Templates,
) -> Done:
    """Approve or reject a pending request of the program; the unit's liaison is told.

    Refused in Chinese at its field (``BoardError``), nothing written: an action that is
    neither approve nor reject, a request already decided, a rejection without a note, a
    note too long. A request not of the program (or no number at all) is ``BoardNotFound``.
    """
    extension = _extension_of(session, program, extension_id)
    if action not in ACTIONS:
        raise BoardError("请点击“批准”或“不批准”按钮办理。", field="action")
    if extension.status != ExtensionStatus.PENDING.value:
        by = extension.decided_by or BY_COMMAND_LINE
        label = LABELS[ExtensionStatus][extension.status]
        raise BoardError(
            f"该延期申请已于{extension.decided_on}办理（{label}，办理人：{by}），"
            "无需重复办理；页面已刷新为最新状态。",
            field="action",
        )
    text = " ".join(note.split())
    if action == "reject" and not text:
        raise BoardError("不批准时请写明理由，理由将发送给申请单位的联络员。", field="note")
    if len(text) > MAX_NOTE:
        raise BoardError(
            f"审批意见不能超过{MAX_NOTE}字（现有{len(text)}字），请精简后再提交。", field="note"
        )
    day = now.astimezone(ZoneInfo(program.timezone)).date()
    asked = db.local_moment(extension.requested_at, program.timezone).date()  # type: ignore[arg-type]
    if day < asked:
        raise BoardError(f"该申请于{asked}提出，不能在此之前办理。", field="action")
    line = extensions.decide(
        session=session,
        extension_id=extension.id,  # type: ignore[arg-type]
        approve=action == "approve",
        note=text,
        now=now,
        decided_by=decided_by,
        templates=templates,
    )
    unit = session.get(Unit, extension.unit_id)
    who = unit.name if unit else line.unit
    if action == "approve":
        said = (
            f"已批准{who}任务{line.task}的延期申请：完成时限由{line.previous_due}延至"
            f"{line.proposed_due}，自{line.decided_on}起生效。"
        )
    else:
        said = f"已不批准{who}任务{line.task}的延期申请，完成时限仍为{line.previous_due}。"
    return Done(f"{said}结果已通知该单位联络员（消息已进入发送队列）。", f"extension-{line.id}")


def _extension_of(session: Session, program: Program, number: str) -> Extension:
    """The request of this number in the program, or BoardNotFound; locked for the
    decision on PostgreSQL (two offices deciding at once: the second sees the first's)."""
    if not re.fullmatch(r"[0-9]{1,18}", number):
        raise BoardNotFound(MISSING)
    extension = session.get(Extension, int(number), with_for_update=True)
    if extension is None or extension.program_id != program.id:
        raise BoardNotFound(MISSING)
    return extension


# --- the office replies to a dispute -------------------------------------------------------------


def reply_prefix(program: str, unit: str | None = None, quarter: str | None = None) -> str:
    """The start of the dedup keys of the replies of a program (of a unit's statement of a
    quarter, if given)."""
    prefix = f"statement-reply:{program}:"
    if unit is not None and quarter is not None:
        prefix += f"{unit}:{quarter}:"
    return prefix


def reply_key(program: str, unit: str, quarter: str, text: str) -> str:
    """One reply per text: the same reply posted twice is queued once."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{reply_prefix(program, unit, quarter)}{digest}"


def reply_to_statement(
    *,
    session: Session,
    program: Program,
    unit_code: str,
    quarter: str,
    text: str,
    now: datetime,
    templates: outbox.Templates,
) -> Done:
    """Queue the office's reply to a unit's dispute of its statement of a quarter, to the
    unit's liaison, with the unit's link.

    A unit not of the program, or a quarter never written, is ``BoardNotFound``; a unit
    whose answer that stands is not a dispute, or a text empty or too long, a
    ``BoardError`` at ``text``. The same text twice is queued once.
    """
    unit = session.exec(
        select(Unit).where(Unit.program_id == program.id, Unit.code == unit_code)
    ).first()
    if unit is None or quarter not in quarters_written(session, program):
        raise BoardNotFound(MISSING)
    title = quarter_title(quarter)
    answer = next(
        item
        for item in reconciliation.answers(session=session, program=program.code, quarter=quarter)
        if item["unit"] == unit.code
    )
    if answer["status"] is None:
        raise BoardError(f"{unit.name}尚未答复{title}对账单，没有待答复的异议。", field="text")
    if answer["status"] != ConfirmationStatus.DISPUTED.value:
        raise BoardError(
            f"{unit.name}目前对{title}对账单的答复是“{answer['label']}”，没有待答复的异议。",
            field="text",
        )
    reply = " ".join(text.split())
    if not reply:
        raise BoardError("请填写答复内容。", field="text")
    if len(reply) > MAX_REPLY:
        raise BoardError(
            f"答复不能超过{MAX_REPLY}字（现有{len(reply)}字），请精简后再发送。", field="text"
        )
    anchor = f"statement-{quarter}-{unit.code}"
    key = reply_key(program.code, unit.code, quarter, reply)
    if outbox.queued(session=session, dedup_key=key):
        return Done(f"同样的答复此前已发送给{unit.name}，未重复发送。", anchor)
    today = now.astimezone(ZoneInfo(program.timezone)).date()
    dispute = answer["note"]
    outbox.tell_liaison(
        session=session,
        templates=templates,
        template="alerts/statement_reply.txt.j2",
        program=program,
        unit=unit,
        dedup_key=key,
        now=now,
        title=title,
        dispute=dispute if len(dispute) <= 80 else f"{dispute[:80]}……",
        text=reply,
        today=outbox.chinese_date(today),
    )
    return Done(f"已答复{unit.name}对{title}对账单的异议（消息已进入发送队列）。", anchor)


def _replies(session: Session, program: Program) -> dict[tuple[str, str], list[Reply]]:
    """The replies sent to the program's disputes, by (unit, quarter), oldest first."""
    prefix = reply_prefix(program.code)
    found: dict[tuple[str, str], list[Reply]] = {}
    for row in session.exec(
        select(Notification)
        .where(
            Notification.program_id == program.id,
            col(Notification.dedup_key).startswith(prefix, autoescape=True),
        )
        .order_by(col(Notification.id))
    ):
        unit, quarter, _ = row.dedup_key.removeprefix(prefix).rsplit(":", 2)
        sent = db.local_moment(row.created_at, program.timezone) if row.created_at else None
        found.setdefault((unit, quarter), []).append(
            Reply(
                subject=row.subject,
                body=_LINK.sub(LINK_MASKED, row.body),
                sent_at=sent.strftime("%Y-%m-%d %H:%M") if sent else "",
                status=SENT.get(row.status, row.status),
            )
        )
    return found


# --- the mail held for the office ------------------------------------------------------------

MAIL_GONE = (
    "这封邮件的存档副本已不在服务器上，无法下载。请联系系统管理员从备份恢复数据目录中的存档。"
)
MAIL_DIFFERS = (
    "这封邮件的存档副本与收到时不一致（校验值 sha256 不符），可能已损坏或被改动，因此不提供下载。"
    "请联系系统管理员从备份恢复数据目录中的存档后再试。"
)
FILE_UNREADABLE = (
    "该文件的存档副本无法读取，或与收到时不一致（校验值 sha256 不符），未能导入。"
    "请联系系统管理员从备份恢复数据目录中的存档后再试。"
)


def held_mail(
    *, session: Session, program: Program, names: dict[str, str] | None = None
) -> list[HeldMail]:
    """The program's mail held for the office or refused whole, newest first, each with
    its files (as ``pilot-tracker mail list --held`` lists them)."""
    if names is None:
        names = dict(
            session.exec(select(Unit.code, Unit.name).where(Unit.program_id == program.id)).all()
        )
    listed = replies.list_mail(session=session, program=program, held=True)
    return [
        HeldMail(
            id=item["id"],  # type: ignore[arg-type]
            received_at=_when(item["received_at"], program.timezone),  # type: ignore[arg-type]
            sender=str(item["sender"]),
            sender_unit=names.get(str(item["unit"]), ""),
            subject=str(item["subject"]),
            status=str(item["status"]),
            reason=str(item["reason"]),
            head_only=item["archived"] == ArchiveExtent.HEAD.value,
            files=tuple(
                MailFile(
                    id=part["id"],
                    name=part["name"],
                    outcome=part["outcome"],
                    reason=part["reason"],
                    unit=part["unit"],
                    unit_name=names.get(part["unit"], part["unit"]),
                    released_by=part["released_by"],
                )
                for part in item["files"]  # type: ignore[attr-defined]
            ),
        )
        for item in listed
    ]


def release_file(
    *,
    session: Session,
    program: Program,
    part_id: str,
    unit_code: str,
    by: str,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates,
) -> Done:
    """Take a held file of the program's mail as ``unit_code``'s submission, once the
    office has made sure whose it is (``replies.release``); the unit's liaison is told of
    any rejection.

    Refused in Chinese at its form's ``unit`` field (``BoardError``), nothing written: a
    file no longer held (taken already, or never a workbook), no unit or one not of the
    program, an archived copy that cannot be read or differs from the file received. A
    file not of the program (or no number at all) is ``BoardNotFound``.
    """
    part = _part_of(session, program, part_id)
    if part.outcome != PartOutcome.HELD.value:
        raise BoardError(_not_held(session, part), field="unit")
    code = unit_code.strip()
    if not code:
        raise BoardError("请选择该文件所属的单位。", field="unit")
    unit = session.exec(
        select(Unit).where(Unit.program_id == program.id, Unit.code == code)
    ).first()
    if unit is None:
        raise BoardError(
            f"“{code[:40]}”不是本试点的成员单位，请从列表中选择该文件所属的单位。", field="unit"
        )
    try:
        summary = replies.release(
            session=session,
            program=program,
            part_id=part.id,  # type: ignore[arg-type]
            unit_code=unit.code,
            by=by,
            as_of=as_of,
            now=now,
            home=home,
            templates=templates,
        )
    except NotFoundError:
        raise BoardNotFound(MISSING) from None
    except MailError:
        raise BoardError(FILE_UNREADABLE, field="unit") from None
    return Done(_released(part.name, unit.name, summary), f"mail-{part.mail_id}")


def _part_of(session: Session, program: Program, number: str) -> MailPart:
    """The file of this number in the program's mail, or BoardNotFound; locked for the
    release on PostgreSQL (two offices at once: the second finds it taken)."""
    if not re.fullmatch(r"[0-9]{1,18}", number):
        raise BoardNotFound(MISSING)
    part = session.exec(
        select(MailPart)
        .join(Mail, col(MailPart.mail_id) == Mail.id)
        .where(MailPart.id == int(number), Mail.program_id == program.id)
        .with_for_update()
    ).first()
    if part is None:
        raise BoardNotFound(MISSING)
    return part


def _not_held(session: Session, part: MailPart) -> str:
    """Why a file that is not held is not taken again, as the office reads it."""
    name = f"《{part.name}》"
    if part.outcome == PartOutcome.SUBMITTED.value:
        unit = session.get(Unit, part.unit_id) if part.unit_id is not None else None
        by = f"（办理人：{part.released_by}）" if part.released_by else ""
        who = f"{unit.name}的报送" if unit is not None else "报送"
        return f"{name}已作为{who}导入{by}，无需重复导入；页面已刷新为最新状态。"
    if part.outcome == PartOutcome.QUOTED.value:
        return f"{name}是专班发出的原填报表（未作修改），不作为报送，不能导入。"
    return f"{name}不是填报表（{part.reason or '无法读取'}），不能导入。"


def _released(name: str, unit: str, summary: SubmissionSummary) -> str:
    """What the release did, as the page's message says it."""
    if summary.status == SubmissionStatus.DUPLICATE.value:
        return f"《{name}》与{unit}此前报送的文件完全相同，未重复导入；该文件已记为{unit}的报送。"
    counts = f"新增{summary.imported}条"
    if summary.updated:
        counts += f"，更新{summary.updated}条"
    if summary.ignored:
        counts += f"，与已报送内容相同{summary.ignored}条"
    if not summary.rejected:
        return f"已将《{name}》作为{unit}的报送导入（{counts}）。"
    rest = summary.imported + summary.updated
    return (
        f"已将《{name}》作为{unit}的报送导入，但有{summary.rejected}处未能导入"
        + (f"（其余{rest}条已导入）" if rest else "")
        + "；已通知该单位联络员修改后重新报送。"
    )


@dataclass(frozen=True)
class MailOriginal:
    """A mail's archived bytes, checked, and the name to download them as."""

    data: bytes
    filename: str
    ascii_name: str  # for a client that cannot read an RFC 5987 name


def mail_original(*, session: Session, program: Program, mail_id: str, home: Path) -> MailOriginal:
    """The archived raw bytes of mail ``mail_id`` (its id, as the URL gives it) of
    ``program``, found by the path its record holds under ``home``'s archive and checked
    against the sha256 recorded when it was received.

    ``BoardNotFound`` for an id that is not a number, a mail of another program or none
    (the same words), and an archive file that is gone (or a record pointing outside the
    archive); ``BoardError`` for bytes that differ from those received.
    """
    if not re.fullmatch(r"[0-9]{1,18}", mail_id):
        raise BoardNotFound(MISSING)
    mail = session.get(Mail, int(mail_id))
    if mail is None or mail.program_id != program.id:
        raise BoardNotFound(MISSING)
    try:
        data = read_archived(home, mail.archive_path, mail.sha256)
    except ArchiveError as error:
        if error.gone:
            raise BoardNotFound(MAIL_GONE) from None
        raise BoardError(MAIL_DIFFERS) from None
    return MailOriginal(data=data, filename=f"邮件-{mail.id}.eml", ascii_name=f"mail-{mail.id}.eml")
