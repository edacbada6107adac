"""The unit's page, behind its personal link."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from pilot_tracker.ledger.links import PATH, Opened
from pilot_tracker.portal.answers import answers_view
from pilot_tracker.portal.unit_page import UnitPage, unit_page
from pilot_tracker.web import security
from pilot_tracker.web.app import opened, portal_of

router = APIRouter()


@router.get("/u/{token}", response_class=HTMLResponse)
def unit(request: Request, token: str) -> Response:
    return unit_response(request, opened(request, token))


def unit_response(
    request: Request,
    link: Opened,
    *,
    page: UnitPage | None = None,
    session: Session | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The unit's page: on GET, and again after a POST, with what the POST's route adds to
    its context (a message at the top, an error at its field, the values sent; ``page``
    when the route made it, e.g. with the form as typed), read in the route's ``session``
    if it has one; and the browser's CSRF cookie its forms are bound to."""
    portal = portal_of(request)
    if session is None:
        with portal.session() as own:
            return unit_response(request, link, page=page, session=own, status=status, **context)
    cookie = request.cookies.get(security.CSRF_COOKIE) or security.new_csrf_cookie()
    program, unit_row = portal.attached(session, link)
    today = portal.today(program.timezone)
    if page is None:
        page = unit_page(session=session, program=program, unit=unit_row, today=today)
    answers = answers_view(session=session, program=program, unit=unit_row, today=today)
    response = portal.render(
        "portal/unit.html.j2",
        status=status,
        page=page,
        answers=answers,
        link=link,
        action=f"{PATH}{request.path_params['token']}",
        csrf=security.csrf_token(portal.secret, cookie, unit_row.id or 0, unit_row.link_version),
        **context,
    )
    response.set_cookie(
        security.CSRF_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=portal.settings.public_url.startswith("https://"),
        path="/u/",
    )
    return response
