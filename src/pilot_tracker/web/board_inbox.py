"""The answers inbox (单位答复) of a program's board: extension requests to approve or
reject, the units' answers to their statements, the office's replies to disputes, and the
mail held for the office: each held file to take as a unit's submission, each mail's
original to read.

Each POST is read by ``board_posted`` (a leader is refused before the form is read),
calls one function of ``board/inbox.py`` in one transaction, and leads back to the inbox
saying what was done (a reload does not post again), or shows it with the refusal at its
form field (400) and nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from pilot_tracker.board import inbox
from pilot_tracker.board.accounts import Viewer
from pilot_tracker.errors import BoardError, BoardNotFound
from pilot_tracker.models import Program
from pilot_tracker.web.app import error_page, portal_of
from pilot_tracker.web.board import board_posted, board_program, board_render, done, text_field

router = APIRouter()


@dataclass(frozen=True)
class Refused:
    """A form sent back: which form (its anchor), the field at fault, why, what was sent."""

    form: str
    field: str
    message: str
    sent: dict[str, str]


def inbox_page(
    request: Request,
    viewer: Viewer,
    program: Program,
    *,
    status: int = 200,
    flash: str = "",
    refused: Refused | None = None,
) -> HTMLResponse:
    portal = portal_of(request)
    with portal.session() as session:
        view = inbox.inbox(session=session, program=program)
    return board_render(
        request,
        "board/inbox.html.j2",
        viewer=viewer,
        program=program,
        tab="inbox",
        status=status,
        inbox=view,
        flash=flash,
        flash_bad=refused is not None,
        refused=refused,
    )


@router.get("/p/{code}/inbox", response_class=HTMLResponse)
def inbox_view(request: Request, code: str) -> Response:
    """The extension requests, the answers to the statements and the held mail."""
    viewer, program = board_program(request, code)
    return inbox_page(request, viewer, program)


async def _act(
    request: Request,
    code: str,
    form_id: Callable[[dict[str, str]], str],
    fields: tuple[str, ...],
    act: Callable[[Session, Program, Viewer, dict[str, str]], inbox.Done],
) -> Response:
    """Read an office's POST, do ``act`` in one transaction, show the inbox again."""
    viewer, program, form = await board_posted(request, code)
    sent = {name: text_field(form, name) for name in fields}
    portal = portal_of(request)

    def write() -> inbox.Done:
        with portal.session() as session:
            return act(session, program, viewer, sent)

    try:
        outcome = await run_in_threadpool(write)
    except BoardNotFound:
        raise
    except BoardError as error:
        refused = Refused(form_id(sent), error.field, str(error), sent)
        return await run_in_threadpool(
            lambda: inbox_page(
                request,
                viewer,
                program,
                status=400,
                flash=f"未能办理：{refused.message}",
                refused=refused,
            )
        )
    return done(request, f"/p/{program.code}/inbox", outcome.message)


@router.post("/p/{code}/extensions/{extension}", response_class=HTMLResponse)
async def decide(request: Request, code: str, extension: str) -> Response:
    """批准 or 不批准 an extension request: action (approve|reject), note."""
    portal = portal_of(request)

    def act(session: Session, program: Program, viewer: Viewer, sent: dict[str, str]) -> Any:
        return inbox.decide_extension(
            session=session,
            program=program,
            extension_id=extension,
            action=sent["action"],
            note=sent["note"],
            decided_by=viewer.name,
            now=portal.now(),
            templates=portal.messages,
        )

    def form_id(sent: dict[str, str]) -> str:
        return f"extension-{extension}-{sent['action']}"

    return await _act(request, code, form_id, ("action", "note"), act)


@router.post("/p/{code}/statements/{unit}/{quarter}/reply", response_class=HTMLResponse)
async def reply(request: Request, code: str, unit: str, quarter: str) -> Response:
    """A reply to a unit's dispute of its statement of a quarter: text."""
    portal = portal_of(request)

    def act(session: Session, program: Program, viewer: Viewer, sent: dict[str, str]) -> Any:
        return inbox.reply_to_statement(
            session=session,
            program=program,
            unit_code=unit,
            quarter=quarter,
            text=sent["text"],
            now=portal.now(),
            templates=portal.messages,
        )

    return await _act(request, code, lambda _: f"reply-{quarter}-{unit}", ("text",), act)


@router.post("/p/{code}/mail/{part}/release", response_class=HTMLResponse)
async def release(request: Request, code: str, part: str) -> Response:
    """作为该单位报送导入: take a held file of a mail as a unit's submission: unit."""
    portal = portal_of(request)

    def act(session: Session, program: Program, viewer: Viewer, sent: dict[str, str]) -> Any:
        return inbox.release_file(
            session=session,
            program=program,
            part_id=part,
            unit_code=sent["unit"],
            by=viewer.name,
            as_of=portal.today(program.timezone),
            now=portal.now(),
            home=portal.settings.home,
            templates=portal.messages,
        )

    return await _act(request, code, lambda _: f"mail-file-{part}", ("unit",), act)


@router.get("/p/{code}/mail/{mail}/original")
def mail_original(request: Request, code: str, mail: str) -> Response:
    """The archived original of a mail of the program (its raw bytes, as received), as an
    attachment; bytes that differ from those received are refused (409), never sent."""
    _, program = board_program(request, code)
    portal = portal_of(request)
    try:
        with portal.session() as session:
            original = inbox.mail_original(
                session=session, program=program, mail_id=mail, home=portal.settings.home
            )
    except BoardNotFound:
        raise
    except BoardError as error:
        return error_page(portal, 409, str(error))
    return Response(
        original.data,
        media_type="message/rfc822",
        headers={"Content-Disposition": attachment(original.filename, original.ascii_name)},
    )


def attachment(name: str, fallback: str) -> str:
    """A Content-Disposition naming a download: an ASCII ``filename`` for old clients and
    the UTF-8 name as RFC 5987's ``filename*`` (as Starlette's FileResponse writes it)."""
    return f"attachment; filename=\"{fallback}\"; filename*=utf-8''{quote(name)}"
