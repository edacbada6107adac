"""The domain's vocabularies: the values a program, a report or an escalation can take, as
``StrEnum``s stored as short strings, and the Chinese name of each for what users read.

Plain Python (no SQLAlchemy): what reads a program file or a workbook needs these and
not the tables (``models`` guards each with a CHECK constraint).
"""

from __future__ import annotations

from enum import StrEnum


class ProgramLevel(StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"
    MUNICIPAL = "municipal"


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class ContactRole(StrEnum):
    LIAISON = "liaison"
    HEAD = "head"


class ListKind(StrEnum):
    MECHANISM = "mechanism"
    DEVELOPMENT = "development"
    PERSONALISED = "personalised"
    KEY_PROJECT = "key_project"


class IndicatorLevel(StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"
    SELF_SET = "self_set"


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"


class TaskStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DELAYED = "delayed"
    SUSPENDED = "suspended"


class Severity(StrEnum):
    YELLOW = "yellow"
    RED = "red"


class EscalationLevel(StrEnum):
    """The rungs of the escalation ladder, lowest first: the order they are climbed in."""

    REMINDER = "reminder"
    URGE = "urge"
    INTERVIEW = "interview"

    @property
    def rank(self) -> int:
        """How far up the ladder: 0 for a reminder, 2 for an interview."""
        return list(EscalationLevel).index(self)


class EscalationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    MERGED = "merged"  # went out inside a digest, kept as the first item of it


class SubmissionStatus(StrEnum):
    IMPORTED = "imported"
    PARTIAL = "partial"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class MailStatus(StrEnum):
    """What became of a mail in the office's mailbox."""

    TAKEN = "taken"  # its workbooks went in (imported or rejected, each with a receipt)
    HELD = "held"  # something in it is held for the office to look at
    IGNORED = "ignored"  # an automatic message (auto-reply, bounce): read, never answered
    REFUSED = "refused"  # too large or malformed: refused whole, the office told


class PartOutcome(StrEnum):
    """What became of one file in a mail."""

    SUBMITTED = "submitted"  # taken in as a submission of its unit
    HELD = "held"  # whose it is cannot be told, or the sender does not match: the office's
    QUOTED = "quoted"  # a file pilot-tracker sent (the reminder's workbook, quoted back)
    SKIPPED = "skipped"  # not a data file (a picture, a PDF): noted in the receipt


class ArchiveExtent(StrEnum):
    """How much of a submission's payload the archive holds."""

    WHOLE = "whole"
    HEAD = "head"  # the first MB of a payload refused by its size


class ConfirmationStatus(StrEnum):
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class ExtensionStatus(StrEnum):
    """Where a unit's request to move a task's due date (延期申请) stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Channel(StrEnum):
    """How an answer of a unit reached pilot-tracker."""

    CLI = "cli"  # the office typed it in for the unit
    PORTAL = "portal"  # the unit, through its personal link


class AccountRole(StrEnum):
    """What an account of the board may do: the office (专班) acts on its programs, a
    leader (领导) reads them."""

    OFFICE = "office"
    LEADER = "leader"


class DocumentKind(StrEnum):
    """The documents pilot-tracker writes: the quarterly reconciliation, the half-year
    evaluation, the annual blue book (青年发展蓝皮书) of a program; a city's roll-up
    (``CityDocument``) is quarterly or half-year."""

    QUARTERLY = "quarterly"
    HALF_YEAR = "half_year"
    ANNUAL = "annual"


class IndicatorState(StrEnum):
    """Where an indicator stands in the half-year evaluation (worked out, not stored)."""

    REACHED = "reached"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    NO_DATA = "no_data"


class HasState(StrEnum):
    """How far one of the six "has" (六有) is carried out (worked out, not stored)."""

    DONE = "done"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"
    UNMAPPED = "unmapped"


# What users read: the Chinese names of each vocabulary (workbooks, reports, alerts).
# Figures are worked out on the codes; these names are put in only when a page is written.
LABELS: dict[type[StrEnum], dict[str, str]] = {
    ProgramLevel: {"national": "国家级", "provincial": "省级", "municipal": "市级"},
    Cadence: {"monthly": "按月", "quarterly": "按季"},
    ContactRole: {"liaison": "联络员", "head": "主要负责人"},
    ListKind: {
        "mechanism": "机制性任务",
        "development": "发展任务",
        "personalised": "个性化任务",
        "key_project": "重点工程",
    },
    IndicatorLevel: {"national": "国家指标", "provincial": "省级指标", "self_set": "自设指标"},
    Direction: {"increase": "正向", "decrease": "逆向"},
    EscalationLevel: {"reminder": "提醒", "urge": "督办", "interview": "约谈建议"},
    TaskStatus: {
        "not_started": "未启动",
        "in_progress": "推进中",
        "completed": "已完成",
        "delayed": "滞后",
        "suspended": "暂停",
    },
    ConfirmationStatus: {"confirmed": "已确认", "disputed": "有异议"},
    ExtensionStatus: {"pending": "待审批", "approved": "已批准", "rejected": "未批准"},
    Channel: {"cli": "专班录入", "portal": "单位在线提交"},
    MailStatus: {
        "taken": "已导入",
        "held": "待专班处理",
        "ignored": "自动回复",
        "refused": "已拒收",
    },
    PartOutcome: {
        "submitted": "已报送",
        "held": "待专班处理",
        "quoted": "原提醒附件",
        "skipped": "非填报文件",
    },
    AccountRole: {"office": "专班", "leader": "领导"},
    IndicatorState: {
        "reached": "已达目标",
        "on_track": "正常推进",
        "behind": "滞后",
        "no_data": "暂无数据",
    },
    HasState: {
        "done": "已落实",
        "in_progress": "推进中",
        "not_started": "未启动",
        "unmapped": "未对应任务",
    },
}


def label(value: StrEnum) -> str:
    """The Chinese name of a vocabulary value."""
    return LABELS[type(value)][value.value]
