"""The unit's answers: its quarterly statement (confirm, dispute), its notices (签收), its
extension requests (延期申请).

Each POST is read by ``app.posted`` (the link, the bounded form, CSRF), calls one library
function, and shows the unit's page again: with a message at the top when the answer was
taken, or with the refusal at its field (400) and nothing written. What names something
that is not the unit's own is a 404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pilot_tracker import db
from pilot_tracker.errors import AnswerError, AnswerNotFound
from pilot_tracker.ledger.links import Opened
from pilot_tracker.models import LABELS, ConfirmationStatus, EscalationLevel, Program, Unit
from pilot_tracker.portal import answers
from pilot_tracker.supervise import extensions, notices
from pilot_tracker.web.app import error_page, opened, portal_of, posted
from pilot_tracker.web.pages import unit_response

router = APIRouter()


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _when(moment: datetime, zone: str) -> str:
    return db.local_moment(moment, zone).strftime("%Y-%m-%d %H:%M")


async def _answer(
    request: Request,
    token: str,
    section: str,
    fields: tuple[str, ...],
    take: Callable[[Any, Program, Unit, FormData], str],
) -> Response:
    """Read a unit's POST, take its answer with ``take`` (which says what was taken) in
    one transaction, and show the page again."""
    portal = portal_of(request)
    link, form = await posted(request, token)
    sent = {name: _text(form, name) for name in fields}

    def write() -> str:
        with portal.session() as session:
            return take(session, *portal.attached(session, link), form)

    try:
        done = await run_in_threadpool(write)
    except AnswerNotFound as error:
        return error_page(portal, 404, str(error))
    except AnswerError as error:
        return await _page(
            request,
            link,
            status=400,
            flash=f"提交未成功：{error}",
            flash_bad=True,
            flash_anchor=f"{section}-{error.field}" if error.field else section,
            answer_form=section,
            answer_error=error,
            answer_posted=sent,
        )
    return await _page(request, link, flash=done, flash_anchor=section)


async def _page(request: Request, link: Opened, **context: Any) -> Response:
    return await run_in_threadpool(lambda: unit_response(request, link, **context))


@router.post("/u/{token}/statement", response_class=HTMLResponse)
async def statement(request: Request, token: str) -> Response:
    """确认 or 提出异议 on the quarterly statement: quarter, action (confirm|dispute),
    reason."""

    def take(session: Any, program: Program, unit: Unit, form: FormData) -> str:
        answered = answers.answer_statement(
            session=session,
            program=program,
            unit=unit,
            quarter=_text(form, "quarter"),
            action=_text(form, "action"),
            reason=_text(form, "reason"),
            now=portal_of(request).now(),
        )
        title = answers.quarter_title(answered.quarter)
        when = (
            answered.answer.recorded_at.strftime("%Y-%m-%d %H:%M")
            if answered.answer.recorded_at
            else ""
        )
        confirmed = answered.answer.status == ConfirmationStatus.CONFIRMED.value
        if answered.already:
            what = "确认" if confirmed else "提出同样的异议"
            return f"本单位已于{when}就{title}对账单{what}，无需重复提交。"
        if confirmed:
            return f"已确认{title}对账单（{when}）。"
        return f"已提交对{title}对账单的异议（{when}），专班将核实后与贵单位联系。"

    return await _answer(request, token, "statement", ("quarter", "action", "reason"), take)


@router.post("/u/{token}/notices", response_class=HTMLResponse)
async def notice(request: Request, token: str) -> Response:
    """签收 a notice: escalation (its id), level."""

    def take(session: Any, program: Program, unit: Unit, form: FormData) -> str:
        taken = notices.acknowledge(
            session=session,
            unit=unit,
            escalation_id=_text(form, "escalation"),
            level=_text(form, "level"),
            now=portal_of(request).now(),
        )
        moment = taken.notice.acknowledged_at
        when = _when(moment, program.timezone) if moment else ""
        label = LABELS[EscalationLevel][taken.notice.level]
        if taken.already:
            return f"该“{label}”通知已于{when}签收，无需重复签收。"
        return f"已签收“{label}”通知（{when}）。"

    return await _answer(request, token, "notices", ("escalation", "level"), take)


@router.post("/u/{token}/extensions", response_class=HTMLResponse)
async def extension(request: Request, token: str) -> Response:
    """延期申请 for a task the unit leads: task, proposed (date), reason."""

    def take(session: Any, program: Program, unit: Unit, form: FormData) -> str:
        taken = extensions.request(
            session=session,
            program=program,
            unit=unit,
            task=_text(form, "task"),
            proposed=_text(form, "proposed"),
            reason=_text(form, "reason"),
            now=portal_of(request).now(),
        )
        row = taken.extension
        task = _text(form, "task").strip()
        if taken.already:
            return (
                f"已收到任务{task}的延期申请（申请延期至{row.proposed_due.isoformat()}），"
                "正在等待专班审批，无需重复提交。"
            )
        return (
            f"已提交任务{task}的延期申请（原定{row.previous_due.isoformat()}，"
            f"申请延期至{row.proposed_due.isoformat()}），请等待专班审批。"
        )

    return await _answer(request, token, "extensions", ("task", "proposed", "reason"), take)


@router.get("/u/{token}/statement/{quarter}")
def statement_file(request: Request, token: str, quarter: str) -> Response:
    """The unit's own statement file of a quarter, from the paths its record holds."""
    portal = portal_of(request)
    link = opened(request, token)
    try:
        with portal.session() as session:
            program, unit = portal.attached(session, link)
            path = answers.statement_file(
                session=session,
                home=portal.settings.home,
                program=program,
                unit=unit,
                quarter=quarter,
            )
    except AnswerNotFound as error:
        return error_page(portal, 404, str(error))
    pdf = path.suffix.lower() == ".pdf"
    return FileResponse(
        path,
        media_type="application/pdf" if pdf else "text/html; charset=utf-8",
        filename=f"{link.program.code}-{quarter}-对账单-{link.unit.code}{path.suffix.lower()}",
        content_disposition_type="attachment",
    )
