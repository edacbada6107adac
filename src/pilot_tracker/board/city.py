"""The programs an account may see, one row each: the city view (the board's ``/``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from pilot_tracker.board import accounts
from pilot_tracker.board.accounts import Viewer
from pilot_tracker.models import LABELS, ProgramLevel


@dataclass(frozen=True)
class ProgramRow:
    code: str
    name: str
    level: str  # its Chinese name


def overview(*, session: Session, viewer: Viewer, now: datetime) -> list[ProgramRow]:
    """One row per program the viewer may see."""
    return [
        ProgramRow(program.code, program.name, LABELS[ProgramLevel][program.level])
        for program in accounts.programs_of(session=session, viewer=viewer)
    ]
