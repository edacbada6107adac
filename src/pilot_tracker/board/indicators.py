"""The indicators board (主要发展指标): each indicator of a program by level (national,
provincial, self-set), from its baseline to its latest reading to its target, and where
it stands, as the half-year evaluation states it (``reports.figures.indicator_lines``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from pilot_tracker.models import LABELS, Direction, IndicatorLevel, Program
from pilot_tracker.reports import figures
from pilot_tracker.reports.figures import IndicatorLine


@dataclass(frozen=True)
class IndicatorRow:
    line: IndicatorLine  # baseline, latest, target, expected value, status
    direction: str
    owner: str  # the owner unit's name

    @property
    def direction_label(self) -> str:
        return LABELS[Direction].get(self.direction, self.direction)


@dataclass(frozen=True)
class Level:
    level: str
    label: str
    rows: list[IndicatorRow]


@dataclass(frozen=True)
class IndicatorsBoard:
    program: Program
    today: date
    levels: list[Level]  # national first; no empty level

    @property
    def count(self) -> int:
        return sum(len(level.rows) for level in self.levels)


def indicators_board(*, session: Session, program: Program, today: date) -> IndicatorsBoard:
    """The indicators of ``program`` as of ``today`` (the program's own day), by level."""
    snapshot = figures.load(session=session, program=program.code, as_of=today)
    names = snapshot.names
    specs = {indicator.code: indicator for indicator in snapshot.spec.indicators}
    rows = [
        IndicatorRow(
            line=line,
            direction=specs[line.code].direction.value,
            owner=names.get(specs[line.code].owner, specs[line.code].owner),
        )
        for line in figures.indicator_lines(snapshot, today)
    ]
    levels = [
        Level(level.value, LABELS[IndicatorLevel][level.value], mine)
        for level in IndicatorLevel
        if (mine := [row for row in rows if row.line.level == level.value])
    ]
    return IndicatorsBoard(program=program, today=today, levels=levels)
