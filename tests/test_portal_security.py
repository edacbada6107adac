"""The portal's security, proven over HTTP (docs/security.md, "The unit portal").

Every case of the issue's item 5: CSRF on every form, bodies bounded before they are read,
no unit reaching another's data, bad links rate-limited, cookies and security headers,
autoescape, nothing secret in pages or logs, the signing key. The walkers take *every*
route under ``/u/{token}`` from the app, so a route added later is covered without editing
this file; a probe route (a form that writes one row through ``posted``, as every POST
route must) shows each check can fail.
"""

from __future__ import annotations

import logging
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app as cli_app
from pilot_tracker.errors import ConfigurationError
from pilot_tracker.ledger import links
from pilot_tracker.models import (
    Acknowledgement,
    Escalation,
    Extension,
    Indicator,
    Notification,
    Program,
    Reconciliation,
    StatusReport,
    Submission,
    Task,
    TaskCoUnit,
    Unit,
)
from pilot_tracker.settings import PROJECT_TEMPLATES, Settings
from pilot_tracker.web import security
from pilot_tracker.web.app import api_routes, create_app, opened, posted

from .browser import run_async
from .portal_fixtures import NOW, SECRET, PortalUnderTest

PROBE = "/u/{token}/probe"
BOOM = "/u/{token}/boom"
FORBIDDEN = "无法提交"  # the 403 page's title


# --- the portal, watched ------------------------------------------------------------------


@pytest.fixture
def portal(portal: PortalUnderTest, caplog: pytest.LogCaptureFixture) -> Iterator[PortalUnderTest]:
    """The portal with a probe route, every answer and every log record kept: after the
    test, no answer holds the secret key, no error page echoes a link token or shows a
    traceback, and no log record holds a link token."""
    caplog.set_level(logging.DEBUG)
    add_probes(portal.client.app, portal.engine)  # type: ignore[arg-type]
    answers: list[httpx.Response] = []

    def keep(answer: httpx.Response) -> None:
        answer.read()
        answers.append(answer)

    portal.client.event_hooks["response"].append(keep)
    yield portal
    paths = [answer.request.url.path for answer in answers]
    tokens = {token for token in map(token_of, paths) if len(token) >= 20}
    for answer in answers:
        shown = answer.text + str(answer.headers)
        assert SECRET not in shown, answer.request.url.path
        if answer.status_code >= 400:
            assert "Traceback" not in answer.text
            # A refused answer shows the unit's own page again (its forms post to its own
            # link); an error page shows no link, and no page shows another link.
            own = token_of(answer.request.url.path)
            shown = tokens if "notice-page" in answer.text else tokens - {own}
            assert not any(token in answer.text for token in shown), (
                answer.status_code,
                answer.request.url.path[:12],
            )
    # Every record but the test client's own (httpx logs each URL it asks for).
    records = [record for record in caplog.records if not record.name.startswith("httpx")]
    logged = "".join(caplog.handler.format(record) for record in records)
    assert not any(token in logged for token in tokens), "a link token in the log"
    assert SECRET not in logged


def token_of(path: str) -> str:
    return path.removeprefix("/u/").split("/")[0] if path.startswith("/u/") else ""


def add_probes(app: FastAPI, engine: sa.Engine) -> None:
    """Test-only routes: a form that writes one row for its unit (read by ``posted``, as
    every POST route must be), and a page that fails with a bug."""

    async def probe(request: Request, token: str) -> Response:
        link, form = await posted(request, token)
        with db.session(engine) as session:
            session.add(
                Reconciliation(
                    program_id=link.program.id,
                    unit_id=link.unit.id,
                    quarter="2021Q1",
                    status="confirmed",
                    note=str(form.get("note", "")),
                    via="portal",
                    recorded_at=NOW,
                )
            )
        return HTMLResponse("已收到")

    async def boom(request: Request, token: str) -> Response:
        raise RuntimeError(f"cannot open {request.url}")

    app.add_api_route(PROBE, probe, methods=["POST"])
    app.add_api_route(BOOM, boom, methods=["GET"])


def unit_routes(app: FastAPI, method: str) -> list[APIRoute]:
    """Every route of a unit's link (its path under /u/{token}) that takes ``method``."""
    return [
        route
        for route in api_routes(app)
        if route.path.startswith("/u/{token}") and method in route.methods and route.path != BOOM
    ]


def fill(path: str, token: str, value: str = "1") -> str:
    """A route's path with the link's token, and ``value`` for every other parameter."""
    return re.sub(r"\{[^}]+\}", value, path.replace("{token}", token, 1))


def plausible(route: APIRoute, token: str, given: str | None = None) -> str:
    """A route's path with the link's token and a value each other parameter accepts (the
    first of an enumeration; else ``given``, or a quarter, a task of the link's unit, 1),
    so the request reaches the route's own checks."""
    path = route.path.replace("{token}", token, 1)
    for parameter in route.dependant.path_params:
        if parameter.name == "token":
            continue
        annotation = parameter.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            value = str(next(iter(annotation)).value)
        elif given is not None:
            value = given
        elif "quarter" in parameter.name or "period" in parameter.name:
            value = "2021Q1"
        elif "task" in parameter.name and annotation is str:
            value = "YZ-FZ-01"  # a task yinzhou/jyj leads
        else:
            value = "1"
        path = re.sub(r"\{" + parameter.name + r"(:[^}]*)?\}", value, path)
    return path


def table_counts(engine: sa.Engine) -> dict[str, int]:
    """The number of rows of every table."""
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {
            name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in names
        }


def form_token(portal: PortalUnderTest, path: str, client: TestClient | None = None) -> str:
    """The form token the unit's page gives this browser (its cookie, the unit's link)."""
    client = client or portal.client
    page = client.get(path)
    assert page.status_code == 200, page.text
    cookie = client.cookies.get(security.CSRF_COOKIE)
    assert cookie, "the page set no CSRF cookie"
    with db.session(portal.engine) as session:
        opened = portal.links.read(session=session, token=token_of(path), now=portal.clock[0])
        unit_id, version = opened.unit.id, opened.unit.link_version
    assert unit_id is not None
    return security.csrf_token(SECRET, cookie, unit_id, version)


# --- CSRF -----------------------------------------------------------------------------


def test_every_form_refuses_a_post_without_a_valid_csrf_token_and_writes_nothing(
    portal: PortalUnderTest,
) -> None:
    app = portal.client.app
    routes = unit_routes(app, "POST")  # type: ignore[arg-type]
    # The walk finds the app's own routes, not only the probe added here.
    assert {PROBE, "/u/{token}/statement", "/u/{token}/upload"} <= {r.path for r in routes}
    mine = portal.link("yinzhou", "jyj")
    theirs = portal.link("yinzhou", "tqw")
    good = form_token(portal, mine)
    other_units = form_token(portal, theirs)  # the same browser, another unit's page
    with TestClient(app, base_url="http://127.0.0.1:8000") as stranger:
        other_cookies = form_token(portal, mine, stranger)  # the same page, another browser
    assert len({good, other_units, other_cookies}) == 3
    cases = {
        "no token": {},
        "a token of another browser's cookie": {"csrf": other_cookies},
        "another unit's token": {"csrf": other_units},
        "a made-up token": {"csrf": "0" * 64},
    }
    for route in routes:
        url = plausible(route, token_of(mine))
        for case, form in cases.items():
            before = table_counts(portal.engine)
            answer = portal.client.post(url, data={**form, "note": "测试"})
            assert answer.status_code == 403, (route.path, case, answer.status_code)
            assert FORBIDDEN in answer.text and "请刷新页面后重新提交" in answer.text
            assert table_counts(portal.engine) == before, (route.path, case)
        # The right token without the browser's cookie (a page opened elsewhere).
        before = table_counts(portal.engine)
        with TestClient(app, base_url="http://127.0.0.1:8000") as cookieless:
            answer = cookieless.post(url, data={"csrf": good})
        assert answer.status_code == 403 and table_counts(portal.engine) == before, route.path

    # The walk can fail: the probe writes its one row with the right token, and only then.
    before = table_counts(portal.engine)
    answer = portal.client.post(fill(PROBE, token_of(mine)), data={"csrf": good, "note": "好"})
    assert answer.status_code == 200 and "已收到" in answer.text
    after = table_counts(portal.engine)
    assert after["reconciliation"] == before["reconciliation"] + 1
    assert {k: v for k, v in after.items() if k != "reconciliation"} == {
        k: v for k, v in before.items() if k != "reconciliation"
    }


def test_a_form_token_dies_with_the_links_it_was_given_under(portal: PortalUnderTest) -> None:
    old = portal.link("yinzhou", "jyj")
    token = form_token(portal, old)
    with db.session(portal.engine) as session:
        program = session.exec(sa.select(Program).where(Program.code == "yinzhou")).scalar_one()
        links.revoke(session=session, program=program, unit="jyj")
    new = portal.link("yinzhou", "jyj")
    before = table_counts(portal.engine)
    answer = portal.client.post(fill(PROBE, token_of(new)), data={"csrf": token})
    assert answer.status_code == 403 and FORBIDDEN in answer.text
    assert table_counts(portal.engine) == before


# --- bounded bodies ---------------------------------------------------------------------


@dataclass
class Raw:
    """An answer of the app called directly over ASGI, and how much of the body it read."""

    status: int
    headers: dict[str, str]
    text: str
    chunks_read: int


def call(app: Any, method: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> Raw:
    """One request straight to the ASGI app: the body comes in ``chunks`` (the last one
    says it is the last only if the iterator ends), counted as the app reads them."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    run_async(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    found = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Raw(start["status"], found, body.decode(), read)


def never_read() -> Iterator[bytes]:
    raise AssertionError("the body was read")
    yield b""  # pragma: no cover


CHUNK = 16 * 1024


def endless() -> Iterator[bytes]:
    """A form that never ends, in chunks of one field each (each within the bound of a
    field, and far fewer fields than the bound of a form before the body's bound)."""
    for number in range(1_000_000):
        head = f"f{number}=".encode()
        yield head + b"a" * (CHUNK - len(head) - 1) + b"&"


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("tail", "declared"),
    [("/probe", security.FORM_BYTES + 1), ("/upload", 50 * 1024 * 1024)],
    ids=["a form over 256 KB", "a 50 MB upload"],
)
def test_a_body_declared_over_its_bound_is_refused_unread(
    portal: PortalUnderTest, tail: str, declared: int
) -> None:
    path = portal.link("yinzhou", "jyj") + tail
    headers = {"content-type": FORM, "content-length": str(declared)}
    before = table_counts(portal.engine)
    answer = call(portal.client.app, "POST", path, headers, never_read())
    assert answer.status == 413 and answer.chunks_read == 0
    assert "提交的内容过大" in answer.text and "单次提交不能超过" in answer.text
    assert answer.headers["x-frame-options"] == "DENY"
    assert table_counts(portal.engine) == before
    # And over HTTP, a body that is as large as it says.
    big = portal.client.post(
        path, content=b"a" * (security.body_limit(path) + 1), headers={"content-type": FORM}
    )
    assert big.status_code == 413 and "提交的内容过大" in big.text


def test_a_body_without_a_length_is_cut_off_where_it_grows_past_the_bound(
    portal: PortalUnderTest,
) -> None:
    """Every POST route reads its body through the guard's count: 413 once the chunks of
    a body sent with no Content-Length pass the bound, the rest left unread."""
    app = portal.client.app
    mine = portal.link("yinzhou", "jyj")
    for route in unit_routes(app, "POST"):  # type: ignore[arg-type]
        path = plausible(route, token_of(mine))
        before = table_counts(portal.engine)
        answer = call(app, "POST", path, {"content-type": FORM}, endless())
        limit = security.body_limit(path)
        assert answer.status == 413, (route.path, answer.status)
        assert answer.chunks_read * CHUNK <= limit + CHUNK, route.path
        assert "提交的内容过大" in answer.text
        assert (
            answer.headers["content-security-policy"]
            == security.SECURITY_HEADERS["content-security-policy"]
        )
        assert table_counts(portal.engine) == before, route.path


def multipart(fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    boundary = "pilotboundary7MA4YWxkTrZu0gW"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_too_many_fields_or_too_large_a_field_is_a_400_page_on_every_form(
    portal: PortalUnderTest,
) -> None:
    mine = portal.link("yinzhou", "jyj")
    csrf = form_token(portal, mine)
    many_body, many_type = multipart([("csrf", csrf)] + [(f"f{i}", "1") for i in range(1001)])
    big_body, big_type = multipart([("csrf", csrf), ("note", "长" * 30_000)])  # 90 KB
    assert len(many_body) < security.FORM_BYTES and len(big_body) < security.FORM_BYTES
    for route in unit_routes(portal.client.app, "POST"):  # type: ignore[arg-type]
        url = plausible(route, token_of(mine))
        before = table_counts(portal.engine)
        fields = {f"f{i}": "1" for i in range(10_000)} | {"csrf": csrf}
        answers = {
            "10,000 fields": portal.client.post(url, data=fields),
            "1,001 multipart fields": portal.client.post(
                url, content=many_body, headers={"content-type": many_type}
            ),
            "a 90 KB field": portal.client.post(url, data={"csrf": csrf, "note": "a" * 90_000}),
            "a 90 KB multipart field": portal.client.post(
                url, content=big_body, headers={"content-type": big_type}
            ),
        }
        for case, answer in answers.items():
            assert answer.status_code == 400, (route.path, case, answer.status_code)
            assert "请求有误" in answer.text, (route.path, case)
        assert "栏目过多（最多1000项）" in answers["10,000 fields"].text
        assert "每栏不超过64 KB" in answers["a 90 KB multipart field"].text
        assert table_counts(portal.engine) == before, route.path


def test_a_file_posted_to_a_form_that_takes_none_is_refused(portal: PortalUnderTest) -> None:
    mine = portal.link("yinzhou", "jyj")
    csrf = form_token(portal, mine)
    before = table_counts(portal.engine)
    answer = portal.client.post(
        fill(PROBE, token_of(mine)), data={"csrf": csrf}, files={"file": ("a.xlsx", b"PK")}
    )
    assert answer.status_code == 400 and "此处不接受上传文件" in answer.text
    assert table_counts(portal.engine) == before


# --- one unit's link never reaches another's data ----------------------------------------


@dataclass
class Other:
    """A unit that is not the link's, with rows of its own, each marked."""

    program: str
    code: str
    marker: str
    codes: set[str]  # its task and indicator codes the link's unit has nothing to do with
    ids: set[str]  # every id of its rows, as a route might take it
    unit_ids: set[int]
    task_ids: set[int]
    row_ids: dict[str, set[int]]  # table → ids of its rows


def plant(portal: PortalUnderTest, program: str, code: str, mine: str) -> Other:
    """Rows of unit ``code`` in every table a unit has rows in, each holding a marker."""
    marker = f"仅限{program}{code}可见"
    with db.session(portal.engine) as session:
        record = session.exec(sa.select(Program).where(Program.code == program)).scalar_one()
        unit = session.exec(
            sa.select(Unit).where(Unit.program_id == record.id, Unit.code == code)
        ).scalar_one()
        own = session.exec(
            sa.select(Unit).join(Program).where(Program.code == "yinzhou", Unit.code == mine)
        ).scalar_one()
        tasks = session.exec(sa.select(Task).where(Task.program_id == record.id)).scalars().all()
        involved: dict[int, set[int]] = {}
        for task in tasks:
            co = session.exec(
                sa.select(TaskCoUnit.unit_id).where(TaskCoUnit.task_id == task.id)
            ).scalars()
            involved[task.id] = {task.lead_unit_id, *co}  # type: ignore[index]
        theirs = [t for t in tasks if unit.id in involved[t.id] and own.id not in involved[t.id]]
        indicators = (
            session.exec(sa.select(Indicator).where(Indicator.owner_unit_id == unit.id))
            .scalars()
            .all()
        )
        task = next(t for t in theirs if t.lead_unit_id == unit.id)
        submission = Submission(
            program_id=record.id,
            unit_id=unit.id,
            source="form",
            sha256="0" * 63 + str(len(marker)),
            archive_path="",
            status="imported",
            received_at=NOW,
        )
        session.add(submission)
        session.flush()
        escalation = Escalation(
            program_id=record.id, unit_id=unit.id, level="urge", status="open",
            opened_on=date(2021, 4, 6), outcome=marker,
        )  # fmt: skip
        rows: list[Any] = [
            StatusReport(
                submission_id=submission.id, task_id=task.id, unit_id=unit.id, period="2021Q1",
                status="in_progress", percent=37.5, progress=marker, problems=marker,
                next_steps=marker, evidence=marker, reported_on=date(2021, 3, 31),
            ),
            escalation,
            Reconciliation(
                program_id=record.id, unit_id=unit.id, quarter="2021Q1", status="disputed",
                note=marker, via="portal", recorded_at=NOW,
            ),
            Extension(
                program_id=record.id, unit_id=unit.id, task_id=task.id, reason=marker,
                requested_at=NOW, previous_due=task.due_date, proposed_due=date(task.due_date.year + 1, 12, 31),
            ),
            Notification(
                program_id=record.id, dedup_key=f"test:{program}:{code}",
                target=f"unit:{code} role:liaison", subject=f"【督办】{marker}", body=marker,
                created_at=NOW,
            ),
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        session.add(Acknowledgement(escalation_id=escalation.id, level="urge", acknowledged_at=NOW))
        session.flush()
        row_ids: dict[str, set[int]] = {"submission": {submission.id}}  # type: ignore[arg-type]
        for row in [*rows]:
            row_ids.setdefault(type(row).__tablename__, set()).add(row.id)
        row_ids["escalation"] = {escalation.id}  # type: ignore[arg-type]
        codes = {t.code for t in theirs} | {i.code for i in indicators}
        ids = {str(i) for ids in row_ids.values() for i in ids}
        ids |= {str(t.id) for t in theirs} | {str(i.id) for i in indicators} | codes
        return Other(
            program=program,
            code=code,
            marker=marker,
            codes=codes,
            ids=ids,
            unit_ids={unit.id},  # type: ignore[arg-type]
            task_ids={t.id for t in theirs},  # type: ignore[misc]
            row_ids=row_ids,
        )


def snapshot(engine: sa.Engine) -> dict[str, set[tuple[tuple[str, Any], ...]]]:
    """Every row of every table."""
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {
            name: {
                tuple(sorted(row._mapping.items()))
                for row in connection.execute(sa.text(f'SELECT * FROM "{name}"'))
            }
            for name in names
        }


def touches(others: list[Other], table: str, row: tuple[tuple[str, Any], ...]) -> bool:
    """Whether a row belongs to one of ``others``."""
    values = dict(row)
    for other in others:
        if values.get("unit_id") in other.unit_ids or values.get("task_id") in other.task_ids:
            return True
        if table in other.row_ids and values.get("id") in other.row_ids[table]:
            return True
        for column, parent in (("escalation_id", "escalation"), ("submission_id", "submission")):
            if values.get(column) in other.row_ids.get(parent, set()):
                return True
        if table == "notification" and str(values.get("target", "")).startswith(
            f"unit:{other.code} "
        ):
            return True
    return False


def changed(
    before: dict[str, set[Any]], after: dict[str, set[Any]]
) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
    return [(table, row) for table in after for row in (after[table] ^ before.get(table, set()))]


def generic_form(csrf: str, value: str, other: Other) -> dict[str, Any]:
    """A form that names another unit's row wherever a form might name one."""
    names = ["id", "task", "task_id", "indicator", "indicator_id", "escalation",
             "escalation_id", "notice", "notice_id", "notification", "notification_id",
             "statement", "reconciliation", "reconciliation_id", "extension", "extension_id",
             "submission", "unit", "unit_id"]  # fmt: skip
    form: dict[str, Any] = {name: value for name in names}
    form |= {
        "csrf": csrf,
        "program": other.program,
        "quarter": "2021Q1",
        "reason": "测试",
        "note": "测试",
        "proposed_due": "2021-12-31",
        "status": "in_progress",
        "percent": "50",
    }
    return form


def trespasses(portal: PortalUnderTest, others: list[Other]) -> tuple[int, list[Any]]:
    """Ask every route of yinzhou/jyj's link with each id of ``others``' rows where it
    takes one (in its path, or any field of a form); how many requests, and each one that
    showed another unit's data or changed one of its rows."""
    mine = portal.link("yinzhou", "jyj")
    csrf = form_token(portal, mine)
    app = portal.client.app
    walked, found = 0, []
    for method in ("GET", "POST"):
        for route in unit_routes(app, method):  # type: ignore[arg-type]
            takes_ids = route.path.count("{") > 1
            for other in others:
                values = sorted(other.ids) if takes_ids or method == "POST" else ["-"]
                for value in values:
                    url = plausible(route, token_of(mine), value)
                    before = snapshot(portal.engine)
                    if method == "GET":
                        answer = portal.client.get(url)
                    else:
                        answer = portal.client.post(url, data=generic_form(csrf, value, other))
                    walked += 1
                    where = (method, route.path, other.program, other.code, value)
                    # A refusal may name the id it was asked for; nothing else of the unit.
                    shown = answer.text.replace(value, "")
                    if other.marker in shown or any(code in shown for code in other.codes):
                        found.append(("shows", *where))
                    touched = [
                        (table, row)
                        for table, row in changed(before, snapshot(portal.engine))
                        if touches(others, table, row)
                    ]
                    if touched:
                        found.append(("changes", *where, touched))
    return walked, found


def test_a_units_link_never_reads_or_writes_another_units_data_on_any_route(
    portal: PortalUnderTest,
) -> None:
    """For every route of a link, and every id of another unit's rows (same program, and
    another program's unit of the same code) where the route takes an id, in its path or
    its form: the answer shows none of that unit's data, and none of its rows change."""
    others = [
        plant(portal, "yinzhou", "tqw", mine="jyj"),
        plant(portal, "xiangshan", "jyj", mine="jyj"),
    ]
    walked, found = trespasses(portal, others)
    assert found == []
    assert walked > 2 * len(others)


def test_the_walk_finds_a_route_that_trusts_an_id(portal: PortalUnderTest) -> None:
    """Two routes that take a row by its id without asking whose it is: the walk above
    catches the one that shows it and the one that changes it."""
    app: Any = portal.client.app
    engine = portal.engine

    async def show(request: Request, token: str, number: int) -> Response:
        opened(request, token)
        with db.session(engine) as session:
            row = session.get(Reconciliation, number)
            return HTMLResponse(row.note if row else "无")

    async def change(request: Request, token: str) -> Response:
        _, form = await posted(request, token)
        with db.session(engine) as session:
            row = session.get(Reconciliation, int(str(form.get("id", "0"))))
            if row is not None:
                row.note = "改了"
        return HTMLResponse("已收到")

    app.add_api_route("/u/{token}/peek/{number}", show, methods=["GET"])
    app.add_api_route("/u/{token}/poke", change, methods=["POST"])
    others = [plant(portal, "yinzhou", "tqw", mine="jyj")]
    _, found = trespasses(portal, others)
    (reconciliation,) = others[0].row_ids["reconciliation"]
    shows = ("shows", "GET", "/u/{token}/peek/{number}", "yinzhou", "tqw")
    assert (*shows, str(reconciliation)) in found
    assert any(f[:3] == ("changes", "POST", "/u/{token}/poke") for f in found)


def test_a_units_page_shows_nothing_of_another_unit(portal: PortalUnderTest) -> None:
    others = [
        plant(portal, "yinzhou", "tqw", mine="jyj"),
        plant(portal, "xiangshan", "jyj", mine="jyj"),
    ]
    page = portal.client.get(portal.link("yinzhou", "jyj"))
    assert page.status_code == 200
    assert "YZ-FZ-01" in page.text and "YZ-ZB-06" in page.text  # its own task and indicator
    for other in others:
        assert other.marker not in page.text
        assert sorted(c for c in other.codes if c in page.text) == []
    # The probe can see what it is looking for: the other unit's own page shows it.
    theirs = portal.client.get(portal.link("yinzhou", "tqw"))
    assert "YZ-JZ-01" in theirs.text and "YZ-JZ-01" in others[0].codes


# --- bad links rate-limited --------------------------------------------------------------


def test_repeated_bad_links_are_refused_429_until_the_window_passes(
    portal: PortalUnderTest,
) -> None:
    """A client that tried ``attempts`` bad links gets 429 for every link, a good one too
    (checking it is what is being limited), until ``window`` seconds pass; other clients
    are served meanwhile."""
    app = portal.client.app
    seconds = [1000.0]
    limiter = security.BadLinkLimiter(attempts=5, window=600, clock=lambda: seconds[0])
    app.state.portal.limiter = limiter  # type: ignore[attr-defined]
    good = portal.link("yinzhou", "jyj")
    bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for _ in range(5):
        assert portal.client.get(bad).status_code == 404
    for path in (bad, good):
        answer = portal.client.get(path)
        assert answer.status_code == 429, path
        assert "尝试次数过多" in answer.text and "请稍后再试" in answer.text
        assert answer.headers["retry-after"] == "600"
    form = portal.client.post(fill(PROBE, token_of(good)), data={"note": "x"})
    assert form.status_code == 429  # a form's link is checked the same way
    other = TestClient(app, base_url="http://127.0.0.1:8000", client=("10.1.2.3", 50000))
    assert other.get(good).status_code == 200
    seconds[0] += 599
    assert portal.client.get(good).status_code == 429
    seconds[0] += 2
    assert portal.client.get(good).status_code == 200
    assert portal.client.get(bad).status_code == 404  # counted again from the start


# --- cookies and headers ------------------------------------------------------------------


def test_the_csrf_cookie_is_httponly_strict_and_secure_behind_https(
    portal: PortalUnderTest,
) -> None:
    plain = portal.client.get(portal.link("yinzhou", "jyj")).headers["set-cookie"].lower()
    assert "httponly" in plain and "samesite=strict" in plain and "path=/u/" in plain
    assert "secure" not in plain  # http://127.0.0.1:8000 in a test: a browser would drop it
    settings = Settings(
        home=portal.settings.home,
        secret_key=SECRET,
        templates=PROJECT_TEMPLATES,
        public_url="https://pilot.example.org",
    )
    secure_app = create_app(settings, engine=portal.engine, clock=lambda: portal.clock[0])
    with TestClient(secure_app, base_url="http://127.0.0.1:8000") as client:
        cookie = client.get(portal.link("yinzhou", "jyj")).headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "; secure" in cookie


def test_every_answer_carries_the_security_headers(portal: PortalUnderTest) -> None:
    """Pages, static files and every error page: 404, 405, 410, 413, 429, 500."""
    client = portal.client
    link = portal.link("yinzhou", "jyj")
    revoked = portal.link("xiangshan", "jyj")
    with db.session(portal.engine) as session:
        session.execute(sa.update(Unit).where(Unit.code == "jyj", Unit.program_id == (
            sa.select(Program.id).where(Program.code == "xiangshan").scalar_subquery()
        )).values(link_version=Unit.link_version + 1))  # fmt: skip
    answers = {
        200: [client.get(link), client.get("/"), client.get("/static/portal.css")],
        404: [client.get("/u/nothing"), client.get("/nowhere"), client.get("/static/none.css")],
        405: [client.post("/"), client.delete(link)],
        410: [client.get(revoked)],
        413: [client.post(fill(PROBE, token_of(link)), content=b"a" * (security.FORM_BYTES + 1))],
    }
    boom = TestClient(client.app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False)
    answers[500] = [boom.get(fill(BOOM, token_of(link)))]
    limited = TestClient(client.app, base_url="http://127.0.0.1:8000", client=("10.9.9.9", 1))
    for _ in range(security.BadLinkLimiter().attempts):
        limited.get("/u/nothing")
    answers[429] = [limited.get(link)]
    for status, found in answers.items():
        for answer in found:
            where = (status, answer.request.method, answer.request.url.path)
            assert answer.status_code == status, where
            for name, value in security.SECURITY_HEADERS.items():
                assert answer.headers.get(name) == value, (where, name)
            if answer.headers["content-type"].startswith("text/html"):
                html = answer.text
                assert not re.search(r"<script(?![^>]*\bsrc=)", html), where  # no inline script
                assert "<style" not in html and " style=" not in html, where  # nor style
                if status >= 400:
                    assert 'lang="zh-CN"' in html or "lang=zh-CN" in html, where
    assert "GET" in answers[405][1].headers["allow"]
    csp = security.SECURITY_HEADERS["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp


def test_a_bug_is_a_500_page_without_traceback_and_its_log_has_no_token(
    portal: PortalUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    link = portal.link("yinzhou", "jyj")
    client = TestClient(
        portal.client.app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False
    )
    answer = client.get(fill(BOOM, token_of(link)))
    assert answer.status_code == 500 and "系统繁忙" in answer.text
    assert "Traceback" not in answer.text and "cannot open" not in answer.text
    assert token_of(link) not in answer.text
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failed) == 1  # logged once, not again by the server
    message = failed[0].getMessage()
    assert "GET /u/…/boom failed" in message and "RuntimeError: cannot open" in message
    assert "Traceback" in message
    portal_log = [r for r in caplog.records if r.name.startswith("pilot_tracker")]
    assert portal_log and token_of(link) not in "".join(map(caplog.handler.format, portal_log))


# --- what pages show ----------------------------------------------------------------------


def test_markup_stored_in_a_units_data_is_shown_escaped(portal: PortalUnderTest) -> None:
    with db.session(portal.engine) as session:
        unit = session.exec(
            sa.select(Unit).join(Program).where(Program.code == "yinzhou", Unit.code == "jyj")
        ).scalar_one()
        unit.name = '<script>alert("unit")</script>区教育局'
        task = session.exec(sa.select(Task).where(Task.code == "YZ-FZ-01")).scalar_one()
        task.title = "<img src=x onerror=alert(1)>" + task.title
        submission = Submission(
            program_id=unit.program_id, unit_id=unit.id, source="form", sha256="1" * 64,
            archive_path="", status="imported", received_at=NOW,
        )  # fmt: skip
        session.add(submission)
        session.flush()
        session.add(
            StatusReport(
                submission_id=submission.id, task_id=task.id, unit_id=unit.id, period="2021Q1",
                status="in_progress", percent=40, progress='<script>alert("report")</script>',
                reported_on=date(2021, 3, 31),
            )
        )  # fmt: skip
    page = portal.client.get(portal.link("yinzhou", "jyj"))
    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#34;unit&#34;)&lt;/script&gt;区教育局" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "40%" in page.text  # the report is on the page


def test_the_host_header_is_trusted_for_nothing(portal: PortalUnderTest) -> None:
    link = portal.link("yinzhou", "jyj")
    evil = {"host": "evil.example.org"}
    page = portal.client.get(link, headers=evil)
    assert page.status_code == 200
    assert "evil" not in page.text and "evil" not in str(page.headers)
    # No redirect built from the Host header (Starlette's trailing-slash redirect).
    slash = portal.client.get(link + "/", headers=evil, follow_redirects=False)
    assert slash.status_code == 404 and "evil" not in str(slash.headers)
    assert "evil" not in portal.client.get("/nowhere/", headers=evil).text


def test_error_pages_do_not_echo_the_link(portal: PortalUnderTest) -> None:
    link = portal.link("yinzhou", "jyj")
    for path in (link[:-3] + "xyz", link + "/nowhere", "/u/" + "A" * 300):
        answer = portal.client.get(path)
        assert answer.status_code == 404, path
        assert token_of(path) not in answer.text and token_of(path)[:40] not in answer.text
        assert "链接" in answer.text or "页面不存在" in answer.text


# --- the signing key ------------------------------------------------------------------------


def test_the_signing_key_is_made_once_owner_readable_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    key = settings.link_secret()
    path = tmp_path / "home" / "secret.key"
    assert len(key) >= 32 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(home=tmp_path / "home").link_secret() == key
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # nothing left aside


_RACER = """
import sys, time
from pathlib import Path
from pilot_tracker.settings import Settings
go = Path(sys.argv[2])
deadline = time.monotonic() + 30
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no start signal")
print(Settings(home=Path(sys.argv[1])).link_secret())
"""


def test_processes_starting_together_get_the_same_key(tmp_path: Path) -> None:
    home, go = tmp_path / "home", tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(home), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    try:
        time.sleep(0.5)  # not a wait for an event: the racers start up meanwhile
        go.touch()
        keys = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait(timeout=10)
    assert all(racer.returncode == 0 for racer in racers), keys
    assert len({out.strip() for out, _ in keys}) == 1
    assert keys[0][0].strip() == (home / "secret.key").read_text().strip()
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600


def test_a_key_file_cut_short_is_a_configuration_error_never_an_empty_key(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.key").write_text("")
    with pytest.raises(ConfigurationError, match="holds no key of 32 characters"):
        Settings(home=home).link_secret()


@pytest.mark.parametrize(
    "command", [["links", "--program", "yinzhou"], ["web", "--port", "1"]], ids=["links", "web"]
)
def test_a_short_secret_key_is_a_configuration_error(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PILOT_TRACKER_SECRET_KEY", "short-but-secret-1234")
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: PILOT_TRACKER_SECRET_KEY:")
    assert "at least 32 characters" in result.stderr
    assert "short-but-secret-1234" not in result.output + result.stderr


def test_the_key_never_shows_in_a_page(portal: PortalUnderTest) -> None:
    for path in ("/", portal.link("yinzhou", "jyj"), "/u/bad", "/static/portal.css"):
        answer = portal.client.get(path)
        assert SECRET not in answer.text and SECRET[:16] not in answer.text
