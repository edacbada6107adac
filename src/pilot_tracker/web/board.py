"""The office's board: signing in and out, the programs an account may see (``/``), and
what every board page shares.

Every board route reads its viewer with :func:`signed_in` (no session: to the login
page), its program with :func:`board_program` (a program the account may not see is the
same 404 as one that does not exist), and a POST through :func:`board_posted`: the
program first, then a leader is refused (403) before the form is read, then the form
within its bounds and its CSRF token, bound to the session. Pages are rendered with
:func:`board_render`, which gives every template the viewer, the program, the form token
and the tab it is on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from pilot_tracker.board import accounts, city
from pilot_tracker.board.accounts import Viewer
from pilot_tracker.errors import BoardNotFound, SignInNeeded, SignInRefused
from pilot_tracker.models import LABELS, AccountRole, Program
from pilot_tracker.web import security
from pilot_tracker.web.app import Portal, form_refusal, portal_of

router = APIRouter()

SESSION_COOKIE = "pt_session"
LOGIN_COOKIE = "pt_login"  # binds the login form's token to the browser that opened it
NOT_FOUND = "没有这个页面，或您的账户无权查看。请从工作台首页进入。"


# --- who is looking -------------------------------------------------------------------------


def signed_in(request: Request) -> Viewer:
    """The viewer of the request's session cookie; ``SignInNeeded`` without one."""
    portal = portal_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    with portal.session() as session:
        viewer = accounts.resume(
            session=session, token=token, now=portal.now(), lifetime=portal.lifetime
        )
    if viewer is None:
        raise SignInNeeded(request.url.path)
    return viewer


def board_program(request: Request, code: str) -> tuple[Viewer, Program]:
    """The viewer and the program of a board page; ``BoardNotFound`` (404) for a program
    the viewer may not see, exactly as for one that does not exist."""
    viewer = signed_in(request)
    if not viewer.sees(code):
        raise BoardNotFound(NOT_FOUND)
    portal = portal_of(request)
    with portal.session() as session:
        program = session.exec(select(Program).where(Program.code == code)).first()
        if program is None:
            raise BoardNotFound(NOT_FOUND)
        session.expunge(program)
    return viewer, program


def board_csrf(portal: Portal, viewer: Viewer) -> str:
    """The form token of a viewer's pages: bound to their session."""
    message = f"board|{viewer.token_sha256}".encode()
    return hmac.new(portal.secret.encode(), message, hashlib.sha256).hexdigest()


async def board_posted(request: Request, code: str) -> tuple[Viewer, Program, FormData]:
    """The viewer, program and form of a POST to a board page: a program the viewer may not
    see is a 404, a leader's POST a 403 (before the form is read), a form out of bounds a
    400, and one without the session's CSRF token a 403. Nothing is written on any."""
    viewer, program = await run_in_threadpool(board_program, request, code)
    if not viewer.can_act:
        raise StarletteHTTPException(403, LEADER_READS)
    form = await _form(request)
    sent = form.get(security.CSRF_FIELD)
    expected = board_csrf(portal_of(request), viewer)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        await form.close()
        raise StarletteHTTPException(403)
    return viewer, program, form


LEADER_READS = "领导账户只能查看，不能提交或修改。如需办理，请联系试点工作专班。"


async def _form(request: Request) -> FormData:
    try:
        return await request.form(
            max_files=0, max_fields=security.MAX_FIELDS, max_part_size=security.FIELD_BYTES
        )
    except StarletteHTTPException as error:
        raise StarletteHTTPException(400, form_refusal(str(error.detail), 0)) from None


def board_render(
    request: Request,
    name: str,
    *,
    viewer: Viewer,
    program: Program | None = None,
    tab: str = "",
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A board page: its template with the viewer, the program and its tab, the form token
    (for the office; a leader's pages have no forms) and the Chinese names of the
    vocabularies."""
    portal = portal_of(request)
    carried = request.cookies.get(FLASH_COOKIE)
    if carried and not context.get("flash"):
        context["flash"] = _flash_reader(portal).loads(carried, max_age=FLASH_SECONDS) or ""
    response = portal.render(
        name,
        status=status,
        viewer=viewer,
        role_label=LABELS[AccountRole][viewer.role],
        program=program,
        tab=tab,
        csrf=board_csrf(portal, viewer),
        **context,
    )
    if carried:
        response.delete_cookie(FLASH_COOKIE, path="/p/")
    return response


# What an office's POST did, said on the page it leads back to (post/redirect/get: a reload
# of that page does not post again): a signed cookie the next board page reads once.
FLASH_COOKIE = "pt_flash"
FLASH_SECONDS = 120


def _flash_reader(portal: Portal) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    class Reader(URLSafeTimedSerializer):
        def loads(self, text: str, max_age: int | None = None, **_: Any) -> Any:
            try:
                said = super().loads(text, max_age=max_age)
            except Exception:  # tampered, expired or cut short: nothing to say
                return ""
            return said if isinstance(said, str) else ""

    return Reader(portal.secret, salt="board-flash")


def done(request: Request, where: str, message: str) -> RedirectResponse:
    """The answer to an office's POST that was taken: back to ``where`` (a board path),
    which says ``message`` at its top."""
    portal = portal_of(request)
    response = RedirectResponse(where, status_code=303)
    response.set_cookie(
        FLASH_COOKIE,
        _flash_reader(portal).dumps(message[:500]),
        max_age=FLASH_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(portal),
        path="/p/",
    )
    return response


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# --- signing in and out ---------------------------------------------------------------------


def _login_token(portal: Portal, cookie: str) -> str:
    return hmac.new(portal.secret.encode(), f"login|{cookie}".encode(), hashlib.sha256).hexdigest()


def _safe_back(back: str) -> str:
    """Where to go after signing in: a board path of ours, never another site."""
    if back.startswith("/p/") and "//" not in back and "\\" not in back:
        return back
    return "/"


def login_page(
    request: Request, *, status: int = 200, error: str = "", name: str = "", back: str = "/"
) -> HTMLResponse:
    portal = portal_of(request)
    cookie = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = portal.render(
        "board/login.html.j2",
        status=status,
        error=error,
        name=name,
        back=_safe_back(back),
        csrf=_login_token(portal, cookie),
    )
    response.set_cookie(
        LOGIN_COOKIE, cookie, httponly=True, samesite="strict", secure=_secure(portal), path="/"
    )
    return response


def _secure(portal: Portal) -> bool:
    return portal.settings.public_url.startswith("https://")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, back: str = "/") -> Response:
    return login_page(request, back=back)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Sign in: the same page and words for every refusal (no name is told apart)."""
    portal = portal_of(request)
    client = request.client.host if request.client else "?"
    if portal.sign_in_limiter.blocked(client):
        wait = str(int(portal.sign_in_limiter.window))
        raise StarletteHTTPException(429, SIGN_IN_BLOCKED, headers={"Retry-After": wait})
    form = await _form(request)
    name, password = text_field(form, "name"), text_field(form, "password")
    back = _safe_back(text_field(form, "back"))
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    sent = text_field(form, security.CSRF_FIELD)
    if not cookie or not hmac.compare_digest(sent, _login_token(portal, cookie)):
        return login_page(request, status=403, error=LOGIN_EXPIRED, name=name[:64], back=back)

    def check() -> tuple[Viewer, str] | SignInRefused:
        with portal.session() as session:
            try:
                return accounts.sign_in(
                    session=session,
                    name=name,
                    password=password,
                    now=portal.now(),
                    passwords=portal.passwords,
                    lifetime=portal.lifetime,
                )
            except SignInRefused as refused:  # the failure is counted: committed all the same
                return refused

    outcome = await run_in_threadpool(check)
    if isinstance(outcome, SignInRefused):
        portal.sign_in_limiter.failed(client)
        return login_page(request, status=401, error=str(outcome), name=name[:64], back=back)
    _, token = outcome
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(portal),
        path="/",
        max_age=portal.lifetime.hours * 3600,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


SIGN_IN_BLOCKED = "登录失败次数过多，请稍后再试。如忘记密码，请联系系统管理员。"
LOGIN_EXPIRED = "登录页面已过期，请重新输入用户名和密码。"


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends in the database, so its cookie opens nothing again."""
    portal = portal_of(request)
    viewer = await run_in_threadpool(signed_in, request)
    form = await _form(request)
    sent = text_field(form, security.CSRF_FIELD)
    if not hmac.compare_digest(sent, board_csrf(portal, viewer)):
        raise StarletteHTTPException(403)
    token = request.cookies.get(SESSION_COOKIE)

    def end() -> None:
        with portal.session() as session:
            accounts.sign_out(session=session, token=token, now=portal.now())

    await run_in_threadpool(end)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- the programs an account may see --------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The programs the account may see, one row each (the city view), linking to their
    boards, and the roll-ups of the cities it may see; an anonymous visitor lands on the
    login page."""
    viewer = signed_in(request)
    portal = portal_of(request)
    with portal.session() as session:
        view = city.overview(session=session, viewer=viewer, now=portal.now())
        rollups = city.city_rollups(session=session, viewer=viewer, home=portal.settings.home)
    return board_render(
        request,
        "board/home.html.j2",
        viewer=viewer,
        rows=view.rows,
        totals=view.totals,
        cities=rollups,
    )


def sign_in_redirect(back: str) -> RedirectResponse:
    target = "/login" if back in ("", "/") else f"/login?back={quote(back, safe='/')}"
    return RedirectResponse(target, status_code=303)
