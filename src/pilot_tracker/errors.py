"""The exception tree. Every error a user can see is one of these.

    PilotTrackerError                 anything the user can act on; one clear line, exit 1
    ├── ConfigurationError            settings, the environment, or a file or folder they
    │                                 name is wrong or cannot be used (exit 3)
    ├── DatabaseError                 the database cannot be reached or is not initialised
    │                                 (exit 4)
    ├── BoundError                    a file refused unread by its bounds, before it is
    │   │                             parsed; the caller reports it as a Problem of its own
    │   ├── YamlBoundError            YAML with an alias, too deep, or too many values
    │   ├── ZipRefused                an .xlsx whose zip archive declares too much
    │   ├── BodyTooLarge              a request to the portal grew past its route's bound
    │   │                             while it was read (answered 413)
    │   └── UndecodableText           bytes that are not UTF-8, UTF-16 or GB18030 text
    ├── LedgerError                   the ledger (programs, units, tasks, indicators)
    │   ├── ProgramFileError          a program file or ledger workbook is invalid;
    │   │                             carries every problem found, each with its place
    │   └── PracticeFileError         a district's account of its practice is refused
    │       └── AccountRefused        ... for its text, with what and where (the board's
    │                                 Chinese)
    ├── NotFoundError                 a code or number that is not on record: a program,
    │                                 a unit, a message, an escalation
    ├── SourceError                   a unit's source (inbox folder, HTTP address)
    │   └── SourceUnavailable         could not be read this time: the unit is unavailable
    │       └── SourceRefused         leads where the program file does not allow; no
    │                                 retry helps, the program file must change
    ├── SubmissionError               what a unit sent cannot be taken in; the message
    │   │                             (Chinese) is for the unit's liaison
    │   ├── PayloadError              the file as a whole
    │   ├── MailRefused               a mail refused whole (too large, too many parts
    │   │                             or attachments, nested too deep)
    │   └── CellError                 one cell (also a ValueError, for validators)
    ├── MailError                     a held file of a mail cannot be released as asked
    ├── ArchiveError                  an archived copy is gone, or not what was received
    ├── EscalationError               an escalation cannot be closed as asked
    ├── CalendarError                 the installation's calendar: a year cannot be
    │   │                             entered, replaced or retired
    │   └── NoticeError               a holiday notice was not understood; names the
    │                                 sentence, and nothing is stored
    ├── EarlierDayError               a run for a day before the latest one on record
    │                                 (flags, escalations) would rewrite later history;
    │                                 nothing was written
    ├── ReportError                   a report cannot be made as asked (a period that
    │                                 does not exist, no Chinese font for the PDF)
    ├── LinkError                     a unit's personal link does not open its page
    │   ├── LinkInvalid               not a link we signed (tampered, cut short, forged)
    │   ├── LinkExpired               signed, but past its expiry day
    │   └── LinkRevoked               signed, but the unit's links were revoked since
    ├── AnswerError                   a unit's answer through its page cannot be taken
    │   │                             (a dispute without a reason, a notice of another
    │   │                             unit, an extension to an earlier day); the message
    │   │                             (Chinese) is for the liaison
    │   └── AnswerNotFound            it names what is not the unit's own (another unit's
    │                                 notice, a statement never written): a 404 page
    ├── ExtensionError                an extension request cannot be decided as asked
    │                                 (already decided, a rejection without a note)
    ├── AccountError                  a board account cannot be added or changed as asked
    │                                 (a name taken, a password too short, no program)
    ├── BoardError                    the office's action on the board cannot be taken
    │   │                             (an outcome without a date, a reply too long); the
    │   │                             message (Chinese) is for the office, at its field
    │   ├── SignInRefused             a name and password that open nothing (wrong, or
    │   │                             locked out: the same words for every case)
    │   ├── SignInNeeded              a board page asked for without a live session:
    │   │                             answered by the login page
    │   └── BoardNotFound             a page or file of a program the account may not see,
    │                                 or not on record: a 404 page
    ├── ProgramsFailed                a run over every program (supervise-all, ...)
    │                                 finished, but the runs of the programs it names
    │                                 failed; each failure is on record for `status`
    ├── DemoError                     the demo cannot be played into the folder given
    └── ServeError                    `serve` could not start or reach its Prefect server

A message says what was wrong, where (file, sheet, row, column, key) and what to do.
An input refused whole (ProgramFileError, PracticeFileError, NoticeError) is also a
``Refusal``: it carries every ``Problem`` found, each with its place, and the CLI prints
one line per problem.

Entry points map the tree to what a user sees in one place each: :func:`exit_code` gives
the command's exit code (the table in docs/operations.md); anything else is a bug, shown
as one line that names the log holding its traceback, with exit code ``EXIT_BUG``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

# Exit codes of the ``pilot-tracker`` command (docs/operations.md).
EXIT_OK = 0
EXIT_ERROR = 1  # a PilotTrackerError, or a finding that needs someone (status, collect)
EXIT_USAGE = 2  # a command line that does not parse (click's own)
EXIT_CONFIGURATION = 3  # settings, environment, files or folders they name
EXIT_DATABASE = 4  # the database cannot be reached, or is not at this version's schema
EXIT_BUG = 70  # a fault of pilot-tracker itself (sysexits' EX_SOFTWARE)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file, with where it is."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


class PilotTrackerError(Exception):
    """Base class of every error a user can act on."""

    exit_code: ClassVar[int] = EXIT_ERROR


class ConfigurationError(PilotTrackerError):
    """A setting or the environment is wrong."""

    exit_code = EXIT_CONFIGURATION


class DatabaseError(PilotTrackerError):
    """The database cannot be reached, or its schema is not the one this version needs."""

    exit_code = EXIT_DATABASE


class BoundError(PilotTrackerError):
    """A file refused unread by its bounds (size, nesting, what its archive declares)."""


class YamlBoundError(BoundError):
    """YAML that is refused unread: an alias, or more nesting or values than allowed."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class UndecodableText(BoundError, ValueError):
    """The bytes are not text in any encoding the text policy reads (``text.py``);
    ``start`` is the first byte that is not."""

    def __init__(self, start: int):
        super().__init__(f"not UTF-8, UTF-16 or GBK text (byte {start})")
        self.start = start


class ZipRefused(BoundError):
    """An .xlsx refused by what its zip archive declares; ``bound`` names the check
    (``broken``, ``entries``, ``uncompressed``, ``ratio``, ``part``, ``styles`` or
    ``shared_strings``)."""

    def __init__(self, bound: str):
        super().__init__(bound)
        self.bound = bound


class BodyTooLarge(BoundError):
    """A request body without a Content-Length grew past its route's bound while it was
    read; the portal answers it with its 413 page."""

    def __init__(self, limit: int):
        super().__init__(f"the request body is over {limit} bytes")
        self.limit = limit


class Refusal(PilotTrackerError):
    """An input refused whole: ``problems`` lists every reason, each with its place."""

    outcome = "nothing was written"

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: refused, {count} {noun}; {self.outcome}")


class LedgerError(PilotTrackerError):
    """Something about the ledger itself is wrong."""


class ProgramFileError(Refusal, LedgerError):
    """A program file or ledger workbook was refused; ``problems`` lists every reason."""


class PracticeFileError(Refusal, LedgerError):
    """A district office's account of its practice (经验做法) was refused; ``problems``
    lists every reason."""


class AccountRefused(PracticeFileError):
    """An account's text refused, with its ``findings`` (``ledger/practice.Finding``: what
    is wrong, and where), which the board says in Chinese."""

    def __init__(self, source: str, problems: list[Problem], findings: list[Any]):
        super().__init__(source, problems)
        self.findings = findings


class NotFoundError(PilotTrackerError):
    """A code or number that is not on record."""


class SourceError(PilotTrackerError):
    """A unit's source could not be read as declared."""


class SourceUnavailable(SourceError):
    """The source could not be read this time (down, timing out, refusing); try next run."""


class SourceRefused(SourceUnavailable):
    """The source leads where the program file does not allow (an address off the public
    internet, a redirect to another origin); retrying will not help, the file must change."""


class SubmissionError(PilotTrackerError):
    """What a unit sent cannot be taken in; the message is for the unit's liaison."""


class PayloadError(SubmissionError):
    """The payload as a whole cannot be read; the message is for the unit's liaison."""


class MailRefused(SubmissionError):
    """A mail from the office's mailbox refused whole, unread; ``reason`` (Chinese) is for
    the receipt and the office: what was wrong and what to do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CellError(SubmissionError, ValueError):
    """One cell cannot be read; the message (for the liaison) says what to write instead.
    A ``ValueError`` too, so a pydantic validator that reads a cell may let it through."""


class MailError(PilotTrackerError):
    """A held file of a mail cannot be released as the office asked."""


class ArchiveError(PilotTrackerError):
    """An archived copy cannot be given back: ``gone`` (missing, unreadable, or a record
    pointing outside the archive), else its bytes are not those received (sha256)."""

    def __init__(self, message: str, *, gone: bool):
        super().__init__(message)
        self.gone = gone


class EscalationError(PilotTrackerError):
    """An escalation cannot be closed as asked (already closed, no outcome given)."""


class CalendarError(PilotTrackerError):
    """A year of the calendar cannot be entered, replaced or retired as asked."""


class NoticeError(Refusal, CalendarError):
    """A holiday notice (or its YAML/CSV form) was refused; ``problems`` lists why."""

    outcome = "nothing was stored"


class EarlierDayError(PilotTrackerError):
    """A writing run, or a hand-made close, dated before what the record already holds."""


class ReportError(PilotTrackerError):
    """A report cannot be made as asked (a period that does not exist, a missing font)."""


class LinkError(PilotTrackerError):
    """A unit's personal link does not open its page; the message (Chinese) says why."""


class LinkInvalid(LinkError):
    """Not a link pilot-tracker signed: tampered with, cut short, or made up."""


class LinkExpired(LinkError):
    """A link pilot-tracker signed, past its expiry day."""


class LinkRevoked(LinkError):
    """A link pilot-tracker signed, of a unit whose links were revoked since."""


class AnswerError(PilotTrackerError):
    """A unit's answer through its page cannot be taken; the message (Chinese) is for the
    liaison, and ``field`` names the form field it belongs to, if one."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class AnswerNotFound(AnswerError, NotFoundError):
    """What a unit's answer names is not its own, or not on record (another unit's notice,
    a quarter whose statement was never written); the portal answers 404, nothing is
    written."""


class ExtensionError(PilotTrackerError):
    """An extension request (延期申请) cannot be decided as asked: already decided, or a
    rejection without a note for the unit."""


class AccountError(PilotTrackerError):
    """A board account cannot be added or changed as asked: a name taken or malformed, a
    password too short, an unknown role or program."""


class BoardError(PilotTrackerError):
    """The office's action on the board cannot be taken; the message (Chinese) is for the
    office, and ``field`` names the form field it belongs to, if one."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class SignInRefused(BoardError):
    """A name and password that open nothing: a wrong name, a wrong password, a disabled or
    locked-out account all read the same, so that nobody learns which names exist."""


class SignInNeeded(BoardError):
    """A board page asked for without a live session (none, ended, expired, idle): the
    portal answers with the login page, which leads back to ``back`` after signing in."""

    def __init__(self, back: str):
        super().__init__("请先登录。")
        self.back = back


class BoardNotFound(BoardError, NotFoundError):
    """What a board page or download names is not on record, or belongs to a program the
    account may not see: the same 404 page either way."""


class ProgramsFailed(PilotTrackerError):
    """A run over every program finished, but the runs of the programs it names failed (the
    others completed); each program's failure is on record, so ``status`` shows it."""


class DemoError(PilotTrackerError):
    """The demo cannot be played into the folder given."""


class ServeError(PilotTrackerError):
    """``serve`` could not start its Prefect server, or the server stopped under it."""


def exit_code(error: BaseException) -> int:
    """The exit code of a command that ended with ``error``: the class's own for the tree,
    ``EXIT_CONFIGURATION`` for the operating system refusing (a file, a folder, a
    permission), ``EXIT_BUG`` for anything else."""
    if isinstance(error, PilotTrackerError):
        return error.exit_code
    if isinstance(error, OSError):
        return EXIT_CONFIGURATION
    return EXIT_BUG
