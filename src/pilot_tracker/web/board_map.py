"""The board's battle map (挂图作战) of a program, a task's history, the archived original
of a submission, and the indicators board. Each route reads the program through
``board_program`` (404 for a program the account may not see), calls one function of
``board/`` and renders; every page here only reads."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from pilot_tracker.board import battle_map, history, indicators
from pilot_tracker.ledger import plan
from pilot_tracker.web.app import portal_of
from pilot_tracker.web.board import board_program, board_render

router = APIRouter()


@router.get("/p/{code}", response_class=HTMLResponse)
def map_page(
    request: Request,
    code: str,
    list_kind: str = Query("", alias="list"),
    unit: str = "",
    flag: str = "",
) -> Response:
    """The battle map as of the program's today, filtered by the form above it; an unknown
    filter value is said at its field (400) and the map shown without it."""
    viewer, program = board_program(request, code)
    portal = portal_of(request)
    with portal.session() as session:
        found = battle_map.battle_map(
            session=session,
            program=program,
            today=portal.today(program.timezone),
            list_kind=list_kind,
            unit=unit,
            flag=flag,
        )
    return board_render(
        request,
        "board/map.html.j2",
        viewer=viewer,
        program=program,
        tab="map",
        status=400 if found.problems else 200,
        board=found,
        band_labels=plan.BAND_LABELS,
        bands=battle_map.BANDS,
    )


@router.get("/p/{code}/tasks/{task}", response_class=HTMLResponse)
def task_page(request: Request, code: str, task: str) -> Response:
    """A task's history: its reports with their submissions, flags, escalations and
    extension requests."""
    viewer, program = board_program(request, code)
    portal = portal_of(request)
    with portal.session() as session:
        found = history.task_history(
            session=session, program=program, task=task, today=portal.today(program.timezone)
        )
    return board_render(
        request, "board/task.html.j2", viewer=viewer, program=program, tab="map", task=found
    )


@router.get("/p/{code}/submissions/{submission}")
def submission_file(request: Request, code: str, submission: str) -> Response:
    """The archived original of a submission of the program, as an attachment."""
    _, program = board_program(request, code)
    portal = portal_of(request)
    with portal.session() as session:
        original = history.archived_original(
            session=session, program=program, submission=submission, home=portal.settings.home
        )
    return FileResponse(
        original.path,
        media_type="application/octet-stream",
        filename=original.filename,
        content_disposition_type="attachment",
    )


@router.get("/p/{code}/indicators", response_class=HTMLResponse)
def indicators_page(request: Request, code: str) -> Response:
    """The indicators by level: baseline → latest → target, and where each stands."""
    viewer, program = board_program(request, code)
    portal = portal_of(request)
    with portal.session() as session:
        found = indicators.indicators_board(
            session=session, program=program, today=portal.today(program.timezone)
        )
    return board_render(
        request,
        "board/indicators.html.j2",
        viewer=viewer,
        program=program,
        tab="indicators",
        board=found,
    )
