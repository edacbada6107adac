"""The notification outbox: a message is written, with a dedup key, in the same transaction
as the change that causes it; delivery reads the outbox later.

Messages are Jinja2 templates in ``templates/alerts/``. A template renders its subject on
the first line, a blank line, then the body. HTML templates are autoescaped.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from pilot_tracker.models import Notification

_MARKUP = str.maketrans(
    {
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "[": "［",
        "]": "］",
        "|": "｜",
        "~": "～",
    }
)


def neutralise(value: Any) -> Any:
    """Text that no HTML or Markdown renderer will read as markup, still readable."""
    return value.translate(_MARKUP) if isinstance(value, str) else value


def liaison_of(unit_code: str) -> str:
    """The routing target of a unit's liaison: the Apprise tags it must carry."""
    return f"unit:{unit_code} role:liaison"


class Templates:
    """The message templates of a ``templates/`` folder."""

    def __init__(self, folder: Path):
        # imported here: the commands that only read reach this module, never a template
        from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

        self.environment = Environment(
            loader=FileSystemLoader(folder),
            autoescape=select_autoescape(
                enabled_extensions=("html", "htm", "xml"), default_for_string=True, default=True
            ),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Plain-text messages are not HTML, and "&lt;" would puzzle a reader; but they may
        # be shown by a chat app that renders Markdown or HTML. So every value put into a
        # text template has its markup characters turned into their full-width forms.
        self.text = self.environment.overlay(autoescape=False, finalize=neutralise)

    def render(self, name: str, **context: Any) -> tuple[str, str]:
        """(subject, body) of a message template."""
        environment = self.text if name.endswith(".txt.j2") else self.environment
        text = environment.get_template(name).render(**context)
        subject, _, body = text.partition("\n\n")
        return " ".join(subject.split()), body.strip() + "\n"


def enqueue(
    *,
    session: Session,
    program_id: int | None,
    dedup_key: str,
    target: str,
    subject: str,
    body: str,
    now: datetime,
    attachments: list[str] | None = None,
) -> Notification | None:
    """Add a message to the outbox unless one with the same dedup key is already there."""
    existing = session.exec(select(Notification).where(Notification.dedup_key == dedup_key)).first()
    if existing is not None:
        return None
    notification = Notification(
        program_id=program_id,
        dedup_key=dedup_key[:200],
        target=target,
        subject=subject[:300],
        body=body,
        attachments=attachments or [],
        created_at=now,
        next_attempt_at=now,
    )
    session.add(notification)
    return notification
