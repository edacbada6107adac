"""The answers inbox (单位答复): what units sent back that the office decides or answers.

- **Extension requests** (延期申请): the pending ones first (oldest first), each to approve
  or reject; then the decided ones (latest decision first), with who decided and why.
- **Statements** (对账单): for each quarter written, newest first, each unit's answer as
  ``pilot-tracker reconcile list`` shows it: disputes first, then units that have not
  answered, then confirmations; under a dispute, the replies the office sent.

The office's decision goes through ``extensions.decide`` (which tells the unit's liaison,
through the outbox, with the unit's link); a reply to a dispute is a message to the unit's
liaison, with its link, queued once per text. Both are checked here first, in Chinese, at
their form field (``BoardError``); what names something not of the program is a
``BoardNotFound`` (404), exactly as something that does not exist.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import BoardError, BoardNotFound
from pilot_tracker.models import (
    LABELS,
    Channel,
    ConfirmationStatus,
    Document,
    DocumentKind,
    Extension,
    ExtensionStatus,
    Notification,
    NotificationStatus,
    Program,
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
class Inbox:
    pending: list[ExtensionRequest]
    decided: list[ExtensionRequest]
    quarters: list[Quarter]

    @property
    def disputed(self) -> int:
        return sum(quarter.disputed for quarter in self.quarters)

    @property
    def unanswered(self) -> int:
        return sum(quarter.unanswered for quarter in self.quarters)


def inbox(*, session: Session, program: Program) -> Inbox:
    """The program's extension requests and the answers to its statements."""
    names = dict(
        session.exec(select(Unit.code, Unit.name).where(Unit.program_id == program.id)).all()
    )
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
    return Inbox(pending=pending, decided=decided, quarters=quarters)


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
