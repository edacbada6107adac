"""The unit's page, behind its personal link."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pilot_tracker.ledger.links import Opened
from pilot_tracker.portal.unit_page import UnitPage, unit_page
from pilot_tracker.web import security
from pilot_tracker.web.app import opened, portal_of

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    portal = portal_of(request)
    return portal.render("portal/home.html.j2")


@router.get("/u/{token}", response_class=HTMLResponse)
def unit(request: Request, token: str) -> Response:
    portal = portal_of(request)
    link = opened(request, token)
    with portal.session() as session:
        program = session.merge(link.program)
        unit_row = session.merge(link.unit)
        page = unit_page(
            session=session,
            program=program,
            unit=unit_row,
            today=portal.today(program.timezone),
        )
        return unit_response(request, token, link, page)


def unit_response(
    request: Request,
    token: str,
    link: Opened,
    page: UnitPage,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The unit's page (after a POST too, with what it says at the top in ``context``), and
    the browser's CSRF cookie its forms are bound to."""
    portal = portal_of(request)
    cookie = request.cookies.get(security.CSRF_COOKIE) or security.new_csrf_cookie()
    unit_row = page.unit
    response = portal.render(
        "portal/unit.html.j2",
        status=status,
        page=page,
        link=link,
        action=f"/u/{token}",
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
