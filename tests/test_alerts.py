"""Alert delivery through Apprise, against a real SMTP server and a real HTTP receiver."""

from __future__ import annotations

import copy
import email
import email.policy
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from apprise.config import ConfigBase
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.wecombot import NotifyWeComBot
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.alerts import delivery, outbox
from pilot_tracker.collect.intake import RejectionLine, SubmissionSummary
from pilot_tracker.errors import ConfigurationError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import validate_program
from pilot_tracker.models import Notification, Program

from .conftest import ROOT
from .http_fixtures import Answer
from .test_program_file import SMALL

NOW = datetime(2021, 3, 31, 2, 0, tzinfo=UTC)
TEMPLATES = outbox.Templates(ROOT / "templates")
LIAISON = "unit:jyj role:liaison"
HEAD = "unit:jyj role:head"
OFFICE = "role:office"
URGE = "【督办提醒】演示县试点 · 县教育局 · 3项任务滞后"


# --- what the test controls: the time, the mail server, the chat receiver ------------------


class Now:
    """The ``now`` handed to ``send()``: a wall clock that moves only when told."""

    def __init__(self, at: datetime = NOW):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


class FakeTime:
    """A monotonic clock and a sleep that moves it, so the chat limit is checked instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self, password: str = "") -> None:
        self.password = password
        self.contents: list[bytes] = []
        self.recipients: list[list[str]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.contents.append(envelope.content)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == self.password.encode()
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(content, policy=email.policy.default)
            for content in self.contents
        ]


def free_port() -> int:
    """A loopback port nothing listens on (aiosmtpd's Controller needs an explicit one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(port: int, password: str = "") -> Iterator[Mailbox]:
    mailbox = Mailbox(password)
    options: dict[str, Any] = {}
    if password:
        # Loopback only: the test checks that Apprise logs in with what the URL holds.
        options = {"authenticator": mailbox.authenticate, "auth_require_tls": False}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    port = free_port()
    with smtp_server(port) as box:
        yield box, port


class Receiver:
    """What a chat service or webhook was sent: one JSON document per POST."""

    def __init__(self, url: str, answers: list[Answer]) -> None:
        self.url = url
        self.answers = answers
        self.posts: list[dict[str, Any]] = []

    def answer(self, *answers: Answer) -> None:
        """Queue answers (the last one repeats)."""
        self.answers[:] = answers


@contextmanager
def receiver(fake_time: FakeTime | None = None) -> Iterator[Receiver]:
    """A real HTTP server on loopback taking POSTs, answering 200 unless told otherwise.

    Each POST is kept with the ``fake_time`` it arrived at, when there is one.
    """
    answers: list[Answer] = [Answer(body=b"{}")]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                box.posts.append(
                    {
                        "path": self.path,
                        "json": json.loads(data),
                        "raw": data,
                        "at": fake_time.clock() if fake_time else None,
                    }
                )
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box = Receiver(f"http://127.0.0.1:{server.server_address[1]}", answers)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


# --- the outbox and the addresses ------------------------------------------------------------


@pytest.fixture
def program_id(sqlite_engine: sa.Engine) -> int:
    return load_small(sqlite_engine)


def load_small(engine: sa.Engine) -> int:
    spec = validate_program(copy.deepcopy(SMALL), "demo.yaml")
    with db.session(engine) as session:
        store.load_program(
            session=session, spec=spec, source_name="demo.yaml", source_sha256="", now=NOW
        )
        program = session.exec(select(Program).where(Program.code == "demo")).one()
        assert program.id is not None
        return program.id


def put(
    engine: sa.Engine,
    program_id: int,
    target: str,
    subject: str,
    body: str = "正文\n",
    key: str | None = None,
) -> None:
    with db.session(engine) as session:
        outbox.enqueue(
            session=session,
            program_id=program_id,
            dedup_key=key or f"{target}:{subject}",
            target=target,
            subject=subject,
            body=body,
            now=NOW,
        )


def write_config(folder: Path, entries: dict[str, str]) -> Path:
    """An Apprise YAML file: each URL with its comma-separated tags."""
    lines = ["version: 1", "urls:"]
    for url, tags in entries.items():
        lines += [f"  - {json.dumps(url)}:", f"      tag: {json.dumps(tags)}"]
    path = folder / "apprise.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mailto(port: int, to: str = "jyj-liaison@example.org", login: str = "") -> str:
    return f"mailto://{login}127.0.0.1:{port}?from=alerts@example.com&to={to}&format=text"


def json_url(server: Receiver, path: str = "/office") -> str:
    return f"json://{server.url.removeprefix('http://')}{path}"


def deliver(
    engine: sa.Engine,
    config: Path,
    home: Path,
    now: Now,
    fake_time: FakeTime | None = None,
    **extra: Any,
) -> delivery.SendResult:
    """One ``alerts send`` run, with the addresses read afresh as the CLI does each time."""
    fake_time = fake_time or FakeTime()
    return delivery.send(
        engine=engine,
        targets=delivery.load_targets(config),
        templates=TEMPLATES,
        home=home,
        now=now,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        **extra,
    )


def rows(engine: sa.Engine) -> list[Notification]:
    with db.session(engine) as session:
        found = list(session.exec(select(Notification).order_by(Notification.id)).all())
        session.expunge_all()
    return found


def aware(moment: datetime | None) -> datetime | None:
    """A stored timestamp as UTC (SQLite gives it back without its zone)."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


# --- one digest per recipient, over real SMTP and a real webhook -----------------------------


def test_a_digest_keeps_each_message_s_link_as_it_was_written(
    engine: sa.Engine, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """The messages in the outbox were made markup-free when written; the digest takes
    them as they are, so a link's token (``_`` and all) still opens the unit's page."""
    box, port = mailbox
    program = load_small(engine)
    link = "https://pilot.example.org/u/WzEsMiwxXQ_x-y.Ab_c-D"
    for subject in (
        "【进度提醒】演示县试点 · 县教育局 · 1项预警",
        "【对账单】演示县试点 · 县教育局",
    ):
        put(engine, program, LIAISON, subject, f"县教育局联络员：\n\n贵单位专属链接：\n{link}\n")
    with receiver() as office:
        config = write_config(
            tmp_path, {mailto(port): "unit:jyj, role:liaison", json_url(office): "role:office"}
        )
        assert deliver(engine, config, tmp_path, Now()).as_dict()["deduplicated"] == 1
    [message] = box.messages()
    assert text_of(message).count(f"\n{link}\n") == 2


def test_a_liaison_gets_one_digest_and_the_office_one_post(
    engine: sa.Engine, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    program = load_small(engine)
    first = "县教育局联络员：\n\n1. 联席会议制度文件未报送\n2. 3月进度为0%\n"
    second = "县教育局联络员：\n\n填报表第3行“完成进度”列不是数字，请修改后重新报送。\n"
    put(engine, program, LIAISON, "【进度提醒】演示县试点 · 县教育局 · 2项预警", first)
    put(engine, program, LIAISON, "【填报退回】演示县试点 · 县教育局 · 1项未能导入", second)
    put(
        engine,
        program,
        OFFICE,
        "【约谈建议】演示县试点 · 县教育局",
        "领导小组办公室：\n\n建议约谈。\n",
    )
    now = Now()
    with receiver() as office:
        config = write_config(
            tmp_path, {mailto(port): "unit:jyj, role:liaison", json_url(office): "role:office"}
        )

        result = deliver(engine, config, tmp_path, now)

        assert result.as_dict() == {"sent": 2, "failed": 0, "pending": 0, "deduplicated": 1}
        [message] = box.messages()
        assert box.recipients == [["jyj-liaison@example.org"]]
        # The unit's name in this subject is test_a_recipient_reads_the_unit_name_not_its_code.
        assert message["Subject"].startswith("【试点工作通知】演示县试点 · ")
        assert message["Subject"].endswith(" · 2条通知")
        body = text_of(message)
        assert "本次共有2条通知" in body
        assert "【进度提醒】演示县试点 · 县教育局 · 2项预警" in body
        assert first.strip() in body
        assert second.strip() in body
        assert body.index("1. 联席会议制度文件未报送\n2. 3月进度为0%") < body.index("第3行")
        [post] = office.posts
        assert post["path"] == "/office"
        assert post["json"]["title"] == "【约谈建议】演示县试点 · 县教育局"
        assert post["json"]["message"].startswith("领导小组办公室：\n\n建议约谈。")
        assert [row.status for row in rows(engine)] == [
            "sent",
            "merged",
            "sent",
        ]  # one row per message
        assert {aware(row.sent_at) for row in rows(engine)} == {NOW}

        again = deliver(engine, config, tmp_path, now, force=True)

        assert again.as_dict() == {"sent": 0, "failed": 0, "pending": 0, "deduplicated": 0}
        assert len(box.contents) == 1
        assert len(office.posts) == 1


def test_a_single_message_keeps_its_own_subject_and_body(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    body = (
        "县教育局主要负责人：\n\n贵单位已连续2个报送周期存在红色预警，现予以督办。\n\n1. 任务滞后\n"
    )
    put(sqlite_engine, program_id, LIAISON, URGE, body)
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})

    result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.as_dict() == {"sent": 1, "failed": 0, "pending": 0, "deduplicated": 0}
    [message] = box.messages()
    assert message["Subject"] == URGE
    assert text_of(message).strip() == body.strip()


def test_a_plain_mail_is_sent_without_reading_the_ca_bundle_and_a_tls_one_with_it(
    sqlite_engine: sa.Engine,
    program_id: int,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    box, port = mailbox
    made: list[ssl.SSLContext] = []
    make = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(make(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    put(sqlite_engine, program_id, LIAISON, URGE)
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})
    result = deliver(sqlite_engine, config, tmp_path, Now())
    assert result.sent == 1 and len(box.messages()) == 1
    assert made == []  # plain SMTP: no verifying context was made for nothing
    # Over TLS (STARTTLS here, which this server does not offer), the mail plugin still
    # gets a verifying context of its own: the send fails rather than goes out in clear.
    put(sqlite_engine, program_id, HEAD, URGE)
    starttls = write_config(tmp_path, {mailto(port).replace("?", "?mode=starttls&"): HEAD})
    result = deliver(sqlite_engine, starttls, tmp_path, Now())
    assert result.sent == 0 and len(box.messages()) == 1
    assert len(made) == 1 and made[0].verify_mode == ssl.CERT_REQUIRED


def test_an_answer_to_a_units_mail_goes_alone_in_its_thread(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    put(sqlite_engine, program_id, LIAISON, URGE, "督办内容", key="urge")
    threading = {
        "Auto-Submitted": "auto-replied",
        "In-Reply-To": "<reply-1@jyj.example.org>",
        "References": "<reminder-7@pilot-tracker> <reply-1@jyj.example.org>",
    }
    with db.session(sqlite_engine) as session:
        outbox.enqueue(
            session=session,
            program_id=program_id,
            dedup_key="receipt",
            target=LIAISON,
            subject="回复：填报表",
            body="已导入",
            now=NOW,
            headers=threading,
        )
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})

    result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.as_dict() == {"sent": 2, "failed": 0, "pending": 0, "deduplicated": 0}
    urge, receipt = box.messages()
    assert urge["Subject"] == URGE and urge["In-Reply-To"] is None
    assert receipt["Subject"] == "回复：填报表"
    assert {name: str(receipt[name]) for name in threading} == threading
    # the address's own headers are back for the next message
    put(sqlite_engine, program_id, LIAISON, "下一条", "内容", key="next")
    deliver(sqlite_engine, config, tmp_path, Now())
    assert box.messages()[-1]["In-Reply-To"] is None


def load_other(engine: sa.Engine) -> int:
    """A second program beside SMALL ("other"); its id."""
    other = copy.deepcopy(SMALL) | {"code": "other", "name": "宁海县试点"}
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=validate_program(other, "other.yaml"),
            source_name="other.yaml",
            source_sha256="",
            now=NOW,
        )
        return session.exec(select(Program.id).where(Program.code == "other")).one()


def test_messages_for_one_address_in_two_programs_are_not_merged(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    other_id = load_other(sqlite_engine)
    put(sqlite_engine, program_id, OFFICE, "演示县的通知", key="a")
    put(sqlite_engine, other_id, OFFICE, "宁海县的通知", key="b")
    with receiver() as office:
        config = write_config(tmp_path, {json_url(office): "role:office"})

        result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.as_dict() == {"sent": 2, "failed": 0, "pending": 0, "deduplicated": 0}
    assert [post["json"]["title"] for post in office.posts] == ["演示县的通知", "宁海县的通知"]


def test_a_send_for_some_programs_leaves_the_others_messages_to_their_sender(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    other_id = load_other(sqlite_engine)
    put(sqlite_engine, program_id, OFFICE, "演示县的通知", key="a")
    put(sqlite_engine, other_id, OFFICE, "宁海县的通知", key="b")
    with receiver() as office:
        config = write_config(tmp_path, {json_url(office): "role:office"})

        first = deliver(sqlite_engine, config, tmp_path, Now(), programs=["other"])
        titles = [post["json"]["title"] for post in office.posts]
        second = deliver(sqlite_engine, config, tmp_path, Now(), programs=["demo"])

    assert (first.sent, first.pending) == (1, 1) and titles == ["宁海县的通知"]
    assert (second.sent, second.pending) == (1, 0)
    assert [post["json"]["title"] for post in office.posts] == ["宁海县的通知", "演示县的通知"]


# --- retries, backoff and the retry budget ---------------------------------------------------


def test_a_server_that_is_down_leaves_the_message_pending_without_leaking_the_password(
    sqlite_engine: sa.Engine,
    program_id: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    put(sqlite_engine, program_id, LIAISON, URGE, "督办正文\n")
    config = write_config(tmp_path, {mailto(port, login="user:s3cret@"): "unit:jyj, role:liaison"})
    now = Now()

    down = deliver(sqlite_engine, config, tmp_path, now)

    assert down.as_dict() == {"sent": 0, "failed": 0, "pending": 1, "deduplicated": 0}
    [row] = rows(sqlite_engine)
    assert (row.status, row.attempts, row.delivered_to) == ("pending", 1, [])
    assert f"127.0.0.1:{port}" in row.last_error
    assert "could not be reached" in row.last_error
    assert down.errors
    with sqlite_engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT * FROM notification")).all()
    for text in (row.last_error, *down.errors, caplog.text, repr(stored)):
        assert "s3cret" not in text

    now.advance(timedelta(minutes=1))
    early = deliver(sqlite_engine, config, tmp_path, now)

    assert early.as_dict() == {"sent": 0, "failed": 0, "pending": 1, "deduplicated": 0}
    assert rows(sqlite_engine)[0].attempts == 1

    with smtp_server(port, password="s3cret") as box:
        forced = deliver(sqlite_engine, config, tmp_path, now, force=True)

    assert forced.as_dict() == {"sent": 1, "failed": 0, "pending": 0, "deduplicated": 0}
    assert box.logins == ["user"]
    assert [message["Subject"] for message in box.messages()] == [URGE]
    [row] = rows(sqlite_engine)
    assert (row.status, row.attempts) == ("sent", 2)


def test_after_the_retry_budget_the_message_is_failed_and_listed(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    port = free_port()
    put(sqlite_engine, program_id, LIAISON, URGE)
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})
    now = Now()

    for attempt in range(1, delivery.ATTEMPTS + 1):
        result = deliver(sqlite_engine, config, tmp_path, now)
        assert rows(sqlite_engine)[0].attempts == attempt
        if attempt < delivery.ATTEMPTS:
            assert result.as_dict() == {"sent": 0, "failed": 0, "pending": 1, "deduplicated": 0}
            backoff = delivery.BACKOFF[attempt - 1]
            now.advance(backoff - timedelta(seconds=1))
            assert deliver(sqlite_engine, config, tmp_path, now).as_dict()["pending"] == 1
            assert rows(sqlite_engine)[0].attempts == attempt, "retried before its backoff"
            now.advance(timedelta(seconds=1))

    assert result.as_dict() == {"sent": 0, "failed": 1, "pending": 0, "deduplicated": 0}
    with db.session(sqlite_engine) as session:
        [failed] = delivery.list_notifications(session=session, status="failed")
        assert delivery.list_notifications(session=session, status="pending") == []
    assert failed["subject"] == URGE
    assert failed["program"] == "demo"
    assert failed["attempts"] == delivery.ATTEMPTS
    assert f"127.0.0.1:{port}" in failed["last_error"]
    assert deliver(sqlite_engine, config, tmp_path, now, force=True).sent == 0


# --- a crash between delivering and recording it ---------------------------------------------


def test_a_crash_after_delivery_neither_loses_nor_repeats_the_message(
    engine: sa.Engine,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, port = mailbox
    program = load_small(engine)
    put(engine, program, LIAISON, URGE, "督办正文\n")
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})
    finish = delivery._finish
    calls: list[int] = []

    def crash_once(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the process was killed")
        finish(*args, **kwargs)

    monkeypatch.setattr(delivery, "_finish", crash_once)

    with pytest.raises(RuntimeError, match="killed"):
        deliver(engine, config, tmp_path, Now())

    assert len(box.contents) == 1
    [row] = rows(engine)
    assert (row.status, row.attempts, len(row.delivered_to)) == ("pending", 1, 1)

    result = deliver(engine, config, tmp_path, Now(), force=True)

    assert result.as_dict() == {"sent": 1, "failed": 0, "pending": 0, "deduplicated": 0}
    assert [message["Subject"] for message in box.messages()] == [URGE]
    assert rows(engine)[0].status == "sent"


def test_two_runs_that_read_the_same_message_as_due_send_it_once(
    engine: sa.Engine, tmp_path: Path, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each program's supervise and report run ends with a send-alerts run, several at once:
    # two of them read the outbox before either takes the message, and its delivery takes a
    # while (a slow mail server), long enough for the other to try too.
    box, port = mailbox
    program = load_small(engine)
    put(engine, program, LIAISON, URGE, "督办正文\n")
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})
    due, notify = delivery._due, delivery._notify
    both_read = threading.Barrier(2, timeout=30)

    def read_together(*args: Any, **kwargs: Any) -> Any:
        found = due(*args, **kwargs)
        both_read.wait()
        return found

    def slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return notify(*args, **kwargs)

    monkeypatch.setattr(delivery, "_due", read_together)
    monkeypatch.setattr(delivery, "_notify", slowly)
    with ThreadPoolExecutor(2) as runs:
        results = list(runs.map(lambda _: deliver(engine, config, tmp_path, Now()), range(2)))

    assert [message["Subject"] for message in box.messages()] == [URGE]
    assert sorted(result.sent for result in results) == [0, 1]
    [row] = rows(engine)
    assert (row.status, row.attempts) == ("sent", 1)


# --- chat bots: a 200 answer is not yet a delivery -------------------------------------------

TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@dataclass
class Bot:
    """A chat robot's webhook as Apprise posts to it, and what the service answers."""

    plugin: type
    path: str  # the plugin's ``notify_url`` on the loopback receiver
    url: str
    refusal: Answer
    code: str
    accepted: Answer


BOTS = {
    "dingtalk": Bot(
        NotifyDingTalk,
        "/robot/send?access_token={token}",
        f"dingtalk://{TOKEN}",
        Answer(body=b'{"errcode": 310000, "errmsg": "keywords not in content"}'),
        "310000",
        Answer(body=b'{"errcode": 0, "errmsg": "ok"}'),
    ),
    "wecombot": Bot(
        NotifyWeComBot,
        "/cgi-bin/webhook/send?key={key}",
        f"wecombot://{TOKEN}",
        Answer(body=b'{"errcode": 93000, "errmsg": "invalid webhook url"}'),
        "93000",
        Answer(body=b'{"errcode": 0, "errmsg": "ok"}'),
    ),
    "feishu": Bot(
        NotifyFeishu,
        "/open-apis/bot/v2/hook/{token}/",
        f"feishu://{TOKEN}",
        Answer(body=b'{"code": 19024, "msg": "Key Words Not Found"}'),
        "19024",
        Answer(body=b'{"code": 0, "msg": "success"}'),
    ),
}


@contextmanager
def chat_bot(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The bot's service endpoint, served on loopback."""
    with receiver() as server:
        monkeypatch.setattr(bot.plugin, "notify_url", f"{server.url}{bot.path}")
        yield server


@pytest.mark.parametrize(
    ("name", "refusal", "expected"),
    [
        *((name, bot.refusal, f"error code {bot.code}") for name, bot in BOTS.items()),
        ("dingtalk", Answer(body=b"<html>ok</html>", content_type="text/html"), "no JSON body"),
    ],
)
def test_a_chat_bot_message_counts_only_when_the_answer_says_success(
    sqlite_engine: sa.Engine,
    program_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    refusal: Answer,
    expected: str,
) -> None:
    bot = BOTS[name]
    put(sqlite_engine, program_id, OFFICE, URGE, "督办正文\n")
    config = write_config(tmp_path, {bot.url: "role:office"})
    now = Now()
    with chat_bot(bot, monkeypatch) as service:
        service.answer(refusal, bot.accepted)

        refused = deliver(sqlite_engine, config, tmp_path, now)

        assert refused.as_dict() == {"sent": 0, "failed": 0, "pending": 1, "deduplicated": 0}
        [row] = rows(sqlite_engine)
        assert row.status == "pending"
        assert expected in row.last_error
        assert TOKEN not in row.last_error
        [post] = service.posts
        assert TOKEN in post["path"]
        assert URGE in json.dumps(post["json"], ensure_ascii=False)

        accepted = deliver(sqlite_engine, config, tmp_path, now, force=True)

        assert accepted.as_dict() == {"sent": 1, "failed": 0, "pending": 0, "deduplicated": 0}
        assert len(service.posts) == 2
        assert rows(sqlite_engine)[0].status == "sent"


def test_a_chat_bot_that_always_refuses_ends_failed(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = BOTS["dingtalk"]
    put(sqlite_engine, program_id, OFFICE, URGE)
    config = write_config(tmp_path, {bot.url: "role:office"})
    with chat_bot(bot, monkeypatch) as service:
        service.answer(bot.refusal)

        results = [
            deliver(sqlite_engine, config, tmp_path, Now(), force=True)
            for _ in range(delivery.ATTEMPTS)
        ]

    assert [result.sent for result in results] == [0] * delivery.ATTEMPTS
    assert results[-1].failed == 1
    [row] = rows(sqlite_engine)
    assert row.status == "failed"
    assert "error code 310000" in row.last_error
    assert len(service.posts) == delivery.ATTEMPTS


# --- a role without an address ---------------------------------------------------------------


def test_a_role_without_an_address_goes_to_the_office_with_a_note(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    put(sqlite_engine, program_id, HEAD, URGE, "督办正文\n")
    with receiver() as office:
        config = write_config(
            tmp_path, {mailto(port): "unit:jyj, role:liaison", json_url(office): "role:office"}
        )

        result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.as_dict() == {"sent": 1, "failed": 0, "pending": 0, "deduplicated": 0}
    assert box.contents == [], "the liaison is not the head"
    [post] = office.posts
    assert post["json"]["title"] == URGE
    message = post["json"]["message"]
    assert "主要负责人" in message
    assert "未配置其接收地址" in message
    assert message.rstrip().endswith("督办正文")


def test_a_role_without_an_address_and_no_office_fails_with_a_reason(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    put(sqlite_engine, program_id, HEAD, URGE)
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})

    result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.as_dict() == {"sent": 0, "failed": 1, "pending": 0, "deduplicated": 0}
    assert box.contents == []
    [row] = rows(sqlite_engine)
    assert row.status == "failed"
    assert "no address is configured for 'unit:jyj role:head' nor for 'role:office'" in (
        row.last_error
    )


@pytest.mark.parametrize("where", ["digest subject", "note"])
def test_a_recipient_reads_the_unit_name_not_its_code(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, where: str
) -> None:
    target = LIAISON if where == "digest subject" else HEAD
    put(sqlite_engine, program_id, target, "第一条", key="1")
    if where == "digest subject":
        put(sqlite_engine, program_id, target, "第二条", key="2")
    with receiver() as office:
        config = write_config(tmp_path, {json_url(office): "role:office, role:liaison, unit:jyj"})
        deliver(sqlite_engine, config, tmp_path, Now())

    [post] = office.posts
    shown = post["json"]["title"] if where == "digest subject" else post["json"]["message"]
    assert "县教育局" in shown
    assert "jyj" not in shown


# --- chat rate limit ---------------------------------------------------------------------------


def many_units(engine: sa.Engine, program_id: int, count: int) -> str:
    """``count`` messages to as many units' liaisons; the tags of one address serving all."""
    units = [f"u{number:02}" for number in range(1, count + 1)]
    for unit in units:
        put(engine, program_id, f"unit:{unit} role:liaison", f"{unit}的提醒")
    return ", ".join(["role:liaison", *(f"unit:{unit}" for unit in units)])


def test_one_chat_address_gets_at_most_twenty_messages_a_minute(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    tags = many_units(sqlite_engine, program_id, 25)
    fake_time = FakeTime()
    with receiver(fake_time) as chat:
        config = write_config(tmp_path, {json_url(chat, "/bot"): tags})

        result = deliver(sqlite_engine, config, tmp_path, Now(), fake_time)

    assert result.as_dict() == {"sent": 25, "failed": 0, "pending": 0, "deduplicated": 0}
    assert fake_time.slept == [60.0]
    times = [post["at"] for post in chat.posts]
    assert times == [0.0] * 20 + [60.0] * 5
    for start in times:
        assert sum(start <= at < start + 60 for at in times) <= delivery.CHAT_PER_MINUTE


def test_the_limit_holds_across_runs_within_a_minute(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    many_units(sqlite_engine, program_id, 15)
    tags = ", ".join(["role:liaison", *(f"unit:u{number:02}" for number in range(1, 31))])
    fake_time = FakeTime()
    with receiver(fake_time) as chat:
        config = write_config(tmp_path, {json_url(chat, "/bot"): tags})
        first = deliver(sqlite_engine, config, tmp_path, Now(), fake_time)
        for unit in range(16, 31):
            put(sqlite_engine, program_id, f"unit:u{unit:02} role:liaison", f"u{unit}的提醒")
        # A second run in the same minute: only 5 more may go without waiting.
        second = deliver(sqlite_engine, config, tmp_path, Now(), fake_time, wait_budget=0)

    assert first.sent == 15 and second.sent == 5 and second.pending == 10
    assert len(chat.posts) == 20


def test_a_chat_message_over_the_limit_waits_for_the_next_run_when_it_cannot_wait(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    tags = many_units(sqlite_engine, program_id, 25)
    fake_time = FakeTime()
    with receiver(fake_time) as chat:
        config = write_config(tmp_path, {json_url(chat, "/bot"): tags})

        result = deliver(sqlite_engine, config, tmp_path, Now(), fake_time, wait_budget=30)

    assert result.as_dict() == {"sent": 20, "failed": 0, "pending": 5, "deduplicated": 0}
    assert fake_time.slept == []
    assert len(chat.posts) == 20
    late = [row for row in rows(sqlite_engine) if row.status == "pending"]
    assert [row.subject for row in late] == [f"u{number}的提醒" for number in range(21, 26)]
    assert all("more than 20 messages a minute" in row.last_error for row in late)


def test_the_chat_limiter_counts_each_address_on_its_own() -> None:
    fake_time = FakeTime()
    limiter = delivery._ChatLimiter(fake_time.clock, fake_time.sleep)
    for _ in range(delivery.CHAT_PER_MINUTE):
        assert limiter.wait("a", budget=60)
        limiter.record("a")
        fake_time.now += 1

    assert limiter.wait("b", budget=0)
    assert fake_time.slept == []
    assert not limiter.wait("a", budget=39)
    assert fake_time.slept == []
    assert limiter.wait("a", budget=40)
    assert fake_time.slept == [40.0]


# --- size and markup -----------------------------------------------------------------------


def test_a_long_body_is_cut_to_the_service_limit_with_a_pointer(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    body = "".join(f"第{number:05}行：任务进展情况说明。\n" for number in range(2500))
    assert len(body) > 40_000
    put(sqlite_engine, program_id, OFFICE, URGE, body)
    with receiver() as office:
        config = write_config(tmp_path, {json_url(office): "role:office"})

        result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.sent == 1
    message = office.posts[0]["json"]["message"]
    assert len(message) == 32768
    assert message.endswith(delivery.POINTER)
    assert message.startswith("第00000行：任务进展情况说明。\n第00001行")


def test_a_long_email_arrives_whole(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """Mail has no 32 KB limit, and the pointer would send the reader to this very email."""
    box, port = mailbox
    body = "".join(f"第{number:05}行：任务进展情况说明。\n" for number in range(2500))
    put(sqlite_engine, program_id, LIAISON, URGE, body)
    config = write_config(tmp_path, {mailto(port): "unit:jyj, role:liaison"})

    assert deliver(sqlite_engine, config, tmp_path, Now()).sent == 1

    [message] = box.messages()
    text = text_of(message)
    assert delivery.POINTER.strip() not in text
    assert text.strip() == body.strip()


def test_an_attachment_goes_by_email_and_not_to_a_chat(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    workbook = tmp_path / "outbox" / "jyj-2021-03.xlsx"
    workbook.parent.mkdir()
    workbook.write_bytes(b"PK\x03\x04 a prefilled workbook")
    with db.session(sqlite_engine) as session:
        outbox.enqueue(
            session=session,
            program_id=program_id,
            dedup_key="reminder",
            target=LIAISON,
            subject="【进度提醒】演示县试点 · 县教育局 · 1项预警",
            body="附件为贵单位的填报表。\n",
            now=NOW,
            attachments=["outbox/jyj-2021-03.xlsx", "outbox/gone.xlsx"],
        )
    with receiver() as chat:
        config = write_config(
            tmp_path,
            {mailto(port): "unit:jyj, role:liaison", json_url(chat): "unit:jyj, role:liaison"},
        )

        result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.as_dict() == {"sent": 1, "failed": 0, "pending": 0, "deduplicated": 0}
    [message] = box.messages()
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "jyj-2021-03.xlsx"
    assert attached.get_content() == workbook.read_bytes()
    [post] = chat.posts
    assert post["json"]["attachments"] == []
    assert post["json"]["message"].startswith("附件为贵单位的填报表。")


def test_markup_in_a_unit_name_reaches_the_reader_as_plain_characters(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path
) -> None:
    name = "<script>alert(1)</script>**粗体**"
    summary = SubmissionSummary(
        unit="jyj",
        source="inbox",
        file="[点我](http://evil.example)_表.xlsx",
        sha256="0" * 64,
        status="rejected",
        imported=2,
        rejected=1,
        rejections=[RejectionLine("任务进展", 3, "完成进度", "<b>五十</b>", "不是数字")],
    )
    subject, body = TEMPLATES.render(
        "alerts/rejection.txt.j2",
        program=SimpleNamespace(name="演示县试点"),
        unit=SimpleNamespace(name=name),
        summary=summary,
        rejections=summary.rejections,
        more=0,
        received="2021年3月31日10:00",
        deadline="2021年4月25日",
    )
    put(sqlite_engine, program_id, OFFICE, subject, body)
    with receiver() as office:
        config = write_config(tmp_path, {json_url(office): "role:office"})
        deliver(sqlite_engine, config, tmp_path, Now())

    [post] = office.posts
    for shown in (post["json"]["title"], post["json"]["message"]):
        assert "<" not in shown
        assert "**" not in shown
        assert "](" not in shown
        assert "＜script＞alert(1)＜/script＞＊＊粗体＊＊" in shown
    assert "（填写内容：＜b＞五十＜/b＞）：不是数字" in post["json"]["message"]
    assert "其余 2 条已成功导入" in post["json"]["message"]


# --- chat limits are in bytes, and a service that asks to slow down is listened to -----------

# What each service takes (docs/supervision.md): the text's UTF-8 bytes for WeCom (2,048 for
# a text message, which is what Apprise sends); for DingTalk and Feishu the request itself,
# as Apprise posts it (JSON with every non-ASCII character escaped, 6 bytes, 12 an emoji).
CHAT_BYTES = {"dingtalk": 20_000, "wecombot": 2048, "feishu": 20_000}
CONTENT = {
    "dingtalk": lambda post: post["json"]["text"]["content"],
    "wecombot": lambda post: post["json"]["text"]["content"],
    "feishu": lambda post: post["json"]["content"]["text"],
}
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, 7 code points
BODIES = {
    "chinese": "".join(f"第{n:04}行：县教育局任务进展情况说明。\n" for n in range(3000)),
    "emoji": "".join(f"{n:04}{FAMILY}👍🏽🇨🇳进展\n" for n in range(3000)),
}


@pytest.mark.parametrize("kind", sorted(BODIES))
@pytest.mark.parametrize("name", sorted(CHAT_BYTES))
def test_a_long_chat_message_is_cut_to_the_services_byte_limit_on_a_character_boundary(
    sqlite_engine: sa.Engine,
    program_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    kind: str,
) -> None:
    import regex

    bot = BOTS[name]
    body = BODIES[kind]
    put(sqlite_engine, program_id, OFFICE, URGE, body)
    config = write_config(tmp_path, {bot.url: "role:office"})
    with chat_bot(bot, monkeypatch) as service:
        service.answer(bot.accepted)

        result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.sent == 1
    [post] = service.posts
    text = CONTENT[name](post)
    assert len(text.encode("utf-8")) <= CHAT_BYTES[name]  # a lone surrogate would raise here
    if name != "wecombot":
        assert len(post["raw"]) <= CHAT_BYTES[name]
    assert text.endswith(delivery.POINTER)
    kept = text.removesuffix(delivery.POINTER)
    whole = f"{URGE}\r\n{body}"
    assert whole.startswith(kept) and len(kept) > 200
    boundaries = {match.end() for match in regex.finditer(r"\X", whole)}
    assert len(kept) in boundaries, "a character (or emoji) was split"
    if name == "wecombot":  # nearly all of the limit is used
        assert len(text.encode("utf-8")) > CHAT_BYTES[name] - 40


def test_a_short_chat_message_arrives_whole(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = BOTS["wecombot"]
    body = "县教育局：3项任务滞后，请于4月25日前报送进展。👍🏽\n" * 10
    put(sqlite_engine, program_id, OFFICE, URGE, body)
    config = write_config(tmp_path, {bot.url: "role:office"})
    with chat_bot(bot, monkeypatch) as service:
        service.answer(bot.accepted)
        deliver(sqlite_engine, config, tmp_path, Now())
    text = CONTENT["wecombot"](service.posts[0])
    assert text == f"{URGE}\r\n{body.rstrip()}" and delivery.POINTER.strip() not in text


def test_a_long_subject_is_cut_too_where_the_title_shares_the_limit(
    sqlite_engine: sa.Engine, program_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = BOTS["wecombot"]
    subject = "【督办提醒】" + "县教育局任务滞后" * 37  # 300 characters, 900 bytes
    put(sqlite_engine, program_id, OFFICE, subject, BODIES["chinese"])
    config = write_config(tmp_path, {bot.url: "role:office"})
    with chat_bot(bot, monkeypatch) as service:
        service.answer(bot.accepted)
        deliver(sqlite_engine, config, tmp_path, Now())
    text = CONTENT["wecombot"](service.posts[0])
    title, _, rest = text.partition("\r\n")
    assert len(text.encode("utf-8")) <= CHAT_BYTES["wecombot"]
    assert title.endswith("…") and subject.startswith(title[:-1]) and len(title) > 100
    assert rest.startswith("第0000行") and rest.endswith(delivery.POINTER)


SLOW_DOWN = b'{"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}'


@pytest.mark.parametrize(
    ("answer", "pause"),
    [
        (Answer(body=SLOW_DOWN), 60),
        (Answer(body=SLOW_DOWN, headers={"Retry-After": "600"}), 600),
        (
            Answer(
                body='{"errcode": 130101, "errmsg": "发送太快，请10分钟后重试"}'.encode(),
            ),
            600,
        ),
    ],
)
def test_dingtalk_asking_to_slow_down_pauses_that_address_and_keeps_the_message(
    sqlite_engine: sa.Engine,
    program_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: Answer,
    pause: int,
) -> None:
    bot = BOTS["dingtalk"]
    put(sqlite_engine, program_id, OFFICE, URGE, "督办正文\n", key="office")
    put(sqlite_engine, program_id, HEAD, "第二条", "另一条\n", key="head")
    put(sqlite_engine, program_id, LIAISON, "第三条", "联络员的提醒\n", key="liaison")
    now = Now()
    with chat_bot(bot, monkeypatch) as service, receiver() as other:
        config = write_config(
            tmp_path,
            {
                bot.url: "role:office, role:head, unit:jyj",
                json_url(other, "/liaison"): "role:liaison, unit:jyj",
            },
        )
        service.answer(answer, bot.accepted)

        first = deliver(sqlite_engine, config, tmp_path, now)

        assert len(service.posts) == 1, "no further sends to a paused address in this run"
        assert len(other.posts) == 1, "the other addresses go on"
        assert first.as_dict() == {"sent": 1, "failed": 0, "pending": 2, "deduplicated": 0}
        waiting = [row for row in rows(sqlite_engine) if row.status == "pending"]
        assert {row.dedup_key for row in waiting} == {"office", "head"}
        for row in waiting:
            assert "130101" in row.last_error and TOKEN not in row.last_error
            assert row.attempts == 0, "a pause is not a failed attempt"
            assert aware(row.next_attempt_at) == NOW + timedelta(seconds=pause)

        # A later run within the pause sends nothing to that address either, even a new
        # message, even by hand; and runs that only wait never use up the retry budget.
        put(sqlite_engine, program_id, HEAD, "第四条", "又一条\n", key="head-2")
        now.advance(timedelta(seconds=pause - 1))
        assert deliver(sqlite_engine, config, tmp_path, now).sent == 0
        for _ in range(delivery.ATTEMPTS + 1):
            deliver(sqlite_engine, config, tmp_path, now, force=True)
        assert len(service.posts) == 1
        assert {row.status for row in rows(sqlite_engine)} == {"sent", "pending"}
        assert all(row.attempts == 0 for row in rows(sqlite_engine) if row.status == "pending")

        service.answer(bot.accepted)
        now.advance(timedelta(seconds=1))
        last = deliver(sqlite_engine, config, tmp_path, now)

    assert last.as_dict() == {"sent": 2, "failed": 0, "pending": 0, "deduplicated": 1}
    assert len(service.posts) == 3


@pytest.mark.parametrize(
    "answer",
    [
        Answer(body=b"[" * 100_000 + b"]" * 100_000),  # nested too deep to read
        Answer(body=b'{"errcode": 0, "pad": "' + b"x" * 300_000 + b'"}'),  # too long to read
    ],
    ids=["deep", "long"],
)
def test_a_chat_answer_that_cannot_be_read_leaves_the_message_pending_and_the_run_going(
    sqlite_engine: sa.Engine,
    program_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: Answer,
) -> None:
    bot = BOTS["dingtalk"]
    put(sqlite_engine, program_id, OFFICE, URGE, "督办正文\n", key="office")
    put(sqlite_engine, program_id, LIAISON, "第二条", "联络员的提醒\n", key="liaison")
    with chat_bot(bot, monkeypatch) as service, receiver() as other:
        config = write_config(
            tmp_path,
            {bot.url: "role:office", json_url(other, "/liaison"): "role:liaison, unit:jyj"},
        )
        service.answer(answer)

        result = deliver(sqlite_engine, config, tmp_path, Now())

    assert result.as_dict() == {"sent": 1, "failed": 0, "pending": 1, "deduplicated": 0}
    [waiting] = [row for row in rows(sqlite_engine) if row.status == "pending"]
    assert waiting.dedup_key == "office" and "no JSON body" in waiting.last_error


# --- the Apprise file: an entry Apprise cannot use is named, not dropped ---------------------


def test_entries_apprise_cannot_use_are_named_without_their_credentials(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "json://127.0.0.1:9/office": "role:office",
            "nosuchservice://user:s3cret@host": "unit:jyj, role:liaison",
            "wecombot://": "unit:jyj, role:head",
            "mailtos://user:s3cret@": "role:leader",
        },
    )
    with pytest.raises(ConfigurationError) as caught:
        delivery.load_targets(config)
    assert str(caught.value) == (
        f"PILOT_TRACKER_APPRISE_CONFIG: {config}: Apprise cannot use 3 of its urls, so nothing "
        "would reach them: entry 2 (nosuchservice://…, tag unit:jyj, role:liaison); "
        "entry 3 (wecombot://…, tag unit:jyj, role:head); "
        "entry 4 (mailtos://…, tag role:leader); "
        "check each against the Apprise documentation for its service"
    )
    assert "s3cret" not in str(caught.value)


def test_an_entry_that_is_not_a_url_is_named(tmp_path: Path) -> None:
    config = tmp_path / "apprise.yaml"
    config.write_text(
        "version: 1\ntag: role:office\nurls:\n"
        '  - "json://127.0.0.1:9/office"\n'
        "  - password s3cret\n"
        "  - 42\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        delivery.load_targets(config)
    message = str(caught.value)
    assert "entry 2 (not a URL, tag role:office); entry 3 (not a URL, tag role:office)" in message
    assert "s3cret" not in message


def test_every_entry_of_the_example_file_is_usable() -> None:
    targets = delivery.load_targets(ROOT / "examples" / "apprise.yml")
    assert len(targets) == 5


def counted_checks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each check of a file's entries, as it happens."""
    checks: list[object] = []
    check = delivery._unusable_entries

    def counting(document: object) -> list[str]:
        checks.append(document)
        return check(document)

    monkeypatch.setattr(delivery, "_unusable_entries", counting)
    return checks


def test_a_file_read_again_unchanged_is_read_once_and_gives_new_addresses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = counted_checks(monkeypatch)
    reads: list[str] = []
    parse = ConfigBase.config_parse_yaml

    def read(content: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(content)
        return parse(content, *args, **kwargs)

    monkeypatch.setattr(ConfigBase, "config_parse_yaml", staticmethod(read))
    config = write_config(tmp_path, {json_url_of(9): OFFICE, mailto(25): LIAISON})
    first, second = delivery.load_targets(config), delivery.load_targets(config)
    # Checked entry by entry once (one read each), read whole by Apprise once.
    assert len(checks) == 1 and len(reads) == 2 + 1
    assert [(server.url(privacy=False), server.tags) for server in second] == [
        (server.url(privacy=False), server.tags) for server in first
    ]
    # New address objects each time: what Apprise spaces out for one object (its last
    # send) does not carry over from one run to the next, nor do the mail headers.
    assert not {id(server) for server in first} & {id(server) for server in second}
    [office] = delivery._addresses(first, "", OFFICE)
    office.throttle()
    office.headers["In-Reply-To"] = "<x@example.org>"
    [again] = delivery._addresses(delivery.load_targets(config), "", OFFICE)
    assert again._last_io_datetime is None and again.headers == {}
    # Changed, the file is checked again: an entry Apprise cannot use is still named.
    with config.open("a", encoding="utf-8") as handle:
        handle.write('  - "wecombot://":\n      tag: "unit:jyj, role:head"\n')
    with pytest.raises(ConfigurationError, match=r"cannot use 1 of its urls.*entry 3 \(wecombot"):
        delivery.load_targets(config)
    with pytest.raises(ConfigurationError, match="cannot use 1 of its urls"):
        delivery.load_targets(config)  # a file refused is refused again, every time
    assert len(checks) == 3


def json_url_of(port: int) -> str:
    return f"json://127.0.0.1:{port}/office"


LOAD_TARGETS_IN_A_CAGE = """
import resource, sys, time
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
from pilot_tracker.alerts import delivery
from pilot_tracker.errors import ConfigurationError
start = time.monotonic()
try:
    delivery.load_targets(Path(sys.argv[1]))
except ConfigurationError as error:
    print(f"refused in {time.monotonic() - start:.3f}")
    print(error)
else:
    print("loaded")
"""
LAUGHS = "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 12))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('l0: &l0 "json://user:s3cret@127.0.0.1:9/x"\n' + LAUGHS, "YAML aliases"),
        ("version: 1\nurls:\n  - " + "[" * 5_000 + "\n", "levels deep"),
    ],
    ids=["aliases", "deep"],
)
def test_an_apprise_file_built_to_exhaust_memory_is_refused_before_apprise_reads_it(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "apprise.yaml"
    config.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", LOAD_TARGETS_IN_A_CAGE, str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines and lines[0].startswith("refused in"), done.stderr[-1500:]
    assert float(lines[0].split()[-1]) < 5  # generous: it takes milliseconds
    assert expected in lines[1] and "s3cret" not in done.stdout


def test_an_apprise_file_over_its_size_bound_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "apprise.yaml"
    with config.open("wb") as handle:
        handle.truncate(delivery.MAX_CONFIG_BYTES + 1)
    with pytest.raises(ConfigurationError, match="at most 1,000,000"):
        delivery.load_targets(config)
