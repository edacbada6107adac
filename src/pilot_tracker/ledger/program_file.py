"""The program file: what a pilot is, as its office writes it down (YAML).

``read_program_file`` turns a file into a validated ``ProgramSpec`` or raises
``ProgramFileError`` listing **every** problem, each with its place, for example::

    tasks[3].lead_unit (line 57): unknown unit "jyj"

Validation runs in two passes so that one broken item never hides the problems of
another: each item is checked on its own (types, required keys, ranges), then the file
as a whole (unique codes, references between units, tasks and indicators, dates). The
ledger workbook (``ledger_workbook``) feeds the same ``validate_program``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from pilot_tracker.errors import Problem, ProgramFileError, UndecodableText, YamlBoundError
from pilot_tracker.text import decode_text
from pilot_tracker.values import FIGURE_LIMIT, counts, parse_day
from pilot_tracker.vocabulary import (
    LABELS,
    Cadence,
    ContactRole,
    Direction,
    IndicatorLevel,
    ListKind,
    ProgramLevel,
)

# Bounds on what one program may hold: far above any real pilot (30-37 member units,
# a few dozen tasks, 13 indicators), far below what could exhaust a machine.
MAX_PROGRAM_FILE_BYTES = 2 * 1024 * 1024
MAX_YAML_DEPTH = 20  # a program file nests 6 deep at most
MAX_YAML_VALUES = 250_000  # every key, value and item; the largest program has ~100,000
MAX_UNITS = 200
MAX_TASK_LISTS = 20
MAX_TASKS = 2_000
MAX_INDICATORS = 500
MAX_MILESTONES = 60  # monthly over five years
MAX_CONTACTS = 10
MAX_SOURCES = 10
MAX_CALENDAR_DAYS = 1_000
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"

Path_ = tuple[str | int, ...]
Locator = Callable[[Path_], str]

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
# A reference to a unit by its code; checked against the units, not the code pattern, so a
# wrong reference reads "unknown unit" whatever was typed.
UnitRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Year = Annotated[int, Field(ge=1949, le=2100)]
# An e-mail address as a unit mails from it: one address, no display name; compared in
# lower case. Checked in shape only (local@domain); delivery is not this field's concern.
MAIL_ADDRESS = r"^$|^[^@\s<>(),;:\"\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
MailAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=MAIL_ADDRESS),
]


def _day(value: Any) -> Any:
    """A date as ``values.parse_day`` reads it (2021/3/31, 2021年3月31日, an Excel serial ...);
    anything else as it was, for validation to name with its place."""
    try:
        day = parse_day(value)
    except ValueError:
        return value
    return value if day is None else day


# A date in a program file or a ledger workbook, read by the one date parser.
Day = Annotated[date, BeforeValidator(_day)]


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, validate_by_name=True, frozen=True
    )


class ContactSpec(_Spec):
    role: ContactRole
    name: Short = ""
    title: Short = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    # The address this contact mails from: the mailbox source knows the unit by it.
    email: MailAddress = ""


# Seconds an HTTP source's pull may take at most; the collect flow's task timeout follows it.
MAX_SOURCE_DEADLINE = 300


class FolderSourceSpec(_Spec):
    """Files dropped into ``<data home>/inbox/<unit code>/``: the default source."""

    kind: Literal["folder"]


class HttpSourceSpec(_Spec):
    """A URL answering JSON or CSV. Header values may name environment variables as
    ``${NAME}``; secrets belong there, never in the program file.

    ``timeout``: seconds any one network step may wait; ``deadline``: seconds the whole
    pull may take. ``internal``: the URL is on the office's own network, so loopback and
    private addresses are allowed. ``allow_redirects_to``: origins (``https://host:port``)
    besides the URL's own that it may redirect to; they never get the headers.
    """

    kind: Literal["http"]
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
    format: Literal["json", "csv"] | None = None
    headers: dict[str, Annotated[str, StringConstraints(max_length=2000)]] = {}
    timeout: float = Field(default=30, gt=0, le=300)
    deadline: float = Field(default=60, gt=0, le=MAX_SOURCE_DEADLINE)
    internal: StrictBool = False
    allow_redirects_to: list[
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
    ] = Field(default=[], max_length=20)


SourceSpec = Annotated[FolderSourceSpec | HttpSourceSpec, Field(discriminator="kind")]

# Seconds a mailbox pull may take at most, whatever its size; the flow's task limit follows.
MAX_MAILBOX_DEADLINE = 600
ENVIRONMENT_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
FolderName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class MailboxSpec(_Spec):
    """The office's mailbox, read over IMAP: units reply to their reminders with the
    workbook, and the collect flow takes it from here.

    ``security``: ``tls`` (IMAPS, port 993), ``starttls`` (port 143, upgraded before the
    login) or ``none`` (loopback only: a password never crosses a network in clear).
    ``password_env`` names the environment variable holding the password; the file never
    holds it. ``folder`` is read; each message taken is moved to ``processed`` once what it
    brought is committed. ``ca_file``: a CA bundle for an office's own certificate
    authority. ``authserv_id``: the office's own mail server, whose
    ``Authentication-Results`` (RFC 8601) are trusted: a sender it marks as failing SPF,
    DKIM or DMARC is held for the office, never taken as the unit.
    """

    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    user: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    password_env: Annotated[str, StringConstraints(strip_whitespace=True, pattern=ENVIRONMENT_NAME)]
    folder: FolderName = "INBOX"
    processed: FolderName = "已处理"
    ca_file: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    authserv_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=253)] = ""
    timeout: float = Field(default=30, gt=0, le=300)
    deadline: float = Field(default=300, gt=0, le=MAX_MAILBOX_DEADLINE)

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


class UnitSpec(_Spec):
    code: Code
    name: Name
    contacts: Annotated[list[ContactSpec], Field(max_length=MAX_CONTACTS)] = []
    sources: Annotated[list[SourceSpec], Field(max_length=MAX_SOURCES)] = []
    # Other addresses the unit mails from (a department's shared mailbox), besides its
    # contacts' own.
    mail_from: Annotated[list[MailAddress], Field(max_length=MAX_CONTACTS)] = []

    @field_validator("contacts")
    @classmethod
    def _liaison_first(cls, contacts: list[ContactSpec]) -> list[ContactSpec]:
        order = list(ContactRole)
        return sorted(contacts, key=lambda contact: order.index(contact.role))


class TaskListSpec(_Spec):
    kind: ListKind
    name: Name


class MilestoneSpec(_Spec):
    planned_on: Day = Field(alias="date")
    percent: float = Field(ge=0, le=100)


SixHas = Literal["plan", "mechanism", "policy", "project", "support", "delivery"]
# The league's yardstick for a pilot: 有规划、有机制、有政策、有项目、有保障、有落实.
SIX_HAS: dict[str, str] = {
    "plan": "有规划",
    "mechanism": "有机制",
    "policy": "有政策",
    "project": "有项目",
    "support": "有保障",
    "delivery": "有落实",
}


class TaskSpec(_Spec):
    code: Code
    title: Title
    list_kind: ListKind = Field(validation_alias="list")
    lead_unit: UnitRef
    co_units: Annotated[list[UnitRef], Field(max_length=MAX_UNITS)] = []
    start: Day
    due: Day
    milestones: Annotated[list[MilestoneSpec], Field(max_length=MAX_MILESTONES)] = []
    weight: float = Field(default=1.0, gt=0, le=100)
    deliverable: Note = ""
    has: SixHas | None = None


class ValueYear(_Spec):
    # finite and bounded: a typo such as 1e308 or .inf would be printed in every report
    value: float = Field(allow_inf_nan=False, ge=-FIGURE_LIMIT, le=FIGURE_LIMIT)
    year: Year


class IndicatorSpec(_Spec):
    code: Code
    name: Name
    level: IndicatorLevel
    measure: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    baseline: ValueYear
    target: ValueYear
    direction: Direction = Direction.INCREASE
    owner: UnitRef


# --- rules: the thresholds of flagging and escalation, each with a default ------------------

Points = Annotated[float, Field(ge=0, le=100)]
Periods = Annotated[int, Field(ge=1, le=24)]


class MissingReportRule(_Spec):
    """No report for a period by its deadline (rolled to a working day) plus a grace."""

    enabled: bool = True
    grace_workdays: int = Field(default=3, ge=0, le=30)
    red_after_periods: Periods = 2


class OverdueRule(_Spec):
    """Past its due day and not completed; red after some working days."""

    enabled: bool = True
    red_after_workdays: int = Field(default=10, ge=0, le=250)


class BehindPlanRule(_Spec):
    """Reported percent below the planned percent by more than ``tolerance`` points."""

    enabled: bool = True
    tolerance: Points = 15
    red_gap: Points = 30


class StalledRule(_Spec):
    """No progress for ``periods`` reporting periods in a row."""

    enabled: bool = True
    periods: Periods = 2
    red_periods: Periods = 3


class IndicatorOffTrackRule(_Spec):
    """Behind the straight line from baseline to target by more than ``tolerance`` percent
    of the distance between them."""

    enabled: bool = True
    tolerance: Points = 10
    red_gap: Points = 25


class NoEvidenceRule(_Spec):
    """Reported completed without evidence (佐证材料)."""

    enabled: bool = True


class EscalationRule(_Spec):
    """The ladder: a reminder on the first flag, an urge (督办) to the head while a red flag
    persists ``urge_after_periods`` later, an interview (约谈) ``interview_after_periods``
    after the first reminder. An urge or interview notice the head has not acknowledged
    (签收) within ``acknowledge_within_workdays`` working days of its raise is shown as
    unacknowledged, and an unacknowledged urge counts one period more toward the interview."""

    urge_after_periods: Periods = 2
    interview_after_periods: Periods = 3
    acknowledge_within_workdays: int = Field(default=3, ge=1, le=30)


class RulesSpec(_Spec):
    missing_report: MissingReportRule = MissingReportRule()
    overdue: OverdueRule = OverdueRule()
    behind_plan: BehindPlanRule = BehindPlanRule()
    stalled: StalledRule = StalledRule()
    indicator_off_track: IndicatorOffTrackRule = IndicatorOffTrackRule()
    no_evidence: NoEvidenceRule = NoEvidenceRule()
    escalation: EscalationRule = EscalationRule()


class WeightsSpec(_Spec):
    """How the half-year evaluation weighs each part of a unit's score."""

    completion: Points = 40
    timeliness: Points = 20
    indicators: Points = 20
    evidence: Points = 20


class EvaluationSpec(_Spec):
    weights: WeightsSpec = WeightsSpec()


class CalendarSpec(_Spec):
    """The program's own days off and working days, over the official calendar."""

    holidays: Annotated[list[Day], Field(max_length=MAX_CALENDAR_DAYS)] = []
    workdays: Annotated[list[Day], Field(max_length=MAX_CALENDAR_DAYS)] = []


class ReportingSpec(_Spec):
    cadence: Cadence = Cadence.MONTHLY
    deadline: int = Field(default=25, ge=1, le=31)


MAX_ADDRESSEES = 50  # 主送 or 抄送: a leading group's 30-37 units and more


class DocumentsSpec(_Spec):
    """Who issues the Word documents (公文) and to whom: the issuing office (发文机关), the
    prefix of the 文号 (海共青发), the addressees (主送), the copies (抄送), and the printing
    office (印发机关; the issuer where not given)."""

    issuer: Name
    prefix: Short = ""
    send_to: Annotated[list[Name], Field(max_length=MAX_ADDRESSEES)] = []
    copy_to: Annotated[list[Name], Field(max_length=MAX_ADDRESSEES)] = []
    printed_by: Short = ""


class ProgramHeader(_Spec):
    """The program's own keys, everything but its lists of items."""

    code: Code
    name: Name
    level: ProgramLevel
    start: Day
    end: Day
    timezone: str = "Asia/Shanghai"
    reporting: ReportingSpec = ReportingSpec()
    calendar: CalendarSpec = CalendarSpec()
    rules: RulesSpec = RulesSpec()
    evaluation: EvaluationSpec = EvaluationSpec()
    mailbox: MailboxSpec | None = None
    documents: DocumentsSpec | None = None


class ProgramSpec(ProgramHeader):
    """A whole program, validated; what the ledger stores and exports."""

    units: list[UnitSpec]
    task_lists: list[TaskListSpec] = []
    tasks: list[TaskSpec] = []
    indicators: list[IndicatorSpec] = []

    def to_document(self) -> dict[str, Any]:
        """The program as a program file would write it (YAML keys, ISO dates)."""
        document = self.model_dump(mode="json", by_alias=True)
        document["rules"] = self.rules.model_dump(mode="json", exclude_defaults=True)
        document["calendar"] = self.calendar.model_dump(mode="json", exclude_defaults=True)
        document["evaluation"] = self.evaluation.model_dump(mode="json", exclude_defaults=True)
        for task in document["tasks"]:
            task["list"] = task.pop("list_kind")
        if document["mailbox"] is None:
            del document["mailbox"]
        if document["documents"] is None:
            del document["documents"]
        for unit in document["units"]:
            if not unit["mail_from"]:
                del unit["mail_from"]
            for contact in unit["contacts"]:
                if not contact["email"]:
                    del contact["email"]
        return document


def short_name(program_name: str) -> str:
    """象山县中长期青年发展规划省级试点 → 象山县试点: how offices name a pilot in a subject."""
    match = re.match(r"^(.{1,8}?[省市县区])", program_name)
    return f"{match.group(1)}试点" if match else program_name


# Sections of the file that are lists of items, each item validated on its own.
SECTIONS: dict[str, type[_Spec]] = {
    "units": UnitSpec,
    "task_lists": TaskListSpec,
    "tasks": TaskSpec,
    "indicators": IndicatorSpec,
}
# How many items each section may hold, and what one item is called.
SECTION_BOUNDS: dict[str, tuple[int, str]] = {
    "units": (MAX_UNITS, "units"),
    "task_lists": (MAX_TASK_LISTS, "task lists"),
    "tasks": (MAX_TASKS, "tasks"),
    "indicators": (MAX_INDICATORS, "indicators"),
}


# --- reading ------------------------------------------------------------------------------


def read_program_file(path: Path) -> ProgramSpec:
    """Read and validate a YAML program file; raise ``ProgramFileError`` with every problem."""
    name = path.name
    text = _decoded(read_bounded(path, MAX_PROGRAM_FILE_BYTES, name), name)
    return parse_program_text(text, name)


def read_bounded(path: Path, limit: int, name: str) -> bytes:
    """The bytes of a file no larger than ``limit``; a clear error otherwise."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ProgramFileError(name, [Problem("", "not a regular file")])
        if size > limit:
            problem = Problem(
                "",
                f"the file is {size:,} bytes, more than the {limit:,} ({limit // 1024**2} MB) "
                "allowed; a program is far smaller, so check that this is the right file",
            )
            raise ProgramFileError(name, [problem])
        return path.read_bytes()
    except FileNotFoundError:
        raise ProgramFileError(name, [Problem("", f"no such file: {path}")]) from None
    except OSError as error:
        problem = Problem("", f"cannot read {path}: {error.strerror}")
        raise ProgramFileError(name, [problem]) from None


def _decoded(data: bytes, name: str) -> str:
    """The file's text by the one decoding policy (``pilot_tracker.text``): UTF-8 with or
    without a byte-order mark, UTF-16, GBK; anything else is refused with what to do."""
    try:
        return decode_text(data)
    except UndecodableText as error:
        problem = Problem(
            f"byte {error.start}",
            "the file is not UTF-8, UTF-16 or GBK text; save it as UTF-8 "
            "(for example 另存为 → 编码 UTF-8) and load it again",
        )
        raise ProgramFileError(name, [problem]) from None


# libyaml where it is installed: it parses without recursion and ten times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LIBYAML = getattr(getattr(yaml, "cyaml", None), "CParser", None)


def load_yaml(
    text: str,
    counted: dict[str, tuple[int, str]] | None = None,
    *,
    loader: type[Any] = _Loader,
) -> tuple[Any, yaml.Node | None]:
    """The data of a YAML document, and its node tree (for line numbers).

    Aliases (whose expansion can grow a few lines into gigabytes), deep nesting, too many
    values and, for each top-level key in ``counted``, too many items (``{key: (limit,
    noun)}``) raise ``YamlBoundError`` before a single object is built. Syntax errors
    raise ``yaml.YAMLError`` as usual.

    A text too short to hold more values than allowed is parsed once, with libyaml where
    it is installed: its node tree (where an alias is the node it names, not a copy) is
    checked before anything is built from it. A longer text, or one read without libyaml
    (whose pure-Python composer recurses with each level), is checked first as a stream of
    events that holds nothing, then parsed.
    """
    counted = counted or {}
    short = len(text) <= MAX_YAML_VALUES // _VALUES_PER_CHARACTER
    if not (short and _LIBYAML is not None and issubclass(loader, _LIBYAML)):
        _check_events(text, counted, loader)
    reader = loader(text)
    try:
        try:
            root = reader.get_single_node()
        except yaml.MarkedYAMLError as error:
            if "maximum nesting depth" in str(error.problem):  # libyaml stops at 1,000
                raise YamlBoundError(_line(error.problem_mark), _TOO_DEEP) from None
            raise
        if root is not None and not _tree_within_bounds(root, counted):
            _check_events(text, counted, loader)  # it says which bound, and where
            raise YamlBoundError("", "beyond the bounds this file is read within")
        return (reader.construct_document(root) if root is not None else None), root
    finally:
        reader.dispose()


# The most values a character of YAML can make (``[:,:]``: a mapping of a null key and a
# null value for every two characters), rounded up.
_VALUES_PER_CHARACTER = 2


def _tree_within_bounds(root: yaml.Node, counted: dict[str, tuple[int, str]]) -> bool:
    """Whether a composed document keeps every bound ``_check_events`` keeps: no node
    reached twice (an alias), none deeper than allowed, not too many values, nor items
    in a counted section. Walked with a stack of collections, each node once."""
    seen: set[int] = {id(root)}
    collections: list[tuple[yaml.Node, int]] = []
    if isinstance(root, yaml.CollectionNode):
        collections.append((root, 0))
    while collections:
        node, depth = collections.pop()
        if depth + 1 > MAX_YAML_DEPTH:
            return False
        children = (
            [part for pair in node.value for part in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        for child in children:
            if id(child) in seen:
                return False
            seen.add(id(child))
            if not isinstance(child, yaml.ScalarNode):
                collections.append((child, depth + 1))
        if len(seen) > MAX_YAML_VALUES:
            return False
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            section = counted.get(str(key.value)) if isinstance(key, yaml.ScalarNode) else None
            if section and isinstance(value, yaml.SequenceNode) and len(value.value) > section[0]:
                return False
    return True


def _check_events(text: str, counted: dict[str, tuple[int, str]], loader: type[Any]) -> None:
    """Refuse the first alias, too deep a nesting, too many values or too many items of a
    counted section, with its place, in one pass over the events that holds nothing."""
    depth = values = items = 0
    root_is_mapping = key_turn = False
    key: Any = None
    section: str | None = None
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise YamlBoundError(
                    _line(event.start_mark),
                    "YAML aliases (*name, <<: *name) are not allowed here; "
                    "write the value out in full",
                )
            if isinstance(event, yaml.NodeEvent):
                values += 1
                if values > MAX_YAML_VALUES:
                    raise YamlBoundError(
                        _line(event.start_mark),
                        f"more than {MAX_YAML_VALUES:,} values (keys, values and items), far "
                        "more than such a file holds; check that this is the right file",
                    )
                if depth == 0:
                    root_is_mapping = key_turn = isinstance(event, yaml.MappingStartEvent)
                elif depth == 1 and root_is_mapping:
                    if key_turn:
                        key = event.value if isinstance(event, yaml.ScalarEvent) else None
                    elif isinstance(event, yaml.SequenceStartEvent) and key in counted:
                        section, items = key, 0
                    key_turn = not key_turn
                elif depth == 2 and section is not None:
                    items += 1
                    limit, noun = counted[section]
                    if items > limit:
                        raise YamlBoundError(
                            f"{section}[{limit}] ({_line(event.start_mark)})",
                            f"{_too_many(limit, noun)}; check that this is the right file, "
                            "or split the pilot into several programs",
                        )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise YamlBoundError(_line(event.start_mark), _TOO_DEEP)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                if depth < 2:
                    section = None
    except yaml.MarkedYAMLError as error:
        # libyaml stops at 1,000 open brackets before our count sees the 21st.
        if "maximum nesting depth" in str(error.problem):
            raise YamlBoundError(_line(error.problem_mark), _TOO_DEEP) from None
        raise


_TOO_DEEP = (
    f"nested more than {MAX_YAML_DEPTH} levels deep, where a program file needs 6 and a "
    "notice or an Apprise file fewer; check the brackets and indentation"
)


def _too_many(limit: int, noun: str) -> str:
    return f"more than the {limit:,} {noun} a program may hold"


def _line(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def read_along(path: str) -> tuple[ProgramSpec, str] | None:
    """A program file read and validated by ``store.read_program_sources``'s helper
    process, with its sha256; None for a file refused (read again by the loading process,
    to say why). This module imports no table, so the helper starts in a fraction of the
    loader's time."""
    file = Path(path)
    try:
        spec = read_program_file(file)
        return spec, hashlib.sha256(file.read_bytes()).hexdigest()
    except Exception:
        return None


def parse_program_text(text: str, name: str) -> ProgramSpec:
    """Validate the YAML text of a program file."""
    raw, locate = parse_yaml_file(text, name, SECTION_BOUNDS)
    return validate_program(raw, name, locate)


def parse_yaml_file(
    text: str, name: str, counted: dict[str, tuple[int, str]]
) -> tuple[Any, Locator]:
    """The data of a program or city file's YAML, and a locator that names a key's place
    with its line; a bound passed, a syntax error or a key written twice raises
    ``ProgramFileError`` with its place."""
    try:
        raw, root = load_yaml(text, counted)
    except YamlBoundError as error:
        raise ProgramFileError(name, [Problem(error.where, error.message)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = error.problem or error.context or "not valid YAML"
        raise ProgramFileError(
            name, [Problem(where, f"YAML syntax error: {reason}; check indentation and quoting")]
        ) from None
    except yaml.YAMLError as error:
        raise ProgramFileError(name, [Problem("", f"YAML syntax error: {error}")]) from None

    if root is not None and _has_duplicate_key(root):
        raise ProgramFileError(name, _yaml_lines(root)[1])
    lines: dict[Path_, int] | None = None  # worked out when a problem is first placed

    def locate(path: Path_) -> str:
        nonlocal lines
        if lines is None:
            lines = _yaml_lines(root)[0]
        for depth in range(len(path), -1, -1):
            if path[:depth] in lines:
                return f"{format_path(path)} (line {lines[path[:depth]]})"
        return format_path(path)

    return raw, locate


def _has_duplicate_key(root: yaml.Node) -> bool:
    """Whether a mapping of the document has a key written twice (``_yaml_lines`` says
    where); walked with a stack, without the paths and lines only a problem needs."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            keys = [str(key.value) for key, _ in node.value]
            if len(set(keys)) != len(keys):
                return True
            stack.extend(value for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return False


def _yaml_lines(root: yaml.Node | None) -> tuple[dict[Path_, int], list[Problem]]:
    """Line of every key and item in the document; and keys written twice in one mapping."""
    lines: dict[Path_, int] = {}
    duplicates: list[Problem] = []

    def walk(node: yaml.Node, path: Path_) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    duplicates.append(
                        Problem(
                            f"{format_path((*path, key))} (line {line})",
                            f'the key "{key}" is written twice in one place (first on line '
                            f"{seen[key]}); only one would be kept, so merge them",
                        )
                    )
                seen[key] = line
                lines[(*path, key)] = line
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return lines, duplicates


def format_path(path: Path_) -> str:
    """``("tasks", 3, "lead_unit")`` → ``tasks[3].lead_unit``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


class _PlainDumper(yaml.SafeDumper):
    """Writes a value seen twice in full again: reading refuses aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_program_file(spec: ProgramSpec, path: Path) -> None:
    """Write a program file that ``read_program_file`` reads back to the same spec."""
    text = yaml.dump(
        spec.to_document(), Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=100
    )
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


# --- validation ----------------------------------------------------------------------------


def validate_program(raw: Any, source: str, locate: Locator = format_path) -> ProgramSpec:
    """Validate a parsed program document; raise ``ProgramFileError`` with every problem."""
    found: list[tuple[Path_, str]] = []

    def add(path: Path_, message: str) -> None:
        found.append((path, message))

    if raw is None:
        raise ProgramFileError(
            source,
            [
                Problem(
                    "", "the file is empty; write at least code, name, level, start, end and units"
                )
            ],
        )
    if not isinstance(raw, dict):
        raise ProgramFileError(
            source,
            [
                Problem(
                    "",
                    f"the file must be a mapping of keys (code, name, units, ...), "
                    f"not a {_kind_of(raw)}",
                )
            ],
        )

    # Too many items: refused before any is checked, with the bound named.
    too_many = [
        Problem(
            locate((section,)),
            f"{len(value):,} {noun}, {_too_many(limit, noun)}; check that this is the right "
            "file, or split the pilot into several programs",
        )
        for section, (limit, noun) in SECTION_BOUNDS.items()
        if isinstance(value := raw.get(section), list) and len(value) > limit
    ]
    if too_many:
        raise ProgramFileError(source, too_many)

    # Pass 1: the header on its own, then each item of each section on its own.
    header = {key: value for key, value in raw.items() if key not in SECTIONS}
    checked_header = _check(ProgramHeader, header, (), add)

    items: dict[str, list[tuple[int, Any]]] = {}
    for section, model in SECTIONS.items():
        value = raw.get(section, [] if section != "units" else None)
        if value is None and section == "units":
            add((), "units: missing; a program needs its member units (成员单位)")
            value = []
        if value is None:
            value = []
        if not isinstance(value, list):
            add((section,), f"must be a list of items, not a {_kind_of(value)}")
            value = []
        items[section] = [
            (index, checked)
            for index, entry in enumerate(value)
            if (checked := _check(model, entry, (section, index), add)) is not None
        ]

    # Pass 2: the file as a whole.
    _check_program(checked_header, raw, items, add, locate)

    if found:
        order = {key: rank for rank, key in enumerate(raw)}
        found.sort(key=lambda entry: _document_order(entry[0], order))
        raise ProgramFileError(source, [Problem(locate(path), text) for path, text in found])
    # Every item is valid and checked: the program is built from them (pydantic does not
    # validate a model instance again), its header validated as part of it.
    return ProgramSpec.model_validate(
        {**raw, **{section: [item for _, item in items[section]] for section in SECTIONS}}
    )


def _document_order(path: Path_, order: dict[Any, int]) -> tuple[int, int]:
    """Problems read top to bottom: by section as the file has them, then by item."""
    if not path:
        return (-1, 0)
    index = path[1] if len(path) > 1 and isinstance(path[1], int) else -1
    return (order.get(path[0], -1) if path[0] in SECTIONS else -1, index)


def _check(model: type[_Spec], value: Any, path: Path_, add: Callable[[Path_, str], None]) -> Any:
    """The validated item; where it is invalid, the fields that are valid on their own.

    Reporting each field's problem and still checking the item's other fields against the
    rest of the file is what lets one pass list every problem at once.
    """
    try:
        return model.model_validate(value)
    except ValidationError as error:
        for detail in error.errors():
            location = (*path, *detail["loc"])
            add(location, describe_error(detail, model, tuple(detail["loc"])))
    if not isinstance(value, dict):
        return None
    valid: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = _key_of(name, field)
        if key in value:
            try:
                annotation = field.annotation
                if field.metadata:
                    annotation = Annotated[annotation, *field.metadata]
                adapter = TypeAdapter(annotation)
                valid[name] = adapter.validate_python(value[key])
            except ValidationError:
                continue
    return model.model_construct(**valid)


def _got(item: Any, *names: str) -> bool:
    """Whether a (possibly partial) item holds valid values for all ``names``."""
    return item is not None and all(name in item.__dict__ for name in names)


def describe_error(detail: Any, model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """A pydantic error in words an office user understands."""
    kind = detail["type"]
    found = _show(detail.get("input"))
    context = detail.get("ctx") or {}
    if kind == "missing":
        return "missing; this key is required"
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        return f"unknown key; the keys here are: {', '.join(known)}" if known else "unknown key"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"not a date: {found}; write dates as 2021-03-31"
    if kind == "enum":
        expected = context.get("expected", "the allowed values")
        vocabulary = _field_enum(model, loc)
        if vocabulary in LABELS:
            expected += f" ({', '.join(LABELS[vocabulary].values())})"
        return f"{found} is not one of {expected}"
    if kind == "string_pattern_mismatch":
        return (
            f"{found} is not a valid code; use letters, digits, '-', '_' or '.' "
            "(at most 40 characters, starting with a letter or digit)"
        )
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        length = len(str(detail.get("input")))
        return f"too long ({length} characters, at most {context.get('max_length')})"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        bounds = {
            "greater_than": "more than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }
        limit = next(iter(context.values()), "")
        limit = _number(limit) if isinstance(limit, int | float) else limit
        return f"{found} is out of range; it must be {bounds[kind]} {limit}"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{found} is not a whole number"
    if kind in {"float_parsing", "float_type"}:
        return f"{found} is not a number"
    if kind in {"bool_type", "bool_parsing"}:
        return f"{found} is not true or false"
    if kind == "finite_number":
        return f"{found} is not a finite number; write the figure itself"
    if kind in {"string_type"}:
        return f"{found} is not text"
    if kind == "too_long":
        length = context.get("actual_length") or len(detail.get("input") or [])
        return f"{length:,} items, more than the {context.get('max_length'):,} allowed here"
    if kind in {"list_type"}:
        return f"must be a list, not {found}"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return f"must be a mapping of keys, not {found}"
    if kind == "value_error":
        return str(context.get("error", detail["msg"]))
    return f"{detail['msg']} (found {found})"


def _field_enum(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The vocabulary (enum class) of the field at ``loc``, if it has one."""
    *parents, last = [step for step in loc if not isinstance(step, int)] or [None]
    current: Any = model
    for step in parents:
        field = _field_at(current, step) if current else None
        current = _model_in(field.annotation) if field else None
    field = _field_at(current, last) if current and last else None
    if field is None:
        return None
    annotation = field.annotation
    for candidate in (annotation, *get_args(annotation)):
        if candidate in LABELS:
            return candidate
    return None


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for step in loc:
        if isinstance(step, int):
            continue
        field = _field_at(current, step) if isinstance(current, type) else None
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return [_key_of(name, field) for name, field in current.model_fields.items()]


def _key_of(name: str, field: Any) -> str:
    """The key a file uses for a field: its alias where it has one."""
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return alias or name


def _field_at(model: type[BaseModel], key: Any) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, _key_of(name, field)):
            return field
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _check_program(
    header: ProgramHeader | None,
    raw: dict[str, Any],
    items: dict[str, list[tuple[int, Any]]],
    add: Callable[[Path_, str], None],
    locate: Locator,
) -> None:
    if _got(header, "start", "end") and header.end < header.start:
        add(("end",), f"{header.end} is before the start {header.start}")
    if _got(header, "timezone"):
        try:
            ZoneInfo(header.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            add(("timezone",), f'unknown time zone "{header.timezone}"; use e.g. Asia/Shanghai')
    if _got(header, "rules"):
        escalation = header.rules.escalation
        if escalation.interview_after_periods <= escalation.urge_after_periods:
            add(
                ("rules", "escalation", "interview_after_periods"),
                f"{escalation.interview_after_periods} must be more than urge_after_periods "
                f"({escalation.urge_after_periods}): the interview comes after the urge",
            )
    if _got(header, "evaluation") and not sum(header.evaluation.weights.model_dump().values()):
        add(("evaluation", "weights"), "the weights add up to 0; give at least one a weight")
    if _got(header, "calendar"):
        both = set(header.calendar.holidays) & set(header.calendar.workdays)
        for day in sorted(both):
            add(("calendar", "workdays"), f"{day} is also listed under holidays; keep one")

    # Every code a raw item declares counts as declared, even where the item itself is
    # invalid: one broken unit must not make each task that names it "unknown".
    declared_units = _declared(raw.get("units"), "code")
    unit_names = {
        str(unit["name"]).strip(): str(unit["code"]).strip()
        for unit in raw.get("units") or []
        if isinstance(unit, dict) and unit.get("name") and unit.get("code")
    }
    declared_lists = _declared(raw.get("task_lists"), "kind")

    units = items["units"]
    _unique(units, "units", "code", "unit code", add, locate)
    _unique(units, "units", "name", "unit name", add, locate)
    for index, unit in units:
        if _got(unit, "sources"):
            for position, source in enumerate(unit.sources):
                _check_source(("units", index, "sources", position), source, add)
        if not _got(unit, "contacts"):
            continue
        roles = [contact.role for contact in unit.contacts]
        for position, role in enumerate(roles):
            if role in roles[:position]:
                add(
                    ("units", index, "contacts", position, "role"),
                    f'a second "{role}" contact; keep one',
                )

    _check_mail_addresses(units, add)
    if _got(header, "mailbox") and header.mailbox is not None:
        _check_mailbox(header.mailbox, add)

    _unique(items["task_lists"], "task_lists", "kind", "task list kind", add, locate)
    _unique(items["tasks"], "tasks", "code", "task code", add, locate)
    for index, task in items["tasks"]:
        _check_task(index, task, header, declared_units, unit_names, declared_lists, add)

    _unique(items["indicators"], "indicators", "code", "indicator code", add, locate)
    for index, indicator in items["indicators"]:
        _check_indicator(index, indicator, declared_units, unit_names, add)


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _check_mailbox(mailbox: MailboxSpec, add: Callable[[Path_, str], None]) -> None:
    if mailbox.security == "none" and mailbox.host.lower() not in LOOPBACK_HOSTS:
        add(
            ("mailbox", "security"),
            f'"none" would send the password to {mailbox.host} in clear; use tls or starttls '
            '("none" is for a mail server on this machine only)',
        )
    if mailbox.folder == mailbox.processed:
        add(
            ("mailbox", "processed"),
            f'is the folder read ("{mailbox.folder}"); name another folder for the mail taken',
        )


def _check_mail_addresses(units: list[tuple[int, Any]], add: Callable[[Path_, str], None]) -> None:
    """One address, one unit: a mail from an address two units share could be either's."""
    owners: dict[str, str] = {}
    for index, unit in units:
        places: list[tuple[Path_, str]] = [
            (("units", index, "contacts", position, "email"), contact.email)
            for position, contact in enumerate(unit.contacts)
            if contact.email
        ]
        places += [
            (("units", index, "mail_from", position), address)
            for position, address in enumerate(unit.mail_from)
        ]
        for path, address in places:
            owner = owners.setdefault(address, unit.code)
            if owner != unit.code:
                add(
                    path,
                    f"{address} is also unit {owner}'s; an address belongs to one unit, or "
                    "the mail from it could be either's",
                )


SECRET_HEADERS = re.compile(r"authorization|token|key|secret|password|cookie", re.IGNORECASE)
ENVIRONMENT_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def _check_source(here: Path_, source: Any, add: Callable[[Path_, str], None]) -> None:
    if not isinstance(source, HttpSourceSpec):
        return
    parts = urlsplit(source.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        add((*here, "url"), "not an http:// or https:// URL")
    for position, target in enumerate(source.allow_redirects_to):
        allowed = urlsplit(target)
        if (
            allowed.scheme not in ("http", "https")
            or not allowed.hostname
            or allowed.username
            or allowed.password
            or allowed.path not in ("", "/")
            or allowed.query
            or allowed.fragment
            or not _has_valid_port(allowed)
        ):
            add(
                (*here, "allow_redirects_to", position),
                f"{_show(target)} is not an origin; write the scheme, host and port only, "
                "e.g. https://files.example.gov.cn:8443",
            )
    if parts.username or parts.password:
        add(
            (*here, "url"),
            "has a user name or password in it; put credentials in a header that names an "
            "environment variable, e.g. Authorization: Bearer ${UNIT_TOKEN}",
        )
    for name, value in source.headers.items():
        if SECRET_HEADERS.search(name) and not ENVIRONMENT_REFERENCE.search(value):
            add(
                (*here, "headers", name),
                "holds a secret in the file; name an environment variable instead, "
                "e.g. Bearer ${UNIT_TOKEN}",
            )


def _has_valid_port(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018  reading it checks it
    except ValueError:
        return False
    return True


def _check_task(
    index: int,
    task: TaskSpec,
    header: ProgramHeader | None,
    units: set[str],
    unit_names: dict[str, str],
    lists: set[str],
    add: Callable[[Path_, str], None],
) -> None:
    here: Path_ = ("tasks", index)
    if _got(task, "list_kind") and task.list_kind.value not in lists:
        add(
            (*here, "list"),
            f'task list "{task.list_kind.value}" is not declared; add it under task_lists',
        )
    if _got(task, "lead_unit") and task.lead_unit not in units:
        add((*here, "lead_unit"), _unknown_unit(task.lead_unit, unit_names))
    lead = task.lead_unit if _got(task, "lead_unit") else None
    for position, co_unit in enumerate(task.co_units if _got(task, "co_units") else []):
        where = (*here, "co_units", position)
        if co_unit not in units:
            add(where, _unknown_unit(co_unit, unit_names))
        elif co_unit == lead:
            add(where, f'"{co_unit}" is the lead unit; a unit cannot also be its own co-unit')
        elif co_unit in task.co_units[:position]:
            add(where, f'"{co_unit}" is listed twice')
    if _got(task, "start", "due") and task.due < task.start:
        add((*here, "due"), f"{task.due} is before the start {task.start}")
    if _got(task, "start") and _got(header, "start") and task.start < header.start:
        add((*here, "start"), f"{task.start} is before the program starts ({header.start})")
    if _got(task, "due") and _got(header, "end") and task.due > header.end:
        add((*here, "due"), f"{task.due} is after the program ends ({header.end})")
    if not _got(task, "start", "due", "milestones") or task.due < task.start:
        return  # with the task's own dates wrong, every milestone would look wrong too
    previous: MilestoneSpec | None = None
    for position, milestone in enumerate(task.milestones):
        where = (*here, "milestones", position)
        if not task.start <= milestone.planned_on <= task.due:
            add(
                (*where, "date"),
                f"{milestone.planned_on} is outside the task's dates ({task.start} to {task.due})",
            )
        if previous is not None:
            if milestone.planned_on <= previous.planned_on:
                add(
                    (*where, "date"),
                    f"{milestone.planned_on} is not after the previous milestone "
                    f"({previous.planned_on}); list milestones in date order",
                )
            if milestone.percent < previous.percent:
                add(
                    (*where, "percent"),
                    f"{_number(milestone.percent)} is below the previous milestone's "
                    f"{_number(previous.percent)}; planned percent cannot go down",
                )
        previous = milestone


def _check_indicator(
    index: int,
    indicator: IndicatorSpec,
    units: set[str],
    unit_names: dict[str, str],
    add: Callable[[Path_, str], None],
) -> None:
    here: Path_ = ("indicators", index)
    if _got(indicator, "owner") and indicator.owner not in units:
        add((*here, "owner"), _unknown_unit(indicator.owner, unit_names))
    if not _got(indicator, "baseline", "target", "direction"):
        return
    baseline, target = indicator.baseline, indicator.target
    if counts(indicator.measure):
        for part, value in (("baseline", baseline.value), ("target", target.value)):
            if value < 0:
                add(
                    (*here, part, "value"),
                    f"{_number(value)} is negative, but {indicator.measure} counts something",
                )
    if target.year < baseline.year:
        add((*here, "target", "year"), f"{target.year} is before the baseline year {baseline.year}")
    if indicator.direction is Direction.INCREASE and target.value < baseline.value:
        add(
            (*here, "target", "value"),
            f"{_number(target.value)} is below the baseline {_number(baseline.value)}, "
            "but direction is increase; check the value or set direction: decrease",
        )
    if indicator.direction is Direction.DECREASE and target.value > baseline.value:
        add(
            (*here, "target", "value"),
            f"{_number(target.value)} is above the baseline {_number(baseline.value)}, "
            "but direction is decrease; check the value or set direction: increase",
        )


def _unknown_unit(reference: str, unit_names: dict[str, str]) -> str:
    if reference in unit_names:
        return f'unknown unit "{reference}"; name units by their code ("{unit_names[reference]}")'
    return f'unknown unit "{reference}"'


def _unique(
    items: Iterable[tuple[int, Any]],
    section: str,
    key: str,
    what: str,
    add: Callable[[Path_, str], None],
    locate: Locator,
) -> None:
    first: dict[str, int] = {}
    for index, item in items:
        if not _got(item, key):
            continue
        value = str(getattr(item, key))
        if value in first:
            add(
                (section, index, key),
                f'{what} "{value}" is used twice (also at {locate((section, first[value]))}); '
                "each must be different",
            )
        else:
            first[value] = index


def _declared(entries: Any, key: str) -> set[str]:
    if not isinstance(entries, list):
        return set()
    return {
        str(entry[key]).strip()
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get(key), str | int)
    }


def _kind_of(value: Any) -> str:
    return {list: "list", dict: "mapping", str: "text"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: float) -> str:
    return f"{value:g}"
