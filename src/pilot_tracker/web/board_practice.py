"""The board's 经验做法 page: ``GET /p/{code}/practice`` lists a program's accounts of its
practice by period and shows one (``?period=2021H1``); the office's ``POST`` enters or
replaces the account of a period, printed as entered in the city's work bulletin.

A POST that is taken answers with a redirect back to the page (303); one that is refused
shows the page again with the reason at its field and what was typed (400), having written
nothing. A leader's POST is a 403 (``board_posted``).
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from pilot_tracker.board import practice
from pilot_tracker.board.accounts import Viewer
from pilot_tracker.errors import BoardError
from pilot_tracker.models import Program
from pilot_tracker.web.app import portal_of
from pilot_tracker.web.board import board_posted, board_program, board_render, done, text_field

router = APIRouter()


def _page(
    request: Request,
    viewer: Viewer,
    program: Program,
    period: str,
    *,
    status: int = 200,
    error: BoardError | None = None,
    typed: str | None = None,
) -> HTMLResponse:
    portal = portal_of(request)
    with portal.session() as session:
        found = practice.accounts(
            session=session, program=program, today=portal.today(program.timezone)
        )
    chosen = next((item for item in found if item.period == period), found[0] if found else None)
    return board_render(
        request,
        "board/practice.html.j2",
        viewer=viewer,
        program=program,
        tab="practice",
        status=status,
        accounts=found,
        chosen=chosen,
        text=typed if typed is not None else (chosen.text if chosen else ""),
        error=error,
        limit=practice.MAX_CHARACTERS,
        flash=f"未能保存：{error}" if error else "",
        flash_bad=error is not None,
    )


@router.get("/p/{code}/practice", response_class=HTMLResponse)
def practice_page(request: Request, code: str, period: str = "") -> Response:
    """The program's accounts by period; the chosen period's (the latest by default) in
    full, and for the office the form to enter it."""
    viewer, program = board_program(request, code)
    return _page(request, viewer, program, period)


@router.post("/p/{code}/practice")
async def enter(request: Request, code: str) -> Response:
    """Enter or replace the account of a period: period, text."""
    viewer, program, form = await board_posted(request, code)
    period, text = text_field(form, "period"), text_field(form, "text")
    portal = portal_of(request)

    def write() -> str:
        with portal.session() as session:
            done_ = practice.enter(
                session=session,
                program=program,
                period=period,
                text=text,
                entered_by=viewer.name,
                today=portal.today(program.timezone),
                now=portal.now(),
            )
        label = practice.PeriodAccount(period).label
        if done_.unchanged:
            return f"{label}经验做法未改动。"
        return f"已保存{label}经验做法（{done_.paragraphs}段），将刊入本期工作简报。"

    try:
        said = await run_in_threadpool(write)
    except BoardError as error:
        again = functools.partial(
            _page, request, viewer, program, period, status=400, error=error, typed=text
        )
        return await run_in_threadpool(again)
    return done(request, f"/p/{quote(program.code)}/practice?period={quote(period)}", said)
