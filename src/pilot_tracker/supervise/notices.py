"""A unit's notices (通知) and its receipt of them (签收).

A notice is a rung of one of the unit's escalations (supervise/escalation.py): the
reminder (提醒) it opened with, and the urge (督办) and interview recommendation (约谈建议)
it was raised to. Each shows the day it was raised and the subject of its message in the
outbox, if one was written. The unit acknowledges a notice through its page; the
acknowledgement (``models.Acknowledgement``) records when, once, and the ladder reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.errors import AnswerNotFound
from pilot_tracker.models import (
    LABELS,
    Acknowledgement,
    Escalation,
    EscalationLevel,
    EscalationStatus,
    Notification,
    Program,
    Unit,
)


@dataclass(frozen=True)
class Notice:
    """One rung of an escalation, as the unit's page shows it."""

    escalation_id: int
    level: str  # an EscalationLevel
    raised_on: date | None  # None: the rung's day is not on record
    subject: str  # of its message in the outbox; "" if none was written
    open: bool  # the escalation is still open
    acknowledged_at: datetime | None

    @property
    def label(self) -> str:
        return LABELS[EscalationLevel][self.level]

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


@dataclass(frozen=True)
class Acknowledged:
    """The notice after its acknowledgement; ``already`` if it had been acknowledged before
    (nothing more was written)."""

    notice: Notice
    already: bool


def _rung_messages(
    session: Session, escalation_ids: list[int]
) -> dict[tuple[int, str], Notification]:
    """The first message of each rung of the escalations (its dedup key is
    ``escalation:<id>:<level>...``), preferring the one to the unit over the office's copy."""
    if not escalation_ids:
        return {}
    rows = session.exec(
        select(Notification)
        .where(
            or_(
                *(
                    col(Notification.dedup_key).startswith(f"escalation:{number}:")
                    for number in escalation_ids
                )
            )
        )
        .order_by(col(Notification.id))
    ).all()
    levels = {level.value for level in EscalationLevel}
    found: dict[tuple[int, str], Notification] = {}
    for message in rows:
        parts = message.dedup_key.split(":")
        if len(parts) < 3 or not parts[1].isdigit() or parts[2] not in levels:
            continue
        key = (int(parts[1]), parts[2])
        to_unit = message.target.startswith("unit:")
        if key not in found or (to_unit and not found[key].target.startswith("unit:")):
            found[key] = message
    return found


def notices(*, session: Session, unit: Unit) -> list[Notice]:
    """The notices the unit has received, newest first: each rung of each of its
    escalations, with its day, its message's subject and its acknowledgement."""
    program = session.get(Program, unit.program_id)
    assert program is not None  # a foreign key
    escalations = session.exec(
        select(Escalation)
        .where(Escalation.program_id == program.id, Escalation.unit_id == unit.id)
        .order_by(col(Escalation.id))
    ).all()
    ids = [escalation.id for escalation in escalations if escalation.id is not None]
    messages = _rung_messages(session, ids)
    acknowledged = {
        (ack.escalation_id, ack.level): ack.acknowledged_at
        for ack in session.exec(
            select(Acknowledgement).where(col(Acknowledgement.escalation_id).in_(ids))
        ).all()
    }
    found = []
    for escalation in escalations:
        assert escalation.id is not None
        top = EscalationLevel(escalation.level)
        for level in EscalationLevel:
            message = messages.get((escalation.id, level.value))
            if level is EscalationLevel.REMINDER:
                day: date | None = escalation.opened_on
            elif level is top:
                day = escalation.raised_on
            elif level.rank < top.rank and message is not None and message.created_at:
                # A rung passed on the way up: its day is its message's.
                day = db.local_moment(message.created_at, program.timezone).date()
            else:
                continue  # not reached, or skipped on the way up with no message
            moment = acknowledged.get((escalation.id, level.value))
            found.append(
                Notice(
                    escalation_id=escalation.id,
                    level=level.value,
                    raised_on=day,
                    subject=message.subject if message is not None else "",
                    open=escalation.status == EscalationStatus.OPEN.value,
                    acknowledged_at=db.stored_moment(moment) if moment else None,
                )
            )
    found.sort(
        key=lambda n: (n.raised_on or date.min, n.escalation_id, EscalationLevel(n.level).rank),
        reverse=True,
    )
    return found


def acknowledge(
    *,
    session: Session,
    unit: Unit,
    escalation_id: int | str,
    level: str,
    now: datetime,
) -> Acknowledged:
    """Record that the unit has received (签收) a notice. Only a notice of the unit's own
    (else ``AnswerNotFound``: nothing is written); the second time, nothing more is
    written and the first acknowledgement is given back."""
    refused = AnswerNotFound(
        "没有找到这条通知。请刷新页面后，在本单位的通知列表中签收。", "escalation"
    )
    try:
        number = int(str(escalation_id).strip())
    except ValueError:
        raise refused from None
    notice = next(
        (
            n
            for n in notices(session=session, unit=unit)
            if n.escalation_id == number and n.level == str(level).strip()
        ),
        None,
    )
    if notice is None:
        raise refused
    if notice.acknowledged_at is not None:
        return Acknowledged(notice, already=True)
    try:
        with session.begin_nested():
            session.add(
                Acknowledgement(escalation_id=number, level=notice.level, acknowledged_at=now)
            )
    except IntegrityError:  # acknowledged at the same moment by another request
        first = session.exec(
            select(Acknowledgement).where(
                Acknowledgement.escalation_id == number, Acknowledgement.level == notice.level
            )
        ).one()
        moment = db.stored_moment(first.acknowledged_at) if first.acknowledged_at else now
        return Acknowledged(replace(notice, acknowledged_at=moment), already=True)
    return Acknowledged(replace(notice, acknowledged_at=db.stored_moment(now)), already=False)
