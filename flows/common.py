"""What every flow does, in one place: the settings, an engine on the database at the
current schema (disposed when the run ends), and a program's today; which failures a task
may retry; and how a run logs an error of the tree (errors.py) and a bug."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import PilotTrackerError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.links import Links
from pilot_tracker.settings import Settings


class OneLineForTheTree(logging.Filter):
    """An error of the tree (a refused day, a program not on record) is a message for the
    office, not a fault: the run logs it as one line, without its traceback, and ends
    Failed with that line. Anything else is a bug, logged with its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PilotTrackerError):
            record.exc_info = None
            record.exc_text = None
        return True


# Where Prefect logs what a flow or task run raised (to the terminal and to the API).
for _name in ("prefect.flow_runs", "prefect.task_runs"):
    logging.getLogger(_name).addFilter(OneLineForTheTree())


@dataclass(frozen=True)
class Opened:
    """The settings and the database a run works with."""

    settings: Settings
    engine: Engine

    def session(self) -> contextlib.AbstractContextManager[Session]:
        """A session whose transaction commits when the block ends (``db.session``)."""
        return db.session(self.engine)

    @property
    def links(self) -> Links:
        """The issuer of the units' personal links, which their messages carry."""
        return self.settings.link_issuer()

    @property
    def templates(self) -> outbox.Templates:
        """The message templates (templates/alerts) of this installation, with the links."""
        return outbox.Templates(self.settings.templates, links=self.links)

    def timezone(self, program: str) -> str:
        with self.session() as session:
            return store.get_program(session=session, code=program).timezone

    def today(self, program: str) -> date:
        """Today in the program's time zone."""
        return datetime.now(ZoneInfo(self.timezone(program))).date()


@contextlib.contextmanager
def opened() -> Iterator[Opened]:
    """The settings and an engine on the database at the current schema; the engine's
    connections are closed when the block ends, however it ends."""
    settings = Settings()
    engine = db.make_engine(settings.resolved_database_url)
    try:
        db.ensure_current(engine)
        yield Opened(settings, engine)
    finally:
        engine.dispose()


def retry_on(*kinds: type[BaseException]) -> Callable[[Any, Any, Any], bool]:
    """A task's ``retry_condition_fn``: retry only what ``kinds`` names (a source that is
    down); a bug or a refusal would fail the same way again, so it fails at once."""

    def condition(task: Any, task_run: Any, state: Any) -> bool:
        return isinstance(getattr(state, "data", None), kinds)

    return condition
