"""The portal's FastAPI app: ``create_app(settings)`` is what ``pilot-tracker web`` and
``serve`` run, and what the tests drive (over httpx, and in Chromium)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.board.accounts import Lifetime, Passwords
from pilot_tracker.errors import (
    AnswerError,
    BoardError,
    BoardNotFound,
    BodyTooLarge,
    LinkError,
    LinkExpired,
    LinkRevoked,
    SignInNeeded,
)
from pilot_tracker.ledger.links import Links, Opened
from pilot_tracker.models import LABELS, Program, Unit
from pilot_tracker.settings import Settings
from pilot_tracker.web import security


@dataclass
class Portal:
    """What every route needs, made once per app."""

    settings: Settings
    engine: Engine
    links: Links
    pages: Environment
    messages: outbox.Templates
    secret: str
    clock: Callable[[], datetime]
    limiter: security.BadLinkLimiter
    # The board's accounts: password hashing, how long a sign-in lasts, failed sign-ins
    # per client (beside the lock-out per name, in the database).
    passwords: Passwords
    lifetime: Lifetime
    sign_in_limiter: security.BadLinkLimiter

    def now(self) -> datetime:
        return self.clock()

    def today(self, zone: str) -> date:
        return self.now().astimezone(ZoneInfo(zone)).date()

    def attached(self, session: Session, link: Opened) -> tuple[Program, Unit]:
        """The program and unit a link opened, as rows of ``session``."""
        return session.merge(link.program), session.merge(link.unit)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with db.session(self.engine) as session:
            yield session

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.pages.get_template(template).render(labels=LABELS, **context)
        return HTMLResponse(html, status_code=status)


def portal_of(request: Request) -> Portal:
    return request.app.state.portal


class PortalApp(FastAPI):
    """FastAPI with the guard outside everything, Starlette's error layer included, so that
    its headers are on the 500 page too (``add_middleware`` would put it inside)."""

    def build_middleware_stack(self) -> Any:
        return security.Guard(super().build_middleware_stack())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _utc_now,
    limiter: security.BadLinkLimiter | None = None,
    passwords: Passwords | None = None,
) -> FastAPI:
    """The portal (units' pages and the office's board) on the configured database (at the
    current schema)."""
    if engine is None:
        engine = db.make_engine(settings.resolved_database_url, create=False)
        db.ensure_current(engine)
    secret = settings.link_secret()
    folder: Path = settings.templates
    pages = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    links = settings.link_issuer()
    portal = Portal(
        settings=settings,
        engine=engine,
        links=links,
        pages=pages,
        messages=outbox.Templates(folder, links=links),
        secret=secret,
        clock=clock,
        limiter=limiter or security.BadLinkLimiter(),
        passwords=passwords or Passwords(),
        lifetime=Lifetime(hours=settings.session_hours, idle=settings.session_idle_minutes),
        sign_in_limiter=security.BadLinkLimiter(attempts=30, window=900.0),
    )
    app = PortalApp(
        title="pilot-tracker portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # No redirect from /u/<token>/ to /u/<token>: Starlette would build its address from
        # the request's Host header, which is not trusted for anything.
        redirect_slashes=False,
        # No OpenTelemetry spans, metrics or logs of requests (FastAPI makes them when a
        # process has a tracer provider, as Prefect's may): they would carry the link.
        telemetry={
            "tracing": False,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
        },
    )
    app.state.portal = portal
    app.mount("/static", StaticFiles(directory=folder / "portal" / "static"), name="static")

    from pilot_tracker.web import (
        answers,
        board,
        board_escalations,
        board_inbox,
        board_library,
        board_map,
        board_practice,
        pages,
        report_form,
    )

    routers = [
        module.router
        for module in (
            pages,
            report_form,
            answers,
            board,
            board_map,
            board_escalations,
            board_inbox,
            board_library,
            board_practice,
        )
    ]
    for router in routers:
        app.include_router(router)
    app.state.routers = routers
    _error_pages(app, portal)
    return app


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every route of the app: its own and its routers' (FastAPI 0.150 keeps an included
    router as one entry of ``app.routes``), for the tests that walk them all."""
    own = [route for route in app.routes if isinstance(route, APIRoute)]
    return own + [
        route
        for router in app.state.routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]


_STATUS_TEXT = {
    400: ("请求有误", "提交的内容无法识别，请返回页面重新填写。"),
    401: ("登录失败", "用户名或密码不正确。"),
    403: ("无法提交", "页面已过期或不是从本页面提交的。请刷新页面后重新提交。"),
    404: ("页面不存在", "没有这个页面。请使用通知中的专属链接访问。"),
    405: ("无法操作", "该页面不接受这种操作。请返回页面重新操作。"),
    409: ("无法提供", "该内容目前无法提供。请刷新页面后再试，或与试点工作专班联系。"),
    410: ("链接已失效", "该链接已停用或已过期。请使用最新通知中的链接，或与试点工作专班联系。"),
    413: ("提交的内容过大", "请删去多余的工作表或图片后重新提交。"),
    429: ("尝试次数过多", "无效链接尝试次数过多，请稍后再试，或与试点工作专班联系。"),
    500: ("系统繁忙", "系统暂时无法处理，请稍后再试；如仍有问题，请与试点工作专班联系。"),
}


def error_page(portal: Portal, status: int, message: str = "") -> HTMLResponse:
    title, default = _STATUS_TEXT.get(status, _STATUS_TEXT[400])
    return portal.render(
        "portal/error.html.j2", status=status, title=title, message=message or default
    )


def _error_pages(app: FastAPI, portal: Portal) -> None:
    """Every refusal is a page in Chinese with its status code; never a traceback."""

    @app.exception_handler(LinkError)
    async def link_error(request: Request, error: LinkError) -> Response:
        gone = isinstance(error, LinkExpired | LinkRevoked)  # signed by us, no longer valid
        return error_page(portal, 410 if gone else 404, str(error))

    from pilot_tracker.web.board import sign_in_redirect

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, error: SignInNeeded) -> Response:
        return sign_in_redirect(error.back)

    @app.exception_handler(BoardNotFound)
    async def board_not_found(request: Request, error: BoardNotFound) -> Response:
        return error_page(portal, 404, str(error))

    @app.exception_handler(BoardError)
    async def board_error(request: Request, error: BoardError) -> Response:
        return error_page(portal, 400, str(error))

    @app.exception_handler(AnswerError)
    async def answer_error(request: Request, error: AnswerError) -> Response:
        return error_page(portal, 400, str(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        detail = error.detail if isinstance(error.detail, str) and error.status_code < 500 else ""
        known = detail if any(ord(c) > 127 for c in detail) else ""
        page = error_page(portal, error.status_code, known)
        page.headers.update(error.headers or {})  # Allow of a 405, Retry-After of a 429
        return page

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge) -> Response:
        return error_page(portal, 413, security.too_large_text(error.limit))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return error_page(portal, 400)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> Response:
        security.log_bug(request.method, request.url.path, error)
        return error_page(portal, 500)


def opened(request: Request, token: str) -> Opened:
    """The program and unit of a link token; bad links count against the client."""
    portal = portal_of(request)
    client = request.client.host if request.client else "?"
    if portal.limiter.blocked(client):
        wait = str(int(portal.limiter.window))
        raise StarletteHTTPException(429, headers={"Retry-After": wait})
    try:
        with portal.session() as session:
            found = portal.links.read(session=session, token=token, now=portal.now())
            session.expunge_all()
            return found
    except LinkError:
        portal.limiter.failed(client)
        raise


async def posted(request: Request, token: str, *, files: int = 0) -> tuple[Opened, FormData]:
    """The link and the form of a POST to a unit's page: the link checked first (a bad one
    costs the client, as on GET), the form read within its bounds (fields, files, part
    size; the body's size is bounded by security.Guard before this), its CSRF token checked
    against the browser's cookie and the unit's link version. 403 if the token is missing
    or stale: nothing is written."""
    portal = portal_of(request)
    link = opened(request, token)
    try:
        form = await request.form(
            max_files=files, max_fields=security.MAX_FIELDS, max_part_size=security.FIELD_BYTES
        )
    except StarletteHTTPException as error:  # Starlette's words on a form out of bounds
        raise StarletteHTTPException(400, form_refusal(str(error.detail), files)) from None
    valid = security.csrf_valid(
        portal.secret,
        request.cookies.get(security.CSRF_COOKIE),
        form.get(security.CSRF_FIELD),
        link.unit.id or 0,
        link.unit.link_version,
    )
    if not valid:
        await form.close()
        raise StarletteHTTPException(403)
    return link, form


def form_refusal(reason: str, files: int) -> str:
    """What a user reads when a form is refused by its bounds (Starlette says it in
    English)."""
    if reason.startswith("Too many fields"):
        return (
            f"提交的表单栏目过多（最多{security.MAX_FIELDS}项），无法受理。请从本单位页面重新填写。"
        )
    if reason.startswith("Too many files"):
        return (
            f"一次最多上传{files}个文件。"
            if files
            else "此处不接受上传文件，请使用页面上的上传栏。"
        )
    if "exceeded maximum size" in reason:
        size = security.size_text(security.FIELD_BYTES)
        return f"有一栏填写的内容过长（每栏不超过{size}），请精简后重新提交。"
    return "提交的内容无法识别，请从本单位页面重新填写。"
