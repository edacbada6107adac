"""The escalation board (督办约谈): ``GET /p/{code}/escalations``, and the office's two
actions on an escalation: record an interview's outcome (``.../{id}/interview``) and close
it by hand (``.../{id}/close``).

A POST that is taken answers with a redirect back to the board (303), so that a reload
does not post again; one that is refused shows the board again with the reason at its
field and what was typed (400), having written nothing. An escalation of another program,
unknown or not a number is a 404; a leader's POST a 403 (``board_posted``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pilot_tracker.board import escalations
from pilot_tracker.board.accounts import Viewer
from pilot_tracker.errors import BoardError, BoardNotFound
from pilot_tracker.models import Program
from pilot_tracker.web.app import portal_of
from pilot_tracker.web.board import board_posted, board_program, board_render, done, text_field

router = APIRouter()

INTERVIEW_FIELDS = ("held_on", "attendees", "agreed", "close")
CLOSE_FIELDS = ("reason", "on")


@dataclass(frozen=True)
class Refused:
    """A form the board shows again: which one, of which escalation, why, what was typed."""

    form: str  # interview | close
    escalation_id: int
    error: BoardError
    sent: dict[str, str]

    @property
    def field(self) -> str:
        return self.error.field

    @property
    def flash(self) -> str:
        return f"未能办理：{self.error}"

    def at(self, form: str, escalation_id: int) -> bool:
        return self.form == form and self.escalation_id == escalation_id


def _page(
    request: Request,
    viewer: Viewer,
    program: Program,
    *,
    status: int = 200,
    refused: Refused | None = None,
    flash: str = "",
) -> HTMLResponse:
    """The board of a program."""
    portal = portal_of(request)
    today = portal.today(program.timezone)
    with portal.session() as session:
        board = escalations.escalation_board(session=session, program=program, today=today)
    return board_render(
        request,
        "board/escalations.html.j2",
        viewer=viewer,
        program=program,
        tab="escalations",
        status=status,
        board=board,
        refused=refused,
        flash=flash,
        flash_bad=refused is not None,
    )


@router.get("/p/{code}/escalations", response_class=HTMLResponse)
def board_page(request: Request, code: str) -> Response:
    """The open escalations by level, their 签收 and next step; the closed ones below."""
    viewer, program = board_program(request, code)
    return _page(request, viewer, program)


async def _act(
    request: Request,
    code: str,
    escalation_id: str,
    form_name: str,
    fields: tuple[str, ...],
    act: Callable[[Session, Viewer, Program, FormData], str],
) -> Response:
    """Take an office's POST on an escalation with ``act`` (which says what was done) in
    one transaction: a redirect to the board, or the board again with the refusal."""
    viewer, program, form = await board_posted(request, code)
    sent = {name: text_field(form, name) for name in fields}
    portal = portal_of(request)

    def write() -> str:
        with portal.session() as session:
            what = act(session, viewer, program, form)
            return escalations.done_message(
                session=session, program=program, escalation_id=escalation_id, done=what
            )

    try:
        said = await run_in_threadpool(write)
    except BoardNotFound:
        raise
    except BoardError as error:
        refused = Refused(form_name, int(escalation_id), error, sent)
        return await run_in_threadpool(
            lambda: _page(
                request, viewer, program, status=400, refused=refused, flash=refused.flash
            )
        )
    number = int(escalation_id)
    return done(request, f"/p/{quote(program.code)}/escalations#escalation-{number}", said)


@router.post("/p/{code}/escalations/{escalation_id}/interview")
async def interview(request: Request, code: str, escalation_id: str) -> Response:
    """Record an interview's (约谈) outcome: held_on, attendees, agreed, close (checkbox)."""

    def act(session: Session, viewer: Viewer, program: Program, form: FormData) -> str:
        close = bool(text_field(form, "close"))
        escalations.record_interview(
            session=session,
            program=program,
            escalation_id=escalation_id,
            held_on=text_field(form, "held_on"),
            attendees=text_field(form, "attendees"),
            agreed=text_field(form, "agreed"),
            close=close,
            recorded_by=viewer.name,
            today=portal_of(request).today(program.timezone),
            now=portal_of(request).now(),
        )
        return "interview_closed" if close else "interview"

    return await _act(request, code, escalation_id, "interview", INTERVIEW_FIELDS, act)


@router.post("/p/{code}/escalations/{escalation_id}/close")
async def close(request: Request, code: str, escalation_id: str) -> Response:
    """Close an escalation by hand: reason, on (a day; default today)."""

    def act(session: Session, viewer: Viewer, program: Program, form: FormData) -> str:
        escalations.close_escalation(
            session=session,
            program=program,
            escalation_id=escalation_id,
            reason=text_field(form, "reason"),
            on=text_field(form, "on"),
            closed_by=viewer.name,
            today=portal_of(request).today(program.timezone),
        )
        return "closed"

    return await _act(request, code, escalation_id, "close", CLOSE_FIELDS, act)
