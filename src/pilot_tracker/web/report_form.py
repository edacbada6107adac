"""The unit's report: the online form, and the upload of a filled submission workbook.

Both answer with the unit's page, the outcome at its top (no redirect: the summary is what
the liaison came for). A form intake rejected comes back as typed, status 422, each
reason at its field; an upload refused whole is 422 too, with intake's reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from pilot_tracker.portal.report_form import Outcome, read_posted, submit_form, take_upload
from pilot_tracker.portal.unit_page import unit_page
from pilot_tracker.web.app import portal_of, posted
from pilot_tracker.web.pages import unit_response

router = APIRouter()


@router.post("/u/{token}/report", response_class=HTMLResponse)
async def report(request: Request, token: str) -> Response:
    link, form = await posted(request, token)
    items = form.multi_items()
    await form.close()

    def take() -> Response:
        portal = portal_of(request)
        with portal.session() as session:
            program, unit = portal.attached(session, link)
            today = portal.today(program.timezone)
            page = unit_page(session=session, program=program, unit=unit, today=today)
            typed = read_posted(items, shown_form=page.report)
            outcome = submit_form(
                session=session,
                program=program,
                unit=unit,
                form=typed,
                today=today,
                now=portal.now(),
                home=portal.settings.home,
                templates=portal.messages,
            )
            if outcome.stored or outcome.duplicate:
                # The page as stored now: the form prefilled with what was just reported.
                return unit_response(request, link, session=session, outcome=outcome)
            page.report = typed
            return unit_response(
                request, link, page=page, session=session, status=422, outcome=outcome
            )

    return await run_in_threadpool(take)


@router.post("/u/{token}/upload", response_class=HTMLResponse)
async def upload(request: Request, token: str) -> Response:
    link, form = await posted(request, token, files=1)
    try:
        sent = form.get("file")
        if isinstance(sent, UploadFile):
            name, content_type = sent.filename or "", sent.content_type or ""
            data = await sent.read()  # within security.UPLOAD_BYTES: the guard saw to it
        else:
            name, content_type, data = "", "", b""
    finally:
        await form.close()

    def take() -> Response:
        portal = portal_of(request)
        with portal.session() as session:
            program, unit = portal.attached(session, link)
            outcome = take_upload(
                session=session,
                program=program,
                unit=unit,
                name=name,
                data=data,
                content_type=content_type,
                today=portal.today(program.timezone),
                now=portal.now(),
                home=portal.settings.home,
                templates=portal.messages,
            )
            return unit_response(
                request, link, session=session, status=_upload_status(outcome), outcome=outcome
            )

    return await run_in_threadpool(take)


@router.get("/u/{token}/report")
@router.get("/u/{token}/upload")
def back_to_the_page(token: str) -> Response:
    """The address of a post's answer, opened again (reloaded, bookmarked): the page."""
    return RedirectResponse(f"/u/{token}", status_code=303)


def _upload_status(outcome: Outcome) -> int:
    """422 when nothing of the file could be taken (refused whole, or nothing sent); 500
    when intake failed on it (archived, and the office told)."""
    summary = outcome.summary
    if outcome.refused or summary is None:
        return 422
    if summary.fault:
        return 500
    if outcome.duplicate or summary.rejected == 0 or summary.imported or summary.updated:
        return 200
    return 422
