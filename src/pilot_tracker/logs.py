"""What a long-running command shows on the terminal: one line per problem, details in a file.

``pilot-tracker serve`` sends every log record (Prefect's, the flows') in full to its log
file, and a warning or an error also as one line on the terminal through
:class:`OneLineFormatter`, in this process and in the flow runs it starts (Prefect loads
the formatter by name from a logging configuration, so it lives in the installed package).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path


class OneLineFormatter(logging.Formatter):
    """``error: <logger>: <first line of the message> (details: <log file>)``; no traceback."""

    def __init__(self, log_file: str = "", **_: object) -> None:
        super().__init__()
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # a record with bad arguments still says where it came from
            message = str(record.msg)
        lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
        first = lines[0] if lines else ""
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            reason = (str(error).strip().splitlines() or [""])[0]
            first = f"{first} ({type(error).__name__}: {reason})".strip()
        if len(first) > 300:
            first = first[:297] + "..."
        level = "error" if record.levelno >= logging.ERROR else "warning"
        where = f" (details: {self.log_file})" if self.log_file else ""
        return f"{level}: {record.name}: {first}{where}"


@contextlib.contextmanager
def to_file(path: Path, name: str = "pilot_tracker") -> Iterator[Path]:
    """For the block, the records of logger ``name`` go in full (tracebacks too) to the end
    of ``path``; with no other handler configured, none reach the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        handler.close()
