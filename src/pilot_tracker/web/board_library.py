"""The board's report library (报告库): the documents of a program, newest first, and the
download of one of their files, found by the document's id and the file's key in its
record, never by a path from the URL; a city's roll-ups and work bulletins the same way
(the city view)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from pilot_tracker.board import city, library
from pilot_tracker.errors import BoardNotFound
from pilot_tracker.web.app import portal_of
from pilot_tracker.web.board import NOT_FOUND, board_program, board_render, signed_in

router = APIRouter()


@router.get("/p/{code}/reports", response_class=HTMLResponse)
def reports(request: Request, code: str) -> Response:
    """Every report of the program, newest first: its files, their sha256, and when it was
    sent to whom."""
    viewer, program = board_program(request, code)
    portal = portal_of(request)
    with portal.session() as session:
        found = library.library(session=session, program=program, home=portal.settings.home)
    return board_render(
        request,
        "board/reports.html.j2",
        viewer=viewer,
        program=program,
        tab="reports",
        reports=found,
    )


@router.get("/p/{code}/reports/{report_id}/{key}")
def report_file(request: Request, code: str, report_id: str, key: str) -> Response:
    """One file of a report, as an attachment."""
    _, program = board_program(request, code)
    portal = portal_of(request)
    with portal.session() as session:
        download = library.report_file(
            session=session,
            program=program,
            home=portal.settings.home,
            report_id=report_id,
            key=key,
        )
    return _attachment(download)


@router.get("/city/{code}/reports/{report_id}/{key}")
def city_report_file(request: Request, code: str, report_id: str, key: str) -> Response:
    """One file of a city's roll-up, as an attachment; a city the account may not see is
    the same 404 as one that does not exist."""
    return _city_file(request, code, library.city_report_file, report_id=report_id, key=key)


@router.get("/city/{code}/bulletins/{issue_id}/{key}")
def city_bulletin_file(request: Request, code: str, issue_id: str, key: str) -> Response:
    """One file of a city's work bulletin, as an attachment; found as a roll-up's is."""
    return _city_file(request, code, library.bulletin_file, issue_id=issue_id, key=key)


def _city_file(
    request: Request, code: str, find: Callable[..., library.Download], **which: str
) -> Response:
    """A city's file found by ``find`` in its records, for a viewer who may see the city."""
    viewer = signed_in(request)
    portal = portal_of(request)
    with portal.session() as session:
        found = city.visible_city(session=session, viewer=viewer, code=code)
        if found is None:
            raise BoardNotFound(NOT_FOUND)
        download = find(session=session, city=found, home=portal.settings.home, **which)
    return _attachment(download)


def _attachment(download: library.Download) -> FileResponse:
    """A report's file as a download, under the name it was written with."""
    return FileResponse(
        download.path,
        media_type=download.media_type,
        filename=download.filename,
        content_disposition_type="attachment",
    )
