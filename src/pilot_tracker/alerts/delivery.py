"""Delivering the outbox through Apprise.

Targets live outside the program file, in an Apprise configuration file (YAML) whose tags
route each message: ``unit:<code>`` with ``role:liaison`` or ``role:head``; ``role:office``;
``role:leader``; with ``program:<code>`` as well where one file serves several programs
that share unit codes; ``city:<code>`` with ``role:city`` or ``role:leader`` for a city
league (its roll-up). A message for a role with no address goes to the office with a note
(a city's, to its ``role:city``).

- **One digest per recipient per run**: the pending messages for one target go out as one.
- **Outbox first, delivery second, at most one duplicate**: before a message is sent its
  attempt is committed; each address that takes it is recorded at once; a crash in between
  resends to that one address, never loses the message.
- **Retries with backoff** between runs; ``force`` (``alerts send`` by hand) ignores the
  backoff. After the retry budget the message is ``failed`` and shown.
- **Chat bots**: at most 20 messages a minute to one address; DingTalk, WeCom, Feishu and
  Lark answer HTTP 200 with an error code in the body, which Apprise takes for success;
  here a delivery counts only when that body says success. A service that asks to slow
  down (DingTalk 130101, WeCom 45009, Feishu/Lark 11232, HTTP 429) pauses that address for
  the rest of the run; its messages wait, without losing an attempt, for the time asked.
- Bodies are cut to each service's size limit, counted as the service counts it (bytes for
  the Chinese chat services), on a character boundary, with a pointer to the rest.
- Credentials in addresses never appear in logs, errors or the database.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import apprise
import regex
import requests
import yaml
from apprise.config import ConfigBase
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import ConfigurationError, NotFoundError, YamlBoundError
from pilot_tracker.ledger.program_file import load_yaml, short_name
from pilot_tracker.models import ChatPause, Notification, NotificationStatus, Program, Unit

log = logging.getLogger(__name__)

BACKOFF = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
)
ATTEMPTS = len(BACKOFF) + 1
CHAT_SCHEMES = {"dingtalk", "wecombot", "feishu", "lark", "json", "form", "xml"}
EMAIL_SCHEMES = {"mailto", "mailtos"}
CHAT_PER_MINUTE = 20
MAX_CONFIG_BYTES = 1_000_000


@dataclass(frozen=True)
class ByteLimit:
    """What a chat service takes: ``size`` bytes of the request as posted (``request``), or
    of the message text in UTF-8."""

    size: int
    request: bool

    def measure(self, text: str) -> int:
        # Apprise 2.0 posts json.dumps(payload): every non-ASCII character escaped, 6 bytes
        # each, 12 for one outside the BMP (an emoji), never fewer than its UTF-8 bytes.
        return len(json.dumps(text)) - 2 if self.request else len(text.encode("utf-8"))

    @property
    def budget(self) -> int:
        return self.size - REQUEST_ENVELOPE if self.request else self.size


# The services' limits (docs/supervision.md says where each comes from). Apprise sends text
# messages to all four (WeCom's 4,096-byte markdown is not used) and puts the title on the
# text's first line.
CHAT_BYTES = {
    "dingtalk": ByteLimit(20_000, request=True),
    "feishu": ByteLimit(20_000, request=True),
    "lark": ByteLimit(20_000, request=True),
    "wecombot": ByteLimit(2048, request=False),
}
REQUEST_ENVELOPE = 512  # the rest of a request: msgtype, the @ list, keys and quotes
# The error codes with which a chat service asks the sender to slow down.
SLOW_DOWN = {"dingtalk": {130101}, "wecombot": {45009}, "feishu": {11232}, "lark": {11232}}
DEFAULT_PAUSE = 60.0
MAX_PAUSE = 3600.0
POINTER = "\n……（内容较长，已截断。全文请见邮件，或由专班用 pilot-tracker alerts show 查看）"
ROLE_NAMES = {
    "liaison": "联络员",
    "head": "主要负责人",
    "office": "专班",
    "leader": "领导",
    "city": "团市委",
}

# Apprise logs a malformed address back, secret and all; nothing below ERROR gets through,
# and the few ERROR lines that echo an address are replaced by a neutral one.
logging.getLogger("apprise").setLevel(logging.ERROR)


class _NoAddresses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if "URL" in record.getMessage():
            record.msg, record.args = "an Apprise address could not be read", ()
        return True


logging.getLogger("apprise").addFilter(_NoAddresses())


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    pending: int = 0
    deduplicated: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "pending": self.pending,
            "deduplicated": self.deduplicated,
        }


# The addresses of the files whose checks passed, by path and content, as Apprise read
# them; never sent through. Each run gets copies of its own (Apprise spaces out what one
# address object sends, so a run must not inherit another's), but the same bytes are
# neither checked nor read by Apprise again: checking each entry on its own takes about
# 2 ms, Apprise's reading of a file about 1.2 ms an entry, a copy 0.15 ms. Apprise follows
# no ``include`` here, so the content is the whole of what is read.
_CHECKED: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()
_CHECKED_LOCK = threading.Lock()
CHECKED_FILES = 16


def load_targets(path: Path | None) -> apprise.Apprise:
    """The delivery addresses of an Apprise configuration file (its own YAML format).

    A file is checked whole the first time its content is read in this process: refused if
    it would be costly to read, if Apprise finds no address in it, or if it skips any of its
    entries. The same content again is neither checked nor read again: its addresses are
    copies of those read the first time, new objects for each call.
    """
    targets = apprise.Apprise()
    if path is None:
        return targets
    if not path.is_file():
        raise ConfigurationError(
            f"PILOT_TRACKER_APPRISE_CONFIG: no file at {path}; point it at an Apprise YAML file"
        )
    data = _read_config(path)
    key = (str(path.resolve()), hashlib.sha256(data).hexdigest())
    with _CHECKED_LOCK:
        read = _CHECKED.get(key)
    if read is not None:
        targets.add(copy.deepcopy(read))
        return targets
    document = _read_bounded(path, data)
    config = apprise.AppriseConfig()
    if not config.add(str(path)) or not targets.add(config):
        raise ConfigurationError(f"PILOT_TRACKER_APPRISE_CONFIG: {path} is not an Apprise file")
    if len(targets) == 0:
        raise ConfigurationError(
            f"PILOT_TRACKER_APPRISE_CONFIG: {path} holds no address Apprise can use; check its "
            "urls (each needs a tag such as unit:jyj, role:liaison)"
        )
    if dropped := _unusable_entries(document):
        raise ConfigurationError(
            f"PILOT_TRACKER_APPRISE_CONFIG: {path}: Apprise cannot use {len(dropped)} of its "
            f"urls, so nothing would reach them: {'; '.join(dropped)}; check each against the "
            "Apprise documentation for its service"
        )
    if isinstance(document, dict):  # YAML; Apprise's text format is read every time
        _remember(key, list(targets))
    return targets


def _remember(key: tuple[str, str], services: list[Any]) -> None:
    """Keep a copy of a file's addresses, not yet used, for the next runs; not if they cannot
    be copied (a service holding a lock or a connection): that file is read every time."""
    try:
        kept = copy.deepcopy(services)
    except Exception:  # whatever a plugin holds that cannot be copied
        return
    with _CHECKED_LOCK:
        _CHECKED[key] = kept
        while len(_CHECKED) > CHECKED_FILES:
            _CHECKED.popitem(last=False)


def _read_config(path: Path) -> bytes:
    """The file's bytes, refused first if there are too many to be a file of addresses."""
    size = path.stat().st_size
    if size <= MAX_CONFIG_BYTES:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # bounded: it may have grown since
        size = len(data)
    if size > MAX_CONFIG_BYTES:
        raise ConfigurationError(
            f"PILOT_TRACKER_APPRISE_CONFIG: {path} is {size:,} bytes; an Apprise file of "
            f"addresses is at most {MAX_CONFIG_BYTES:,}"
        )
    return data


def _read_bounded(path: Path, data: bytes) -> Any:
    """The file's YAML document (None for Apprise's text format), refused first if it would
    be costly to read (a YAML alias bomb, deep nesting) before Apprise reads it; errors name
    the place, never the file's content."""
    try:
        document, _ = load_yaml(data.decode("utf-8"))
    except YamlBoundError as error:
        raise ConfigurationError(
            f"PILOT_TRACKER_APPRISE_CONFIG: {path}, {error.where}: {error.message}"
        ) from None
    except (UnicodeDecodeError, yaml.YAMLError):
        return None  # not YAML: Apprise's text format, which Apprise reads line by line
    return document


def _unusable_entries(document: Any) -> list[str]:
    """The entries of a YAML Apprise file that Apprise skips (it only logs them), each as
    ``entry 2 (mailtos://…, tag role:leader)``: position, scheme and tag, never the URL.
    A text-format file (``document`` None) is checked by Apprise alone."""
    if not isinstance(document, dict) or not isinstance(document.get("urls"), list):
        return []
    common = {key: value for key, value in document.items() if key not in ("urls", "include")}
    dropped = []
    for number, entry in enumerate(document["urls"], start=1):
        alone = yaml.safe_dump({**common, "urls": [entry]}, allow_unicode=True)
        services, _ = ConfigBase.config_parse_yaml(alone)
        settings = next(iter(entry.values()), None) if isinstance(entry, dict) else None
        expected = len(settings) if isinstance(settings, list) and settings else 1
        if len(services) < expected:
            scheme, tag = _entry_scheme(entry), _entry_tag(entry, common)
            dropped.append(f"entry {number} ({scheme}, tag {tag})")
    return dropped


def _entry_scheme(entry: Any) -> str:
    url = next(iter(entry), "") if isinstance(entry, dict) else entry
    scheme, separator, _ = url.partition("://") if isinstance(url, str) else ("", "", "")
    if separator and scheme.replace("+", "").replace("-", "").isalnum():
        return f"{scheme}://…"
    return "not a URL"


def _entry_tag(entry: Any, common: dict[str, Any]) -> str:
    settings = next(iter(entry.values()), None) if isinstance(entry, dict) else None
    items = settings if isinstance(settings, list) else [settings]
    tags = [str(item["tag"]) for item in items if isinstance(item, dict) and item.get("tag")]
    if isinstance(entry, dict) and entry.get("tag"):
        tags.append(str(entry["tag"]))
    tags = tags or ([str(common["tag"])] if common.get("tag") else [])
    return "; ".join(tags) if tags else "none"


def fingerprint(server: Any) -> str:
    """A stable name for an address that does not reveal it."""
    return hashlib.sha256(server.url(privacy=False).encode()).hexdigest()[:16]


def shown(server: Any) -> str:
    """An address as it may be shown: Apprise's privacy form, credentials masked."""
    return str(server.url(privacy=True)).split("?")[0]


def _tags(target: str) -> list[tuple[str, ...]]:
    """``"unit:jyj role:liaison"`` → Apprise's AND form ``[("unit:jyj", "role:liaison")]``."""
    return [tuple(target.split())]


def _addresses(targets: apprise.Apprise, program: str, target: str) -> list[Any]:
    """The addresses for a target: those tagged for this program too (``program:<code>``)
    where there are any, as two programs may share unit codes; else those tagged for all.
    A city league's addresses (tagged ``city:<code>``) take only their city's messages: its
    leader is no program's ``role:leader``."""
    if program:
        scoped = _found(targets, f"program:{program} {target}")
        if scoped:
            return scoped
    return _found(targets, target)


def _found(targets: apprise.Apprise, target: str) -> list[Any]:
    found = list(targets.find(tag=_tags(target), match_always=False))
    if "city:" in target:
        return found
    return [server for server in found if not any(str(t).startswith("city:") for t in server.tags)]


def fallback_of(target: str) -> str:
    """Who takes a message whose target has no address: a city's own people
    (``city:<code>``) for a message to its city league, the office for any other."""
    parts = dict(part.split(":", 1) for part in target.split() if ":" in part)
    if "city" in parts:
        return f"city:{parts['city']} role:city"
    return "role:office"


def describe_target(target: str, unit_name: str = "") -> str:
    """A target as a reader says it: 县教育局主要负责人, 专班."""
    parts = dict(part.split(":", 1) for part in target.split() if ":" in part)
    who = ROLE_NAMES.get(parts.get("role", ""), parts.get("role", ""))
    return f"{unit_name or parts['unit']}{who}" if "unit" in parts else who


class _ChatLimiter:
    """At most ``CHAT_PER_MINUTE`` messages a minute to one chat address."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.clock = clock
        self.sleep = sleep
        self.sent: dict[str, deque[float]] = defaultdict(deque)
        self.paused: dict[str, float] = {}
        self.reasons: dict[str, str] = {}

    def wait(self, key: str, budget: float) -> bool:
        """Wait for a free slot if it comes within ``budget`` seconds; say whether it did."""
        window = self.sent[key]
        now = self.clock()
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) < CHAT_PER_MINUTE:
            return True
        delay = 60 - (now - window[0])
        if delay > budget:
            return False
        self.sleep(delay)
        window.popleft()
        return True

    def delay(self, key: str) -> float:
        """Seconds until the next free slot for ``key`` (0 when one is free)."""
        window = self.sent[key]
        if len(window) < CHAT_PER_MINUTE:
            return 0.0
        return max(0.0, 60 - (self.clock() - window[0]))

    def record(self, key: str) -> None:
        self.sent[key].append(self.clock())

    def pause(self, key: str, seconds: float, reason: str) -> None:
        """The service asked to slow down: nothing more to ``key`` in this run."""
        self.paused[key] = max(self.paused.get(key, 0.0), self.clock() + seconds)
        self.reasons[key] = reason

    def paused_for(self, key: str) -> float | None:
        """Seconds left of the pause the service asked for, if ``key`` is paused."""
        if key not in self.paused:
            return None
        return max(1.0, self.paused[key] - self.clock())


# --- the body of a chat service's answer ----------------------------------------------------

_CAPTURING = threading.Lock()


@contextlib.contextmanager
def _answers() -> Iterator[list[requests.Response]]:
    """The HTTP answers an Apprise plugin receives inside the block, in this thread.

    The plugins post with ``requests.post`` and keep the answer to themselves; for the
    duration of one send it is wrapped so the answer's body can be read too.
    """
    answers: list[requests.Response] = []
    owner = threading.get_ident()
    with _CAPTURING:
        original = requests.post

        def recording(*args: Any, **kwargs: Any) -> requests.Response:
            response = original(*args, **kwargs)
            if threading.get_ident() == owner:
                answers.append(response)
            return response

        requests.post = recording
        try:
            yield answers
        finally:
            requests.post = original


BODY_CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "dingtalk": lambda body: body.get("errcode") == 0,
    "wecombot": lambda body: body.get("errcode") == 0,
    "feishu": lambda body: body.get("code", body.get("StatusCode")) == 0,
    "lark": lambda body: body.get("code", body.get("StatusCode")) == 0,
}


ANSWER_BYTES = 65_536  # a chat service's answer is a few dozen bytes; more is not one


def _json_of(answer: requests.Response) -> Any:
    """The JSON of a service's answer; ``None`` when it is not JSON, too long (over
    ``ANSWER_BYTES``) or nested too deep to read."""
    if len(answer.content) > ANSWER_BYTES:
        return None
    try:
        return answer.json()
    except (ValueError, RecursionError):
        return None


def _body_says_success(scheme: str, answers: list[requests.Response]) -> tuple[bool, str]:
    check = BODY_CHECKS.get(scheme)
    if check is None:
        return True, ""
    for answer in answers:
        body = _json_of(answer)
        if body is None:
            return False, f"{scheme} answered HTTP {answer.status_code} with no JSON body"
        if not isinstance(body, dict) or not check(body):
            code = body.get("errcode", body.get("code")) if isinstance(body, dict) else None
            return False, f"{scheme} answered HTTP {answer.status_code} with error code {code}"
    return True, ""


_WAIT = re.compile(r"(\d+(?:\.\d+)?)\s*(秒|分钟|seconds?\b|secs?\b|s\b|minutes?\b|mins?\b)", re.I)


def _pause_asked(scheme: str, answers: list[requests.Response]) -> float | None:
    """Seconds the service asked us to wait (HTTP 429 or its slow-down code), if it did:
    a ``Retry-After`` header, else a wait named in its message, else 60 s; at most 1 h."""
    for answer in answers:
        body = _json_of(answer)
        code = body.get("errcode", body.get("code")) if isinstance(body, dict) else None
        if answer.status_code != 429 and code not in SLOW_DOWN.get(scheme, ()):
            continue
        seconds = DEFAULT_PAUSE
        retry_after = answer.headers.get("Retry-After", "").strip()
        message = str(body.get("errmsg", body.get("msg", ""))) if isinstance(body, dict) else ""
        if retry_after.isdigit():
            seconds = float(retry_after)
        elif found := _WAIT.search(message):
            unit = found.group(2).lower()
            seconds = float(found.group(1)) * (60 if unit.startswith(("分", "min")) else 1)
        return min(max(seconds, 1.0), MAX_PAUSE)
    return None


def _scheme(server: Any) -> str:
    return str(server.url(privacy=True)).split("://", 1)[0].lower()


# --- sending -------------------------------------------------------------------------------


@dataclass
class _Message:
    """The pending outbox items of one target, sent as one digest."""

    program: Program
    target: str
    items: list[Notification]
    unit_name: str = ""


def send(
    *,
    engine: Engine,
    targets: apprise.Apprise,
    templates: outbox.Templates,
    home: Path,
    now: Callable[[], datetime],
    force: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wait_budget: float = 60.0,
    programs: Collection[str] | None = None,
) -> SendResult:
    """Deliver what is due in the outbox (everything pending, with ``force``); with
    ``programs``, only those programs' messages (another sender has the rest)."""
    result = SendResult()
    limiter = _ChatLimiter(clock, sleep)
    _remember_recent(engine, limiter, now())
    _remember_pauses(engine, limiter, now())
    for message in _due(engine, now(), force, programs):
        if len(message.items) > 1:
            result.deduplicated += len(message.items) - 1
        _deliver(engine, message, targets, templates, home, now, limiter, wait_budget, result)
    result.pending = pending_count(engine=engine)
    return result


def _remember_recent(engine: Engine, limiter: _ChatLimiter, moment: datetime) -> None:
    """What earlier runs sent in the last minute counts against each chat address too."""
    since = moment - timedelta(seconds=60)
    with db.session(engine) as session:
        recent = session.exec(
            select(Notification.sent_at, Notification.delivered_to).where(
                Notification.status == NotificationStatus.SENT.value,
                col(Notification.sent_at) >= since,
            )
        ).all()
    base = limiter.clock()
    for sent_at, addresses in recent:
        if sent_at is None:
            continue
        if sent_at.tzinfo is None:  # SQLite gives timestamps back without their zone
            sent_at = sent_at.replace(tzinfo=moment.tzinfo)
        ago = max(0.0, (moment - sent_at).total_seconds())
        for key in addresses:
            limiter.sent[key].append(base - ago)
    for window in limiter.sent.values():
        window_sorted = sorted(window)
        window.clear()
        window.extend(window_sorted)


def _remember_pauses(engine: Engine, limiter: _ChatLimiter, moment: datetime) -> None:
    """A pause a service asked for in an earlier run holds in this one too, until it ends."""
    with db.session(engine) as session:
        for pause in session.exec(select(ChatPause)).all():
            until = pause.until
            if until is not None and until.tzinfo is None:  # SQLite drops the zone
                until = until.replace(tzinfo=moment.tzinfo)
            if until is None or until <= moment:
                session.delete(pause)
                continue
            limiter.pause(pause.address, (until - moment).total_seconds(), pause.reason)


def _record_pause(engine: Engine, key: str, until: datetime, reason: str) -> None:
    with db.session(engine) as session:
        pause = session.get(ChatPause, key)
        if pause is None:
            session.add(ChatPause(address=key, until=until, reason=reason[:500]))
            return
        previous = pause.until
        if previous is not None and previous.tzinfo is None:
            previous = previous.replace(tzinfo=until.tzinfo)
        pause.until = max(until, previous) if previous is not None else until
        pause.reason = reason[:500]


def pending_count(*, engine: Engine) -> int:
    """How many messages wait in the outbox."""
    with db.session(engine) as session:
        return len(
            session.exec(
                select(Notification.id).where(
                    Notification.status == NotificationStatus.PENDING.value
                )
            ).all()
        )


def _due(
    engine: Engine, now: datetime, force: bool, programs: Collection[str] | None = None
) -> list[_Message]:
    with db.session(engine) as session:
        query = (
            select(Notification, Program)
            .join(Program, isouter=True)
            .where(Notification.status == NotificationStatus.PENDING.value)
        )
        if programs is not None:
            query = query.where(col(Program.code).in_(sorted(programs)))
        if not force:
            query = query.where(col(Notification.next_attempt_at) <= now)
        groups: dict[tuple[Any, str, int | None], _Message] = {}
        for item, program in session.exec(query.order_by(col(Notification.id))).all():
            # A message that answers a unit's mail goes alone, so it threads under that mail.
            key = (item.program_id, item.target, item.id if item.headers else None)
            groups.setdefault(key, _Message(program, item.target, [])).items.append(item)
        for message in groups.values():
            parts = dict(part.split(":", 1) for part in message.target.split() if ":" in part)
            if "unit" in parts and message.program is not None:
                message.unit_name = (
                    session.exec(
                        select(Unit.name).where(
                            Unit.program_id == message.program.id, Unit.code == parts["unit"]
                        )
                    ).first()
                    or ""
                )
        session.expunge_all()
    return list(groups.values())


def _compose(message: _Message, templates: outbox.Templates, note: str) -> tuple[str, str]:
    if len(message.items) == 1 and not note:
        return message.items[0].subject, message.items[0].body
    if len(message.items) == 1:
        return message.items[0].subject, f"{note}\n\n{message.items[0].body}"
    # Each body was made markup-free when it was written; neutralised again, its link's
    # token would lose its "_" and open nothing.
    items = [
        {"subject": item.subject, "body": outbox.Verbatim(item.body)} for item in message.items
    ]
    return templates.render(
        "alerts/digest.txt.j2",
        short=short_name(message.program.name) if message.program else "",
        unit=message.unit_name,
        items=items,
        note=note,
    )


def _deliver(
    engine: Engine,
    message: _Message,
    targets: apprise.Apprise,
    templates: outbox.Templates,
    home: Path,
    now: Callable[[], datetime],
    limiter: _ChatLimiter,
    wait_budget: float,
    result: SendResult,
) -> None:
    program = message.program.code if message.program else ""
    servers = _addresses(targets, program, message.target)
    note = ""
    fallback = fallback_of(message.target)
    if not servers and fallback != message.target:
        servers = _addresses(targets, program, fallback)
        note = (
            f"（本消息应发送给{describe_target(message.target, message.unit_name)}，"
            "但未配置其接收地址，"
            f"现转{describe_target(fallback)}处理，请补充配置。）"
        )
    ids = [item.id for item in message.items]
    if not servers:
        _finish(
            engine,
            ids,
            now(),
            failed=f"no address is configured for {message.target!r} nor for {fallback!r}",
            result=result,
        )
        return
    subject, body = _compose(message, templates, note)
    attachments = [
        str(home / path)
        for item in message.items
        for path in item.attachments
        if (home / path).is_file()
    ]
    # The attempt is on record before anything is sent, and claims the message: a run
    # beside this one (send-alerts runs of several programs at once) that read it as due
    # too finds it claimed, or sent, and leaves it.
    attempt_at = now()
    with db.session(engine) as session:
        rows = _rows(session, ids, claim=True)
        read = {item.id: item.attempts for item in message.items}
        if any(
            row.status != NotificationStatus.PENDING.value or row.attempts != read[row.id]
            for row in rows
        ):
            return
        attempts = max(row.attempts for row in rows) + 1
        for row in rows:
            row.attempts = attempts
            row.next_attempt_at = attempt_at + BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
        delivered = set(rows[0].delivered_to)
    errors: list[str] = []
    waits: list[float] = []  # addresses that must wait: no failed attempt, only a delay
    for server in servers:
        key = fingerprint(server)
        if key in delivered:
            continue
        scheme = _scheme(server)
        if scheme in CHAT_SCHEMES:
            paused = limiter.paused_for(key)
            if paused is not None:
                waits.append(paused)
                errors.append(
                    f"{shown(server)}: paused for {paused:.0f} s more, the service asked to "
                    f"slow down ({limiter.reasons[key]})"
                )
                continue
            if not limiter.wait(key, wait_budget):
                waits.append(limiter.delay(key))
                errors.append(f"{shown(server)}: more than {CHAT_PER_MINUTE} messages a minute")
                continue
        headers = message.items[0].headers if len(message.items) == 1 else {}
        ok, error, pause = _notify(server, scheme, subject, body, attachments, headers)
        if scheme in CHAT_SCHEMES:
            limiter.record(key)
        if pause is not None:
            limiter.pause(key, pause, error)
            _record_pause(engine, key, now() + timedelta(seconds=pause), error)
            waits.append(pause)
            errors.append(f"{shown(server)}: {error}; asked to slow down, paused {pause:.0f} s")
        elif ok:
            delivered.add(key)
            with db.session(engine) as session:
                for row in _rows(session, ids):
                    row.delivered_to = sorted(delivered)
        else:
            errors.append(f"{shown(server)}: {error}")
    failures = len(errors) - len(waits)
    if not errors:
        _finish(engine, ids, now(), result=result, sent=(subject, body))
    elif failures and attempts >= ATTEMPTS:
        _finish(engine, ids, now(), failed="; ".join(errors), result=result)
    else:
        with db.session(engine) as session:
            for row in _rows(session, ids):
                row.last_error = "; ".join(errors)[:2000]
                if waits:
                    wait_until = attempt_at + timedelta(seconds=max(waits))
                    if not failures:  # only waiting: the attempt does not count
                        row.attempts = attempts - 1
                        row.next_attempt_at = wait_until
                    else:
                        row.next_attempt_at = max(row.next_attempt_at or wait_until, wait_until)
        result.errors += errors


def _notify(
    server: Any,
    scheme: str,
    subject: str,
    body: str,
    attachments: list[str],
    headers: dict[str, str] | None = None,
) -> tuple[bool, str, float | None]:
    """Send one message: (delivered, why not, seconds the service asked us to pause).

    ``headers`` (In-Reply-To, References, Auto-Submitted) go on an e-mail only; a chat
    message has no thread to join."""
    subject, body = _fit(server, scheme, subject, body)
    try:
        with (
            _answers() as answers,
            _mail_headers(server, scheme, headers or {}),
            _plain_mail(server, scheme),
        ):
            ok = server.notify(
                body=body,
                title=subject,
                body_format=apprise.NotifyFormat.TEXT,
                attach=attachments if scheme in EMAIL_SCHEMES and attachments else None,
            )
    except Exception as error:  # a plugin's own failure must not stop the other messages
        return False, f"delivery raised {type(error).__name__}", None
    pause = _pause_asked(scheme, answers)
    if not ok:
        return False, "the service refused or could not be reached", pause
    ok, error = _body_says_success(scheme, answers)
    return ok, error, pause


@contextlib.contextmanager
def _mail_headers(server: Any, scheme: str, headers: dict[str, str]) -> Iterator[None]:
    """Apprise's e-mail plugin writes ``server.headers`` into each message it sends: these
    headers are added for this one message, and the address's own restored after it."""
    if scheme not in EMAIL_SCHEMES or not headers:
        yield
        return
    own = dict(server.headers)
    server.headers.update(headers)
    try:
        yield
    finally:
        server.headers.clear()
        server.headers.update(own)


class _MailTLS:
    """``ssl`` as Apprise's mail plugin sees it: the module itself, except while this thread
    sends a mail with no transport security (plain SMTP, as to a relay on loopback). The
    plugin makes a verifying TLS context for every mail, whatever its mode, which reads the
    whole CA bundle (about 45 ms on this machine, most of a mail's cost); a plain mail never
    uses it, so it gets a bare one. A mail over TLS gets the module's own, as before, and
    another thread always does."""

    def __init__(self, module: Any):
        self._module = module
        self.plain = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def create_default_context(self, *args: Any, **kwargs: Any) -> Any:
        if getattr(self.plain, "sending", False):
            return self._module.SSLContext(self._module.PROTOCOL_TLS_CLIENT)
        return self._module.create_default_context(*args, **kwargs)


_MAIL_TLS_LOCK = threading.Lock()


@contextlib.contextmanager
def _plain_mail(server: Any, scheme: str) -> Iterator[None]:
    """Within the block, a mail this thread sends in plain SMTP gets no verifying TLS
    context made for it (see ``_MailTLS``)."""
    if scheme not in EMAIL_SCHEMES or getattr(server, "secure_mode", None) != "insecure":
        yield
        return
    from apprise.plugins.email import smtp

    with _MAIL_TLS_LOCK:
        if not isinstance(smtp.ssl, _MailTLS):
            smtp.ssl = _MailTLS(smtp.ssl)
        shim = smtp.ssl
    shim.plain.sending = True
    try:
        yield
    finally:
        shim.plain.sending = False


def _fit(server: Any, scheme: str, subject: str, body: str) -> tuple[str, str]:
    """Subject and body cut to what the service takes, with the pointer to the full text.

    The Chinese chat services count bytes (``CHAT_BYTES``) of the title and the text
    together; the others Apprise's ``body_maxlen`` characters; an email is better whole.
    A cut never splits a character, nor an emoji made of several (a grapheme cluster).
    """
    limit = CHAT_BYTES.get(scheme)
    if limit is not None:
        # What is sent: the title on the first line, then the text, trailing space gone.
        if limit.measure(f"{subject}\r\n{body.rstrip()}") <= limit.budget:
            return subject, body
        if limit.measure(f"{subject}\r\n") > limit.budget // 4:
            subject = _cut(subject, limit.budget // 4 - limit.measure("…\r\n"), limit.measure)
            subject += "…"
            if limit.measure(f"{subject}\r\n{body.rstrip()}") <= limit.budget:
                return subject, body
        room = limit.budget - limit.measure(f"{subject}\r\n") - limit.measure(POINTER)
        return subject, _cut(body, room, limit.measure) + POINTER
    characters = 0 if scheme in EMAIL_SCHEMES else getattr(server, "body_maxlen", 0) or 0
    if characters and len(body) > characters:
        body = _cut(body, max(0, characters - len(POINTER)), len) + POINTER
    title_limit = getattr(server, "title_maxlen", 0)
    if title_limit and len(subject) > title_limit:
        subject = _cut(subject, title_limit - 1, len) + "…"
    return subject, body


def _cut(text: str, room: int, measure: Callable[[str], int]) -> str:
    """The longest start of ``text`` that ``measure`` finds within ``room``, whole
    characters (grapheme clusters) only."""
    used, end = 0, 0
    for cluster in regex.finditer(r"\X", text):
        used += measure(cluster.group())
        if used > room:
            break
        end = cluster.end()
    return text[:end]


def _rows(session: Session, ids: list[Any], claim: bool = False) -> list[Notification]:
    """The outbox rows ``ids``; with ``claim``, locked until the transaction ends (on
    PostgreSQL; SQLite's write transaction holds the whole file)."""
    query = select(Notification).where(col(Notification.id).in_(ids))
    if claim:
        query = query.with_for_update()
    return list(session.exec(query).all())


def _finish(
    engine: Engine,
    ids: list[Any],
    when: datetime,
    *,
    result: SendResult,
    failed: str = "",
    sent: tuple[str, str] | None = None,
) -> None:
    """Mark a message failed, or sent: a digest is kept as its first item, with the text
    that went out, and the items folded into it as ``merged`` (one row per message sent)."""
    with db.session(engine) as session:
        rows = sorted(_rows(session, ids), key=lambda row: row.id or 0)
        for position, row in enumerate(rows):
            if failed:
                row.status = NotificationStatus.FAILED.value
                row.last_error = failed[:2000]
            else:
                row.status = (
                    NotificationStatus.SENT.value
                    if position == 0
                    else NotificationStatus.MERGED.value
                )
                row.sent_at = when
                if position == 0 and sent is not None and len(rows) > 1:
                    row.subject, row.body = sent[0][:300], sent[1]
            row.next_attempt_at = None
    if failed:
        result.failed += 1
        result.errors.append(failed)
    else:
        result.sent += 1


def show_notification(*, session: Session, notification_id: int) -> dict[str, Any]:
    """One message with its whole body, for a reader whose chat app cut it short."""
    item = session.get(Notification, notification_id)
    if item is None:
        raise NotFoundError(f"no message {notification_id}; see `pilot-tracker alerts list`")
    return {
        "id": item.id,
        "target": item.target,
        "subject": item.subject,
        "status": item.status,
        "attempts": item.attempts,
        "last_error": item.last_error,
        "attachments": item.attachments,
        "body": item.body,
    }


def list_notifications(*, session: Session, status: str | None = None) -> list[dict[str, Any]]:
    query = select(Notification, Program.code).join(Program, isouter=True)
    if status:
        query = query.where(Notification.status == status)
    return [
        {
            "id": item.id,
            "program": code,
            "target": item.target,
            "subject": item.subject,
            "status": item.status,
            "attempts": item.attempts,
            "last_error": item.last_error,
            "created": item.created_at.isoformat() if item.created_at else None,
            "sent": item.sent_at.isoformat() if item.sent_at else None,
        }
        for item, code in session.exec(query.order_by(col(Notification.id))).all()
    ]
