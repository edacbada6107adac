"""The board's 经验做法 page: a program's accounts of its practice (``ledger/practice.py``),
one per quarter and half year that has begun, newest first, and the office's form to enter
or replace the one of a period; the city's work bulletin prints them as entered.

A period outside the program's life or not begun, and a text the account's rules refuse,
are a ``BoardError`` in Chinese at its form field, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, select

from pilot_tracker import periods
from pilot_tracker.errors import AccountRefused, BoardError
from pilot_tracker.ledger import practice
from pilot_tracker.models import PracticeAccount, Program

# What the board takes in one text field (the form's bound on a field is 64 KB of UTF-8).
MAX_CHARACTERS = 20_000
SOURCE = "工作台（{name}）"


@dataclass(frozen=True)
class PeriodAccount:
    """A period of the program and the account entered for it, if any."""

    period: str
    text: str = ""
    title: str = ""
    source_name: str = ""
    loaded_at: datetime | None = None

    @property
    def label(self) -> str:
        return periods.label(self.period)

    @property
    def sent(self) -> bool:
        return bool(self.text)


def periods_of(program: Program, today: date) -> list[str]:
    """The quarters and half years of the program's life begun by ``today``: the latest
    ending first, a half year before the quarter that ends with it."""
    found = []
    for year in range(program.start_date.year, program.end_date.year + 1):
        for period in (
            f"{year}Q1",
            f"{year}Q2",
            f"{year}H1",
            f"{year}Q3",
            f"{year}Q4",
            f"{year}H2",
        ):
            start, end = periods.bounds(period)
            if start <= today and end >= program.start_date and start <= program.end_date:
                found.append(period)
    return found[::-1]


def accounts(*, session: Session, program: Program, today: date) -> list[PeriodAccount]:
    """Each period of :func:`periods_of` with the account entered for it."""
    stored = {
        row.period: row
        for row in session.exec(
            select(PracticeAccount).where(PracticeAccount.program_id == program.id)
        ).all()
    }
    shown = []
    for period in periods_of(program, today):
        row = stored.get(period)
        if row is None:
            shown.append(PeriodAccount(period))
            continue
        shown.append(
            PeriodAccount(
                period,
                text=row.text,
                title=practice.title_of(row.text) or "",
                source_name=row.source_name,
                loaded_at=row.loaded_at,
            )
        )
    return shown


def enter(
    *,
    session: Session,
    program: Program,
    period: str,
    text: str,
    entered_by: str,
    today: date,
    now: datetime,
) -> practice.AccountLoad:
    """Keep the account the office entered for a period, replacing the one it had."""
    if period not in periods_of(program, today):
        raise BoardError("请选择本试点已开始的季度或半年度。", field="period")
    if len(text) > MAX_CHARACTERS:
        raise BoardError(
            f"经验做法共{len(text)}字，超过{MAX_CHARACTERS}字的上限。请精简后再保存。",
            field="text",
        )
    try:
        return practice.load_account(
            session=session,
            program=program.code,
            period=period,
            text=text,
            source_name=SOURCE.format(name=entered_by),
            now=now,
        )
    except AccountRefused as refused:
        raise BoardError(
            "".join(finding.chinese for finding in refused.findings[:3]), field="text"
        ) from None
