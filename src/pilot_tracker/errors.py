"""The exception tree. Every error a user can see is one of these.

    PilotTrackerError                 anything the user can act on; one clear line
    ├── ConfigurationError            settings or environment are wrong
    ├── DatabaseError                 the database cannot be reached or is not initialised
    ├── CalendarError                 the installation's calendar: a year cannot be
    │   │                             entered, replaced or retired
    │   └── NoticeError               a holiday notice was not understood; names the
    │                                 sentence, and nothing is stored
    ├── ServeError                    `serve` could not start or reach its Prefect server
    ├── EarlierDayError               a run for a day before the latest one on record
    │                                 (flags, escalations) would rewrite later history;
    │                                 nothing was written
    └── LedgerError                   the ledger (programs, units, tasks, indicators)
        ├── ProgramFileError          a program file or ledger workbook is invalid;
        │                             carries every problem found, each with its place
        └── NotFoundError             a program or unit code that is not in the ledger

A message says what was wrong, where (file, sheet, row, column, key) and what to do.
An input refused whole (ProgramFileError, NoticeError) is also a ``Refusal``: it carries
every ``Problem`` found, each with its place, and the CLI prints one line per problem.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file, with where it is."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


class PilotTrackerError(Exception):
    """Base class of every error a user can act on."""


class ConfigurationError(PilotTrackerError):
    """A setting or the environment is wrong."""


class DatabaseError(PilotTrackerError):
    """The database cannot be reached, or its schema is not the one this version needs."""


class CalendarError(PilotTrackerError):
    """A year of the calendar cannot be entered, replaced or retired as asked."""


class Refusal(PilotTrackerError):
    """An input refused whole: ``problems`` lists every reason, each with its place."""

    outcome = "nothing was written"

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: refused, {count} {noun}; {self.outcome}")


class NoticeError(Refusal, CalendarError):
    """A holiday notice (or its YAML/CSV form) was refused; ``problems`` lists why."""

    outcome = "nothing was stored"


class ServeError(PilotTrackerError):
    """``serve`` could not start its Prefect server, or the server stopped under it."""


class EarlierDayError(PilotTrackerError):
    """A writing run, or a hand-made close, dated before what the record already holds."""


class LedgerError(PilotTrackerError):
    """Something about the ledger itself is wrong."""


class NotFoundError(LedgerError):
    """A code that the ledger does not hold."""


class ProgramFileError(Refusal, LedgerError):
    """A program file or ledger workbook was refused; ``problems`` lists every reason."""
