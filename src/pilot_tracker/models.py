"""The tables: one SQLModel class per concept of the domain (DESIGN.md section 2).

Vocabularies are ``StrEnum``s stored as short strings and guarded by CHECK constraints,
so PostgreSQL and SQLite hold the same values and a schema change is a plain migration.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from pilot_tracker.vocabulary import LABELS as LABELS
from pilot_tracker.vocabulary import (
    AccountRole,
    ArchiveExtent,
    Cadence,
    Channel,
    ConfirmationStatus,
    ContactRole,
    Direction,
    DocumentKind,
    EscalationLevel,
    EscalationStatus,
    ExtensionStatus,
    IndicatorLevel,
    ListKind,
    MailStatus,
    NotificationStatus,
    PartOutcome,
    ProgramLevel,
    Severity,
    SubmissionStatus,
    TaskStatus,
)
from pilot_tracker.vocabulary import HasState as HasState
from pilot_tracker.vocabulary import IndicatorState as IndicatorState
from pilot_tracker.vocabulary import label as label

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, vocabulary: type[StrEnum]) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in vocabulary)
    return CheckConstraint(f"{column} IN ({values})", name=column)


def _code() -> Any:
    return Field(sa_type=String(40))


def _timestamp(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


# --- the ledger -------------------------------------------------------------------------


class Program(SQLModel, table=True):
    """One pilot (试点)."""

    __table_args__ = (
        UniqueConstraint("code"),
        _one_of("level", ProgramLevel),
        _one_of("cadence", Cadence),
        CheckConstraint("end_date >= start_date", name="dates"),
        CheckConstraint("deadline_day BETWEEN 1 AND 31", name="deadline_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = _code()
    name: str = Field(sa_type=String(200))
    level: str = Field(sa_type=String(20))
    start_date: date
    end_date: date
    timezone: str = Field(sa_type=String(64))
    cadence: str = Field(sa_type=String(20))
    deadline_day: int
    rules: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    calendar: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    evaluation: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # The office's mailbox (program_file.MailboxSpec), or NULL where the program has none.
    mailbox: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Who issues its Word documents (program_file.DocumentsSpec), or NULL where not given.
    documents: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    source_name: str = Field(default="", sa_type=String(255))
    source_sha256: str = Field(default="", sa_type=String(64))
    loaded_at: datetime | None = _timestamp()
    updated_at: datetime | None = _timestamp()
    # A new token each time the ledger is loaded (``store.read_program`` keeps what it read
    # under it); "" for a program last loaded before there were tokens.
    revision: str = Field(default="", sa_type=String(32), sa_column_kwargs={"server_default": ""})


class Unit(SQLModel, table=True):
    """A member unit (成员单位) of the leading group."""

    __table_args__ = (
        UniqueConstraint("program_id", "code"),
        UniqueConstraint("program_id", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", ondelete="CASCADE", index=True)
    code: str = _code()
    name: str = Field(sa_type=String(200))
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # Addresses the unit mails from besides its contacts' (lower case).
    mail_from: list[str] = Field(default_factory=list, sa_type=JSON)
    position: int = 0
    # The version of the unit's personal links (ledger/links.py): a link carries the version
    # it was issued under, and revoking the unit's links raises this, so every older link
    # stops working at once. No secret is stored.
    link_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Contact(SQLModel, table=True):
    """A unit's liaison (联络员) or head (主要负责人). Alert targets live in the Apprise config."""

    __table_args__ = (UniqueConstraint("unit_id", "role"), _one_of("role", ContactRole))

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", ondelete="CASCADE", index=True)
    role: str = Field(sa_type=String(20))
    name: str = Field(default="", sa_type=String(100))
    title: str = Field(default="", sa_type=String(100))
    phone: str = Field(default="", sa_type=String(40))
    email: str = Field(default="", sa_type=String(254), sa_column_kwargs={"server_default": ""})


class TaskList(SQLModel, table=True):
    """A task list (任务清单) of one kind."""

    __tablename__ = "task_list"
    __table_args__ = (UniqueConstraint("program_id", "kind"), _one_of("kind", ListKind))

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", ondelete="CASCADE", index=True)
    kind: str = Field(sa_type=String(20))
    name: str = Field(sa_type=String(200))
    position: int = 0


class Task(SQLModel, table=True):
    """One task of a task list, led by one unit with optional co-units."""

    __table_args__ = (
        UniqueConstraint("program_id", "code"),
        CheckConstraint("due_date >= start_date", name="dates"),
        CheckConstraint("weight > 0", name="weight"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", ondelete="CASCADE", index=True)
    task_list_id: int = Field(foreign_key="task_list.id", index=True)
    code: str = _code()
    title: str = Field(sa_type=String(500))
    lead_unit_id: int = Field(foreign_key="unit.id", index=True)
    start_date: date
    due_date: date
    weight: float = 1.0
    deliverable: str = Field(default="", sa_type=Text)
    has: str | None = Field(default=None, sa_type=String(20))
    position: int = 0


class TaskCoUnit(SQLModel, table=True):
    """A co-unit (配合单位) of a task."""

    __tablename__ = "task_co_unit"

    task_id: int = Field(foreign_key="task.id", ondelete="CASCADE", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)
    position: int = 0


class Milestone(SQLModel, table=True):
    """A planned percent of a task by a date."""

    __table_args__ = (
        UniqueConstraint("task_id", "planned_on"),
        CheckConstraint("planned_percent BETWEEN 0 AND 100", name="planned_percent"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", ondelete="CASCADE", index=True)
    planned_on: date
    planned_percent: float


class Indicator(SQLModel, table=True):
    """A main development indicator (主要发展指标) with its baseline and target."""

    __table_args__ = (
        UniqueConstraint("program_id", "code"),
        _one_of("level", IndicatorLevel),
        _one_of("direction", Direction),
        CheckConstraint("target_year >= baseline_year", name="years"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", ondelete="CASCADE", index=True)
    code: str = _code()
    name: str = Field(sa_type=String(200))
    level: str = Field(sa_type=String(20))
    measure: str = Field(default="", sa_type=String(40))
    baseline_value: float
    baseline_year: int
    target_value: float
    target_year: int
    direction: str = Field(sa_type=String(20))
    owner_unit_id: int = Field(foreign_key="unit.id", index=True)
    position: int = 0


# --- what units send ------------------------------------------------------------------


class Submission(SQLModel, table=True):
    """One payload pulled from a unit's source, archived raw before it is parsed."""

    __table_args__ = (
        UniqueConstraint("unit_id", "sha256"),
        _one_of("status", SubmissionStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    source: str = Field(sa_type=String(40))
    filename: str = Field(default="", sa_type=String(255))
    sha256: str = Field(sa_type=String(64))
    archive_path: str = Field(sa_type=String(500))
    received_at: datetime | None = _timestamp()
    status: str = Field(sa_type=String(20))
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    rejected: int = 0
    # Bytes the source held (NULL for submissions taken before revision 0009), and how
    # much of them the archive keeps: "whole", or "head" (the first MB of a payload refused
    # by its size, whose sha256 is then not a whole file's: see intake._take_oversized).
    size: int | None = Field(default=None, sa_type=BigInteger)
    archived: str = Field(
        default=ArchiveExtent.WHOLE.value,
        sa_type=String(10),
        sa_column_kwargs={"server_default": ArchiveExtent.WHOLE.value},
    )


class Mail(SQLModel, table=True):
    """One message read from the office's mailbox, archived whole (its raw ``.eml``,
    content-addressed) before anything in it was read."""

    __table_args__ = (
        UniqueConstraint("program_id", "message_key"),
        _one_of("status", MailStatus),
        _one_of("archived", ArchiveExtent),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    # sha256 of the Message-ID, or of the raw bytes for a message without one: the same
    # mail delivered twice is one record.
    message_key: str = Field(sa_type=String(64))
    message_id: str = Field(default="", sa_type=String(255))
    sha256: str = Field(sa_type=String(64))
    archive_path: str = Field(sa_type=String(500))
    size: int = Field(default=0, sa_type=BigInteger)
    archived: str = Field(default=ArchiveExtent.WHOLE.value, sa_type=String(10))
    sender: str = Field(default="", sa_type=String(254))
    subject: str = Field(default="", sa_type=String(300))
    sent_at: datetime | None = _timestamp(nullable=True)
    received_at: datetime | None = _timestamp()
    # The unit the sender's address belongs to, if any.
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    status: str = Field(sa_type=String(10))
    reason: str = Field(default="", sa_type=Text)


class MailPart(SQLModel, table=True):
    """One file found in a mail (an attachment, a file in an attached zip or forwarded
    mail) and what became of it."""

    __table_args__ = (_one_of("outcome", PartOutcome),)

    id: int | None = Field(default=None, primary_key=True)
    mail_id: int = Field(foreign_key="mail.id", ondelete="CASCADE", index=True)
    position: int = 0
    name: str = Field(default="", sa_type=String(255))
    sha256: str = Field(sa_type=String(64))
    archive_path: str = Field(default="", sa_type=String(500))
    size: int = Field(default=0, sa_type=BigInteger)
    outcome: str = Field(sa_type=String(10))
    reason: str = Field(default="", sa_type=Text)
    # The unit it was taken as, or the one its workbook or sender claims when held.
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    # The board account that released a held file ("" for the command line).
    released_by: str = Field(default="", sa_type=String(64))


class StatusReport(SQLModel, table=True):
    """A unit's word on a task for a period."""

    __tablename__ = "status_report"
    __table_args__ = (
        UniqueConstraint("task_id", "unit_id", "period", "submission_id"),
        _one_of("status", TaskStatus),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    period: str = Field(sa_type=String(10))
    status: str = Field(sa_type=String(20))
    percent: float
    progress: str = Field(default="", sa_type=Text)
    problems: str = Field(default="", sa_type=Text)
    next_steps: str = Field(default="", sa_type=Text)
    evidence: str = Field(default="", sa_type=Text)
    reported_on: date


class IndicatorReading(SQLModel, table=True):
    """A value of an indicator as of a date."""

    __tablename__ = "indicator_reading"
    __table_args__ = (UniqueConstraint("indicator_id", "as_of", "submission_id"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    value: float
    as_of: date


class Rejection(SQLModel, table=True):
    """One thing in a submission that could not be taken, and why."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", ondelete="CASCADE", index=True)
    sheet: str = Field(default="", sa_type=String(100))
    row: int | None = None
    column: str = Field(default="", sa_type=String(100))
    value: str = Field(default="", sa_type=Text)
    reason: str = Field(sa_type=Text)


# --- what supervision does ------------------------------------------------------------


class Flag(SQLModel, table=True):
    """A lag finding of one rule about one unit (and task or indicator) for a period."""

    __table_args__ = (
        _one_of("severity", Severity),
        # A program's flags of a day, and its latest day flagged, found without reading
        # the rest of its history (every flag and the day's run ask).
        Index("ix_flag_program_id_as_of", "program_id", "as_of"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    task_id: int | None = Field(default=None, foreign_key="task.id", index=True)
    indicator_id: int | None = Field(default=None, foreign_key="indicator.id", index=True)
    rule: str = Field(sa_type=String(40))
    severity: str = Field(sa_type=String(10))
    period: str = Field(sa_type=String(10))
    as_of: date
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


ESCALATION_DATES = {
    "raised_after_opened": "raised_on IS NULL OR raised_on >= opened_on",
    "closed_after_opened": "closed_on IS NULL OR closed_on >= opened_on",
    "closed_after_raised": "closed_on IS NULL OR raised_on IS NULL OR closed_on >= raised_on",
}


class Escalation(SQLModel, table=True):
    """The follow-up of a lagging unit: reminder (提醒), urge (督办), interview (约谈)."""

    __table_args__ = (
        _one_of("level", EscalationLevel),
        _one_of("status", EscalationStatus),
        # No escalation closes, or is raised, before it opened (nor closes before its raise).
        *(CheckConstraint(condition, name=name) for name, condition in ESCALATION_DATES.items()),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    level: str = Field(sa_type=String(20))
    status: str = Field(sa_type=String(10))
    opened_on: date
    raised_on: date | None = None
    closed_on: date | None = None
    outcome: str = Field(default="", sa_type=Text)
    # Who closed it by hand: the board account's name, or "" (the CLI, or by itself).
    closed_by: str = Field(default="", sa_type=String(64), sa_column_kwargs={"server_default": ""})


class Notification(SQLModel, table=True):
    """One message in the outbox, written with the change that caused it."""

    __table_args__ = (UniqueConstraint("dedup_key"), _one_of("status", NotificationStatus))

    id: int | None = Field(default=None, primary_key=True)
    program_id: int | None = Field(default=None, foreign_key="program.id", index=True)
    dedup_key: str = Field(sa_type=String(200))
    target: str = Field(sa_type=String(200))
    subject: str = Field(sa_type=String(300))
    body: str = Field(sa_type=Text)
    attachments: list[str] = Field(default_factory=list, sa_type=JSON)
    # Fingerprints of the delivery URLs that have taken the message, so a retry goes only
    # to the ones that have not.
    delivered_to: list[str] = Field(default_factory=list, sa_type=JSON)
    # Mail headers of a message that answers a unit's mail (In-Reply-To, References), so
    # it threads in the liaison's mail client; such a message is never merged in a digest.
    headers: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default=NotificationStatus.PENDING.value, sa_type=String(10))
    attempts: int = 0
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime | None = _timestamp()
    next_attempt_at: datetime | None = _timestamp(nullable=True)
    sent_at: datetime | None = _timestamp(nullable=True)


class ChatPause(SQLModel, table=True):
    """A chat address that asked us to slow down (DingTalk 130101, HTTP 429, ...): nothing
    is sent to it before ``until``, in this run or the next."""

    __tablename__ = "chat_pause"

    # The address's fingerprint (alerts.fingerprint), never the address itself.
    address: str = Field(primary_key=True, sa_type=String(64))
    until: datetime | None = _timestamp()
    reason: str = Field(default="", sa_type=Text)


class Reconciliation(SQLModel, table=True):
    """A unit's answer to its quarterly statement (对账单): confirmed or disputed."""

    __table_args__ = (_one_of("status", ConfirmationStatus),)

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    quarter: str = Field(sa_type=String(10))
    status: str = Field(sa_type=String(10))
    note: str = Field(default="", sa_type=Text)
    recorded_at: datetime | None = _timestamp()
    via: str = Field(
        default=Channel.CLI.value, sa_type=String(10), sa_column_kwargs={"server_default": "cli"}
    )


class Acknowledgement(SQLModel, table=True):
    """A unit's receipt (签收) of a notice: a rung of one of its escalations, read through
    its personal link."""

    __table_args__ = (
        UniqueConstraint("escalation_id", "level"),
        _one_of("level", EscalationLevel),
    )

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", ondelete="CASCADE", index=True)
    level: str = Field(sa_type=String(20))
    acknowledged_at: datetime | None = _timestamp()


class Extension(SQLModel, table=True):
    """A unit's request to move a task's due date (延期申请), and the office's decision.

    An approved extension moves the due date the rules use from its decision on; the task's
    planned date (``previous_due``) stays in the ledger and both show in reports.
    """

    __table_args__ = (
        _one_of("status", ExtensionStatus),
        _one_of("via", Channel),
        CheckConstraint("proposed_due > previous_due", name="later"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    reason: str = Field(sa_type=Text)
    previous_due: date
    proposed_due: date
    status: str = Field(default=ExtensionStatus.PENDING.value, sa_type=String(10))
    via: str = Field(default=Channel.PORTAL.value, sa_type=String(10))
    requested_at: datetime | None = _timestamp()
    decided_at: datetime | None = _timestamp(nullable=True)
    decided_on: date | None = None
    decision_note: str = Field(default="", sa_type=Text)
    # Who decided: the board account's name, or "" (the CLI).
    decided_by: str = Field(default="", sa_type=String(64), sa_column_kwargs={"server_default": ""})


class Interview(SQLModel, table=True):
    """The record of an interview (约谈) of a unit's head: when it was held, who attended,
    what was agreed; recorded by the office on the board, against the escalation that
    called for it."""

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", ondelete="CASCADE", index=True)
    held_on: date
    attendees: str = Field(sa_type=Text)
    agreed: str = Field(sa_type=Text)
    recorded_by: str = Field(default="", sa_type=String(64))
    recorded_at: datetime | None = _timestamp()


class Document(SQLModel, table=True):
    """A written document (a reconciliation or an evaluation): which kind, for which
    period, where, and the checksum of each file."""

    __tablename__ = "report"
    __table_args__ = (_one_of("kind", DocumentKind),)

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    kind: str = Field(sa_type=String(20))
    period: str = Field(sa_type=String(10))
    formats: list[str] = Field(default_factory=list, sa_type=JSON)
    paths: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    sha256: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    generated_at: datetime | None = _timestamp()


# --- the city above the pilots ------------------------------------------------------------


class City(SQLModel, table=True):
    """A city league's office (团市委) over several pilots (``ledger/city_file.py``)."""

    __table_args__ = (UniqueConstraint("code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = _code()
    name: str = Field(sa_type=String(200))
    office: str = Field(sa_type=String(200))
    timezone: str = Field(sa_type=String(64))
    # The city league's people who get its reports (city_file.CityContactSpec, as JSON).
    contacts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # Who issues its Word documents (program_file.DocumentsSpec), or NULL where not given.
    documents: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Its work bulletin (city_file.BulletinSpec), or NULL where not given.
    bulletin: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    source_name: str = Field(default="", sa_type=String(255))
    source_sha256: str = Field(default="", sa_type=String(64))
    loaded_at: datetime | None = _timestamp()
    updated_at: datetime | None = _timestamp()


class CityProgram(SQLModel, table=True):
    """A pilot of a city, by its program code (the program may be loaded later), in the
    order the city's reports list them."""

    __tablename__ = "city_program"
    __table_args__ = (UniqueConstraint("city_id", "program_code"),)

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(foreign_key="city.id", ondelete="CASCADE", index=True)
    program_code: str = _code()
    position: int = 0


class CityDocument(SQLModel, table=True):
    """A city's written roll-up (quarterly or half-year) over its pilots: where, and the
    checksum of each file."""

    __tablename__ = "city_report"
    __table_args__ = (
        CheckConstraint("kind IN ('quarterly', 'half_year')", name="kind"),
        UniqueConstraint("city_id", "kind", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(foreign_key="city.id", index=True)
    kind: str = Field(sa_type=String(20))
    period: str = Field(sa_type=String(10))
    formats: list[str] = Field(default_factory=list, sa_type=JSON)
    paths: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    sha256: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    generated_at: datetime | None = _timestamp()


class BulletinIssue(SQLModel, table=True):
    """An issue of a city's work bulletin (工作简报): the register of its numbers, 第N期 in
    its year and 总第M期 over the bulletin's run, kept per city and period (a period written
    again keeps its numbers), with where its files are and their checksums."""

    __tablename__ = "bulletin_issue"
    __table_args__ = (
        UniqueConstraint("city_id", "period"),
        UniqueConstraint("city_id", "total"),
        UniqueConstraint("city_id", "year", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(foreign_key="city.id", ondelete="CASCADE", index=True)
    period: str = Field(sa_type=String(10))
    year: int  # the year of its date: 第N期 counts from 1 each year
    number: int  # 第N期
    total: int  # 总第M期
    issued_on: date
    formats: list[str] = Field(default_factory=list, sa_type=JSON)
    paths: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    sha256: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    generated_at: datetime | None = _timestamp()


class PracticeAccount(SQLModel, table=True):
    """A district office's own account of its practice (经验做法) for a period, as it sent
    it (a text or Markdown file), printed verbatim in the city's work bulletin."""

    __tablename__ = "practice_account"
    __table_args__ = (UniqueConstraint("program_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", ondelete="CASCADE", index=True)
    period: str = Field(sa_type=String(10))
    text: str = Field(sa_type=Text)
    source_name: str = Field(default="", sa_type=String(255))
    sha256: str = Field(sa_type=String(64))
    loaded_at: datetime | None = _timestamp()


# --- the board's accounts -----------------------------------------------------------------


class Account(SQLModel, table=True):
    """A person of the office or a leader, signing in to the board (units keep their
    links). Only the password's Argon2id hash is stored."""

    __table_args__ = (UniqueConstraint("name"), _one_of("role", AccountRole))

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(64))
    role: str = Field(sa_type=String(10))
    password_hash: str = Field(sa_type=String(255), repr=False)
    disabled: bool = False
    created_at: datetime | None = _timestamp()


class AccountProgram(SQLModel, table=True):
    """A program an account may see (a leader) or act on (the office)."""

    __tablename__ = "account_program"

    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", primary_key=True)
    program_id: int = Field(
        foreign_key="program.id", ondelete="CASCADE", primary_key=True, index=True
    )


class LoginSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the table its sha256. Ended at
    logout (or when its account is disabled); a replayed cookie then opens nothing."""

    __tablename__ = "login_session"
    __table_args__ = (UniqueConstraint("token_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(sa_type=String(64), repr=False)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    created_at: datetime | None = _timestamp()
    last_seen_at: datetime | None = _timestamp()
    expires_at: datetime | None = _timestamp()
    ended_at: datetime | None = _timestamp(nullable=True)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins of one name (its sha256: a name typed may be a password), whether the
    name exists or not, so that a lock-out tells nothing about which names exist."""

    __tablename__ = "login_throttle"

    name_sha256: str = Field(primary_key=True, sa_type=String(64))
    failures: int = 0
    first_failed_at: datetime | None = _timestamp()
    locked_until: datetime | None = _timestamp(nullable=True)


# --- the calendar --------------------------------------------------------------------------


class CalendarYear(SQLModel, table=True):
    """A year of working days the operator entered from the State Council's notice, for
    every program of the installation. ``holidays`` and ``workdays`` are lists of
    ``{"date": "YYYY-MM-DD", "name": "春节"}``; they may reach into the next or previous
    year (元旦 starting in December)."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(default="", sa_type=String(500))
    issued: date | None = None
    holidays: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    workdays: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    entered_at: datetime | None = _timestamp()


# --- how it runs ---------------------------------------------------------------------------


class RunLock(SQLModel, table=True):
    """A program's writing run in progress: a second run for it waits or skips."""

    __tablename__ = "run_lock"
    __table_args__ = (UniqueConstraint("program"),)

    id: int | None = Field(default=None, primary_key=True)
    program: str = _code()
    flow: str = Field(sa_type=String(60))
    holder: str = Field(sa_type=String(200))
    acquired_at: datetime | None = _timestamp()
    expires_at: datetime | None = _timestamp()


class RunRecord(SQLModel, table=True):
    """One run of a flow for a program: when, for which day, what came of it."""

    __tablename__ = "run_record"

    id: int | None = Field(default=None, primary_key=True)
    program: str = Field(sa_type=String(40), index=True)
    flow: str = Field(sa_type=String(60))
    as_of: date | None = None
    started_at: datetime | None = _timestamp()
    finished_at: datetime | None = _timestamp()
    outcome: str = Field(sa_type=String(20))
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
