"""The demo: half a year of supervision of the example programs, played in a minute or two.

From an empty data home, the example programs (the four pilots of the city's bulletin) and
the example city over them are loaded, and every day from 2021-01-04 to 2021-07-09 is
played: on each working day the units' submissions land (the demo data), the supervise
run collects, flags, escalates and sends; on their days the quarterly reconciliations and
the half-year evaluation are written and sent. Alerts go by real email to an SMTP server
on loopback, each message kept as an ``.eml`` file; the HTTP source of the Yinzhou example
is served on loopback too, and is down for a while. Where Dovecot is installed,
Xiangshan's office (``MAIL_IN``) has a mailbox on loopback too, and a few of its units
answer by mail (``demo/mailing.py``): their replies are kept under ``mail/replies/``, and
pilot-tracker's receipts go out with the other alerts.

The demo calls the same domain code the Prefect flows call, without a Prefect run per
step, so that half a year takes minutes, not hours; on a machine with several cores its
programs are shared between as many processes (players), each playing its programs' days
and sending their messages, while the servers stay in the demo's own process. Its last
working day may be handed to a caller instead (``last_day``: the command line runs it
through the real Prefect flows, ``flows/demo_day.py``): the units' submissions of that day
land and the servers stay up, and the caller supervises, writes the day's reports and
sends, as a scheduled day would.
"""

from __future__ import annotations

import contextlib
import email.policy
import multiprocessing
import queue
import shutil
import socket
import threading
import time as time_module
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pilot_tracker import db, periods
from pilot_tracker.alerts import delivery, outbox
from pilot_tracker.collect import collection
from pilot_tracker.demo import mailing, submissions
from pilot_tracker.errors import DemoError
from pilot_tracker.ledger import cities, practice, store
from pilot_tracker.ledger.city_file import CitySpec
from pilot_tracker.ledger.links import Links
from pilot_tracker.ledger.program_file import HttpSourceSpec, ProgramSpec, SourceSpec
from pilot_tracker.models import (
    Escalation,
    EscalationStatus,
    Flag,
    Notification,
    Program,
    Unit,
)
from pilot_tracker.reports import bulletin, schedule, writing
from pilot_tracker.supervise import escalation, flags, notices
from pilot_tracker.supervise import workdays as workdays_module

if TYPE_CHECKING:
    from multiprocessing.managers import SyncManager

    import apprise

START = date(2021, 1, 4)
END = date(2021, 7, 9)
SUPERVISE_AT = time(9, 0)
HTTP_PORT = 8765
# The program whose office has a mailbox in the demo, and a few of whose units answer by
# mail; the first example where it is not among them.
MAIL_IN = "xiangshan"


@dataclass
class DemoResult:
    folder: Path
    days: int = 0
    flagged_units: dict[str, int] = field(default_factory=dict)
    escalations: dict[str, Counter[str]] = field(default_factory=dict)
    messages: int = 0
    mails: int = 0
    replies: int = 0  # mail the units sent to the office's mailbox
    mailbox: str = ""  # why the demo played without a mailbox, if it did
    mail_program: str = ""  # whose office has the mailbox
    cities: dict[str, list[str]] = field(default_factory=dict)  # city → its pilots
    bulletins: dict[str, bulletin.BulletinWritten] = field(default_factory=dict)  # city → its issue
    reports: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    last_day: LastDayResult | None = None  # what the caller of the last day did


@dataclass(frozen=True)
class LastDay:
    """The demo's last working day, handed to a caller that supervises every program,
    writes the reports due and sends (the Prefect flows), with what it needs to: the
    servers (SMTP, the HTTP source, the office's mailbox) are up and the units'
    submissions of the day have landed."""

    day: date
    folder: Path  # the demo's folder
    home: Path  # its data home: the database (at ``database_url``), inbox, reports
    database_url: str
    apprise_config: Path
    templates: Path
    programs: list[str]
    reports: list[tuple[str, str]]  # due that day: (kind, period), as schedule.writing_days
    environ: dict[str, str]  # what the collect needs besides: the mailbox's password


@dataclass(frozen=True)
class Ran:
    """One run the caller of the last day made (a Prefect flow run)."""

    flow: str
    name: str
    state: str
    seconds: float
    depth: int = 0  # 0: a run the caller started; 1: a run under it; ...
    program: str = ""
    id: str = ""


@dataclass
class LastDayResult:
    """What the caller of the last day did: the report files it wrote, the problems it met,
    its runs, and how to look at them afterwards."""

    reports: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    runs: list[Ran] = field(default_factory=list)
    look: list[str] = field(default_factory=list)


class _Mailroom:
    """An SMTP server on loopback that keeps every message as an .eml file, and the last
    reminder each address was sent (what a liaison who answers by mail replies to)."""

    def __init__(self, folder: Path, reminders: MutableMapping[str, bytes] | None = None):
        self.folder = folder
        self.count = 0
        # Shared with the players' processes when the programs are played in several.
        self.reminders: MutableMapping[str, bytes] = {} if reminders is None else reminders
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        (self.folder / f"{self.count:04d}.eml").write_bytes(envelope.original_content)
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(
            envelope.original_content
        )
        if "提醒" in str(headers["Subject"] or ""):
            for address in envelope.rcpt_tos:
                self.reminders[address.lower()] = envelope.original_content
        return "250 OK"


@dataclass
class _Post:
    """The office's mailbox on loopback, and the units that write to it."""

    server: Any
    spec: ProgramSpec
    password: str
    folder: Path
    units: set[str]
    answered: set[str] = field(default_factory=set)  # whose liaison was away once
    sent: int = 0

    def append(self, raw: bytes, when: datetime) -> None:
        from pilot_tracker.demo import mail_server

        mail_server.append(self.server, mailing.office_user(self.spec), self.password, raw, at=when)
        self.sent += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.sent:04d}.eml").write_bytes(raw)

    def write(self, mailed: submissions.Mailed, reminders: Mapping[str, bytes]) -> None:
        """The unit's workbook, mailed: in reply to its last reminder (``reminders``, by
        address, as the mailroom kept them), if it had one."""
        reminder = reminders.get(mailing.liaison_address(self.spec, mailed.unit))
        self.append(mailing.reply(self.spec, mailed, reminder), _moment(mailed.day, "UTC"))

    def away_answers(self, reminders: Mapping[str, bytes], day: date) -> None:
        """The first of these units to be sent a reminder has its liaison away: their mail
        server answers that reminder with an out-of-office reply, once."""
        if self.answered:
            return
        for unit in sorted(self.units):
            reminder = reminders.get(mailing.liaison_address(self.spec, unit))
            if reminder is not None:
                self.answered.add(unit)
                self.append(
                    mailing.out_of_office(self.spec, unit, reminder, day), _moment(day, "UTC")
                )
                return


@contextlib.contextmanager
def _office_mailbox(spec: ProgramSpec, folder: Path) -> Iterator[_Post | str]:
    """The first program's mailbox, on Dovecot on loopback; why not, where it cannot run."""
    import secrets

    from pilot_tracker.demo import mail_server

    reason = mail_server.missing()
    if reason:
        yield reason
        return
    password = secrets.token_urlsafe(16)
    with mail_server.dovecot([(mailing.office_user(spec), password)]) as server:
        yield _Post(server, spec, password, folder, submissions.mailing(spec))


@contextlib.contextmanager
def _smtp(
    folder: Path, reminders: MutableMapping[str, bytes] | None = None
) -> Iterator[tuple[_Mailroom, int]]:
    from aiosmtpd.controller import Controller

    mailroom = _Mailroom(folder, reminders)
    port = _free_port()
    controller = Controller(mailroom, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailroom, port
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _http_source(answers: Mapping[str, bytes | None]) -> Iterator[int]:
    """The big-data centre's system on loopback, on a free port (yielded): a unit's JSON at
    ``/<program>/<unit>/progress.json`` (``answers`` by ``program/unit``), or 503 while it
    is down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            body = answers.get("/".join(parts[-3:-1])) if len(parts) >= 3 else None
            if body is None:
                self.send_response(503)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def served_here(spec: ProgramSpec, port: int) -> ProgramSpec:
    """The program with its HTTP sources on the demo's server (``HTTP_PORT`` in the example
    file) moved to ``port``: another demo on the same machine may hold ``HTTP_PORT``, and
    a source down for the whole half-year would change what is played."""
    served = f"http://127.0.0.1:{HTTP_PORT}/"

    def moved(source: SourceSpec) -> SourceSpec:
        if isinstance(source, HttpSourceSpec) and source.url.startswith(served):
            url = f"http://127.0.0.1:{port}/{source.url.removeprefix(served)}"
            return source.model_copy(update={"url": url})
        return source

    units = [
        unit.model_copy(update={"sources": [moved(source) for source in unit.sources]})
        for unit in spec.units
    ]
    return spec.model_copy(update={"units": units})


def apprise_config(
    specs: list[ProgramSpec], port: int, path: Path, city_specs: Sequence[CitySpec] = ()
) -> Path:
    """Addresses for every liaison and head, the offices and the leaders, and each city's
    contacts (``city:<code>, role:city`` or ``role:leader``), on loopback."""
    urls: list[dict[str, dict[str, str]]] = []

    def address(mailbox: str, tags: str) -> None:
        url = (
            f"mailto://127.0.0.1:{port}?from=pilot-tracker@demo.example.gov.cn"
            f"&to={mailbox}@demo.example.gov.cn&format=text"
        )
        urls.append({url: {"tag": tags}})

    for spec in specs:
        address(f"{spec.code}-office", f"program:{spec.code}, role:office")
        address(f"{spec.code}-leader", f"program:{spec.code}, role:leader")
        for unit in spec.units:
            for role in ("liaison", "head"):
                address(
                    f"{spec.code}-{unit.code}-{role}",
                    f"program:{spec.code}, unit:{unit.code}, role:{role}",
                )
    for city in city_specs:
        for role in dict.fromkeys(contact.role for contact in city.contacts):
            address(f"{city.code}-{role}", f"city:{city.code}, role:{role}")
    path.write_text(yaml.safe_dump({"version": 1, "urls": urls}), encoding="utf-8")
    return path


def loopback_targets(config: Path) -> apprise.Apprise:
    """The demo's addresses, read once for the whole half-year: reading them was most of a
    played day's cost. Apprise pauses 5.5 s between two mails from one address object; a
    scheduled run reads the file afresh and never meets that pause from one day to the
    next, so on these addresses (all the loopback mail server) it is dropped."""
    targets = delivery.load_targets(config)
    for server in targets:
        server.request_rate_per_sec = 0
    return targets


# "reports" is where demos played before kept their reports (now under data/).
DEMO_PARTS = ("data", "mail", "reports", "apprise.yml", "prefect")


def clear(folder: Path) -> None:
    """Remove an earlier demo from ``folder``; refuse a folder that holds anything else."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise DemoError(f"{folder} is not a folder; name another with -o")
    others = [entry.name for entry in folder.iterdir() if entry.name not in DEMO_PARTS]
    if others:
        raise DemoError(
            f"{folder} holds other files ({', '.join(sorted(others)[:3])}); "
            "name an empty or new folder with -o"
        )
    for name in DEMO_PARTS:
        part = folder / name
        if part.is_dir():
            shutil.rmtree(part)
        elif part.exists():
            part.unlink()


def play(
    *,
    folder: Path,
    examples: list[Path],
    templates: Path,
    on_day: Callable[[date, int, int], None] = lambda day, index, total: None,
    start: date = START,
    end: date = END,
    links: Callable[[Path], Links] | None = None,
    city_files: Sequence[Path] = (),
    last_day: Callable[[LastDay], LastDayResult] | None = None,
    workers: int = 1,
    accounts: Path | None = None,
) -> DemoResult:
    """Play the demo into ``folder``; a demo played there before is replaced.

    ``examples`` are the program files played, ``city_files`` the cities loaded over them;
    ``accounts`` the folder of the districts' accounts of their practice for the cities'
    work bulletins, written on the last working day.
    ``links`` gives the issuer of the units' personal links for the demo's data home (its
    key kept there, so that a portal on that home opens them); the messages carry them.
    ``last_day`` supervises, writes the reports due and sends on the last working day,
    instead of the domain calls. With ``workers`` above one, the programs are shared
    between that many processes, each playing its own programs' half-year and sending
    their messages, with the servers (SMTP, the HTTP source, the mailbox) in this one:
    what is played and sent is the same, in less time on as many cores.
    """
    home = folder / "data"
    clear(folder)
    home.mkdir(parents=True)
    programs = [(path, *store.read_program_source(path)) for path in examples]
    by_code = {spec.code: spec for _, spec, _ in programs}
    mail_in = by_code.get(MAIL_IN, programs[0][1])
    workers = max(1, min(workers, len(programs)))
    with contextlib.ExitStack() as stack:
        shared = stack.enter_context(_SPAWN.Manager()) if workers > 1 else None
        answers: MutableMapping[str, bytes | None] = shared.dict() if shared else {}
        http_port = stack.enter_context(_http_source(answers))
        post = stack.enter_context(_office_mailbox(mail_in, folder / "mail" / "replies"))
        programs = [(path, served_here(spec, http_port), sha) for path, spec, sha in programs]
        return _play(
            folder,
            home,
            programs,
            city_files,
            templates,
            on_day,
            start,
            end,
            links,
            post,
            answers,
            last_day,
            shared,
            workers,
            accounts,
        )


def _play(
    folder: Path,
    home: Path,
    programs: list[tuple[Path, ProgramSpec, str]],
    city_files: Sequence[Path],
    templates: Path,
    on_day: Callable[[date, int, int], None],
    start: date,
    end: date,
    links: Callable[[Path], Links] | None,
    post: _Post | str,
    answers: MutableMapping[str, bytes | None],
    last_day: Callable[[LastDay], LastDayResult] | None,
    shared: SyncManager | None,
    workers: int,
    accounts: Path | None = None,
) -> DemoResult:
    issuer = links(home) if links is not None else None
    engine = db.make_engine(f"sqlite:///{(home / 'pilot-tracker.db').resolve()}")
    db.migrate(engine)
    specs = []
    city_specs = []
    with db.session(engine) as session:
        for path, spec, sha256 in programs:
            if isinstance(post, _Post) and spec.code == post.spec.code:
                spec = mailing.with_mailbox(spec, post.server.imap_port)
            store.load_program(
                session=session,
                spec=spec,
                source_name=path.name,
                source_sha256=sha256,
                now=_moment(start, spec.timezone),
            )
            specs.append(spec)
        for path in city_files:
            city, sha256 = cities.read_city_source(path)
            cities.load_city(
                session=session,
                spec=city,
                source_name=path.name,
                source_sha256=sha256,
                now=_moment(start, city.timezone),
            )
            city_specs.append(city)
    result = DemoResult(
        folder=folder,
        mailbox=post if isinstance(post, str) else "",
        mail_program=post.spec.code if isinstance(post, _Post) else "",
        cities={city.code: list(city.programs) for city in city_specs},
    )
    mail = post if isinstance(post, _Post) else None
    with db.session(engine) as session:
        calendar = workdays_module.calendar_of(session=session)
    due = schedule.writing_days(calendar, start, end)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    workdays = [day for day in days if calendar.is_workday(day)]
    # The last working day goes to the caller, after every player has played the others.
    played = workdays[:-1] if last_day is not None else workdays
    reminders = shared.dict() if shared is not None else None
    with _smtp(folder / "mail", reminders) as (mailroom, port):
        config = apprise_config(specs, port, folder / "apprise.yml", city_specs)
        groups = [
            _Group(
                programs=group,
                home=home,
                database_url=engine.url.render_as_string(hide_password=False),
                apprise_config=config,
                templates=templates,
                links=issuer,
                days=played,
                total=len(workdays),
                due=due,
                answers=answers,
                reminders=mailroom.reminders,
                post=_mail_of(mail, group),
            )
            for group in _shares(specs, workers)
        ]
        if shared is not None and len(groups) > 1:
            outcomes = _play_apart(groups, shared, on_day)
        else:
            outcomes = [_play_group(group, on_day) for group in groups]
        for outcome in outcomes:
            result.reports += outcome.reports
            result.problems += outcome.problems
            if mail is not None and outcome.post is not None:
                mail.sent, mail.answered = outcome.post.sent, outcome.post.answered
        if workdays:
            _bulletins(engine, home, templates, city_specs, accounts, workdays[-1], result, start)
        if last_day is not None and workdays:
            day = workdays[-1]
            on_day(day, len(workdays), len(workdays))
            previous = played[-1] if played else None
            for spec in specs:
                _units_act(home, spec, day, previous, answers, engine, mail, mailroom.reminders)
            handed = LastDay(
                day=day,
                folder=folder,
                home=home,
                database_url=engine.url.render_as_string(hide_password=False),
                apprise_config=config,
                templates=templates,
                programs=[spec.code for spec in specs],
                reports=list(due.get(day, [])),
                environ={mailing.PASSWORD_ENV: mail.password} if mail is not None else {},
            )
            result.last_day = last_day(handed)
            result.reports += result.last_day.reports
            result.problems += result.last_day.problems
            if mail is not None:
                mail.away_answers(mailroom.reminders, day)
        result.days = len(workdays)
        result.mails = mailroom.count
        result.replies = mail.sent if mail is not None else 0
    _summarise(engine, result)
    engine.dispose()
    return result


# Players are started afresh, not forked from a process whose threads serve the mail.
_SPAWN = multiprocessing.get_context("spawn")
# How long the players may take over the half-year before the demo gives up on them.
PLAYERS_DEADLINE = 3600.0


@dataclass
class _Group:
    """What one player plays: its programs on the days given, with what they need to."""

    programs: list[ProgramSpec]
    home: Path
    database_url: str
    apprise_config: Path
    templates: Path
    links: Links | None
    days: list[date]
    total: int  # the working days of the whole half-year, for the progress shown
    due: dict[date, list[tuple[str, str]]]
    answers: MutableMapping[str, bytes | None]  # the HTTP source's, by program/unit
    reminders: Mapping[str, bytes]  # the last reminder each address was mailed
    post: _Post | None  # the office's mailbox, with the player of its program


@dataclass
class _Outcome:
    """What a player wrote and met, and the mailbox as it left it."""

    reports: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    post: _Post | None = None


def _shares(specs: list[ProgramSpec], workers: int) -> list[list[ProgramSpec]]:
    """The programs in ``workers`` groups of about the same number of units (the work of
    a day grows with them), each in the order given."""
    loads = [0] * workers
    chosen: dict[str, int] = {}
    for spec in sorted(specs, key=lambda spec: (-len(spec.units), spec.code)):
        lightest = loads.index(min(loads))
        chosen[spec.code] = lightest
        loads[lightest] += len(spec.units)
    groups = [[spec for spec in specs if chosen[spec.code] == index] for index in range(workers)]
    return [group for group in groups if group]


def _mail_of(post: _Post | None, group: list[ProgramSpec]) -> _Post | None:
    """The office's mailbox, for the group that plays its program."""
    return post if post is not None and post.spec.code in {s.code for s in group} else None


def _play_group(group: _Group, on_day: Callable[[date, int, int], None]) -> _Outcome:
    """Play ``group``'s programs on its days: each day the units act, each program is
    supervised, the reports due are written, and its programs' messages are sent."""
    engine = db.make_engine(group.database_url)
    reader = db.make_engine(group.database_url, reads_only=True)
    outcome = _Outcome(post=group.post)
    templates = outbox.Templates(group.templates, links=group.links)
    targets = loopback_targets(group.apprise_config)
    codes = [spec.code for spec in group.programs]
    previous: date | None = None
    try:
        for index, day in enumerate(group.days, start=1):
            on_day(day, index, group.total)
            for spec in group.programs:
                _units_act(
                    group.home,
                    spec,
                    day,
                    previous,
                    group.answers,
                    engine,
                    group.post,
                    group.reminders,
                )
                _supervise(
                    engine, reader, spec, group.home, day, group.answers, templates, group.post
                )
                for kind, period in group.due.get(day, []):
                    with db.session(engine) as session:
                        written = writing.write(
                            session=session,
                            kind=kind,
                            program=spec.code,
                            period=period,
                            folder=group.home / "reports" / spec.code / period,
                            home=group.home,
                            templates=group.templates,
                            now=_moment(day, spec.timezone),
                            links=group.links,
                        )
                    outcome.reports += [str(path) for path in written.files.values()]
                    outcome.problems += written.problems
            delivery.send(
                engine=engine,
                targets=targets,
                templates=templates,
                home=group.home,
                now=lambda day=day: _moment(day, group.programs[0].timezone),
                sleep=lambda _: None,
                programs=codes,
            )
            if group.post is not None:
                group.post.away_answers(group.reminders, day)
            previous = day
    finally:
        engine.dispose()
        reader.dispose()
    return outcome


def _player(group: _Group, index: int, news: Any) -> None:
    """A player's process: plays its group, saying each day it starts and what it did."""
    try:
        outcome = _play_group(group, lambda day, count, total: news.put(("day", index, count)))
    except BaseException as error:  # said to the demo, which stops the others
        try:
            news.put(("failed", index, error))
        except Exception:  # an error that cannot be pickled is said by its text
            news.put(("failed", index, DemoError(f"a player stopped: {error!r}")))
        return
    news.put(("done", index, outcome))


def _play_apart(
    groups: list[_Group], shared: SyncManager, on_day: Callable[[date, int, int], None]
) -> list[_Outcome]:
    """Each group in a process of its own; ``on_day`` hears of a day once every player
    has started it."""
    news = shared.Queue()
    players = [
        _SPAWN.Process(target=_player, args=(group, index, news), name=f"demo-player-{index}")
        for index, group in enumerate(groups)
    ]
    started = [0] * len(groups)
    outcomes: dict[int, _Outcome] = {}
    days = groups[0].days
    deadline = time_module.monotonic() + PLAYERS_DEADLINE
    try:
        for player in players:
            player.start()
        while len(outcomes) < len(groups):
            if time_module.monotonic() > deadline:
                raise DemoError(
                    f"the demo's players did not finish in {PLAYERS_DEADLINE:.0f} s; "
                    "is the machine very busy? Play it again"
                )
            try:
                kind, index, what = news.get(timeout=0.5)
            except queue.Empty:
                stopped = [
                    player
                    for index, player in enumerate(players)
                    if index not in outcomes and not player.is_alive()
                ]
                # A player says what it did before it ends: a stopped one that said nothing
                # (the queue still empty after it ended) died.
                if stopped and news.empty():
                    raise DemoError(
                        f"a player of the demo stopped (exit code {stopped[0].exitcode}) "
                        "before it finished; play it again"
                    ) from None
                continue
            if kind == "failed":
                raise what
            if kind == "done":
                outcomes[index] = what
                continue
            before = min(started)
            started[index] = what
            if min(started) > before:
                on_day(days[min(started) - 1], min(started), groups[0].total)
    finally:
        for player in players:
            if player.is_alive():
                player.terminate()
            player.join(timeout=10)
    return [outcomes[index] for index in range(len(groups))]


def _bulletins(
    engine: Engine,
    home: Path,
    templates: Path,
    city_specs: Sequence[CitySpec],
    accounts: Path | None,
    day: date,
    result: DemoResult,
    start: date,
) -> None:
    """Each city's work bulletin for the half year that ended before ``day``, written that
    day with the accounts of their practice the districts sent (``accounts``:
    ``<program>-<period>.md``; a district with none has its figures alone), to be sent
    with the day's messages. A half year that ended before ``start``, the first day
    played (a week played in January), has none: nothing of it was played."""
    period = periods.last_ended(day, "half")
    if periods.bounds(period)[1] < start:
        return
    for city in city_specs:
        if city.bulletin is None:
            continue
        now = _moment(day, city.timezone)
        with db.session(engine) as session:
            for code in city.programs:
                path = accounts / f"{code}-{period}.md" if accounts is not None else None
                if path is None or not path.is_file():
                    continue
                practice.load_account(
                    session=session,
                    program=code,
                    period=period,
                    text=practice.read_account_file(path),
                    source_name=path.name,
                    now=now,
                )
        with db.session(engine) as session:
            written = bulletin.write(
                session=session,
                city=city.code,
                period=period,
                folder=home / "reports" / "cities" / city.code / period,
                home=home,
                templates=templates,
                now=now,
            )
        result.reports += [str(path) for path in written.files.values()]
        result.problems += written.problems
        result.bulletins[city.code] = written


def _moment(day: date, zone: str) -> datetime:
    return datetime.combine(day, SUPERVISE_AT, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def finished_at(zone: str = "Asia/Shanghai") -> datetime:
    """When the demo's last supervise run began: the half-year's last day at 09:00. The
    portal on the demo's data (``pilot-tracker demo --web``) starts its clock there."""
    return _moment(END, zone)


def _units_act(
    home: Path,
    spec: ProgramSpec,
    day: date,
    previous: date | None,
    answers: MutableMapping[str, bytes | None],
    engine: Engine,
    post: _Post | None,
    reminders: Mapping[str, bytes],
) -> None:
    """What a program's units do by ``day``: their submissions land (some by mail, in
    reply to their last reminder), and their heads acknowledge the notices they had."""
    mailed = post is not None and post.spec.code == spec.code
    landed = submissions.deliver(
        spec=spec,
        inbox=home / "inbox",
        since=previous,
        until=day,
        by_mail=post.units if post is not None and mailed else frozenset(),
    )
    for unit, body in landed.http.items():
        answers[f"{spec.code}/{unit}"] = None if unit in landed.down else body
    if post is not None:
        for item in landed.mailed:
            post.write(item, reminders)
    now = _moment(day, spec.timezone)
    with db.session(engine) as session:
        acknowledge_notices(
            session=session,
            program=spec.code,
            units=submissions.acknowledging(spec),
            before=day,
            now=now - timedelta(minutes=30),
        )


def _supervise(
    engine: Engine,
    reader: Engine,
    spec: ProgramSpec,
    home: Path,
    day: date,
    answers: Mapping[str, bytes | None],
    templates: outbox.Templates,
    post: _Post | None = None,
) -> None:
    """One program's supervise run on one day: collect, flag, escalate. The rules read the
    program (``reader``: no write lock) before the flags and the ladder are written: the
    other players wait for the writing only, and only this player writes this program."""
    mailed = post is not None and post.spec.code == spec.code
    now = _moment(day, spec.timezone)
    result = collection.collect(
        engine=engine,
        program=spec.code,
        as_of=day,
        now=now,
        home=home,
        environ={mailing.PASSWORD_ENV: post.password} if post is not None and mailed else {},
        templates=templates,
        settle_seconds=0,
        attempts=1,
        sleep=lambda _: None,
    )
    with Session(reader, expire_on_commit=False) as session:
        found = flags.preview(
            session=session, program=spec.code, as_of=day, unavailable=result.excused()
        )
    with db.session(engine) as session:
        flags.flag_and_escalate(
            session=session,
            program=spec.code,
            as_of=day,
            now=now,
            templates=templates,
            home=home,
            unavailable=result.excused(),
            previewed=found,
        )


def acknowledge_notices(
    *, session: Session, program: str, units: set[str], before: date, now: datetime
) -> int:
    """The heads of ``units`` acknowledge (签收) every open urge or interview notice of
    theirs raised before ``before``, as they would through their link; how many."""
    rows = session.exec(
        select(Escalation, Unit)
        .join(Unit, Escalation.unit_id == Unit.id)
        .join(Program, Escalation.program_id == Program.id)
        .where(
            Program.code == program,
            col(Unit.code).in_(sorted(units)),
            Escalation.status == EscalationStatus.OPEN.value,
            col(Escalation.level).in_(escalation.ACKNOWLEDGED),
            col(Escalation.raised_on) < before,
        )
    ).all()
    taken = [
        notices.acknowledge(
            session=session, unit=unit, escalation_id=row.id, level=row.level, now=now
        )
        for row, unit in rows
        if row.id is not None
    ]
    return sum(not receipt.already for receipt in taken)


def _summarise(engine: Engine, result: DemoResult) -> None:
    with db.session(engine) as session:
        flagged = session.exec(
            select(Program.code, Flag.unit_id).join(Flag, Flag.program_id == Program.id)
        ).all()
        for code in sorted({code for code, _ in flagged}):
            result.flagged_units[code] = len({unit for c, unit in flagged if c == code})
        for code, level in session.exec(
            select(Program.code, Escalation.level).join(
                Escalation, Escalation.program_id == Program.id
            )
        ).all():
            result.escalations.setdefault(code, Counter())[level] += 1
        result.messages = len(
            session.exec(select(Notification.id).where(Notification.status == "sent")).all()
        )


# The board's accounts of the demo: the city office over both programs, and a leader who
# reads them. Their passwords are new on every play, printed once at its end.
DEMO_ACCOUNTS = {"office": "office", "leader": "leader"}


def board_accounts(*, home: Path, now: datetime) -> dict[str, str]:
    """Accounts on the demo's board for every example program: name → password."""
    import secrets

    from pilot_tracker.board import accounts

    engine = db.make_engine(f"sqlite:///{(home / 'pilot-tracker.db').resolve()}")
    made = {}
    with db.session(engine) as session:
        programs = list(session.exec(select(Program.code).order_by(col(Program.code))).all())
        passwords = accounts.Passwords()
        for name, role in DEMO_ACCOUNTS.items():
            made[name] = secrets.token_urlsafe(12)
            accounts.add(
                session=session,
                name=name,
                role=role,
                programs=programs,
                password=made[name],
                now=now,
                passwords=passwords,
            )
    engine.dispose()
    return made
