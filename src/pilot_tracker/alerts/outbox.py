"""The notification outbox: a message is written, with a dedup key, in the same transaction
as the change that causes it; delivery reads the outbox later.

Messages are Jinja2 templates in ``templates/alerts/``. A template renders its subject on
the first line, a blank line, then the body. HTML templates are autoescaped.

A message to a unit's liaison or head carries the unit's personal link (``Templates.link``,
given to the template as ``link``); the link is a bearer secret for that one unit, so it
goes only into messages whose target is that unit, never into a copy for the office.
A body is markup-free when it is written (its values ``neutralise``d), so a digest takes
the bodies as they are: the link's token keeps its ``_``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from pilot_tracker.ledger.links import Link, Links
from pilot_tracker.ledger.program_file import short_name
from pilot_tracker.models import Notification, Program, Unit

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


class Verbatim(str):
    """Text of our own making that must reach the reader exactly as it is (a link's
    address, whose token may hold ``_``): ``neutralise`` leaves it alone."""


def neutralise(value: Any) -> Any:
    """Text that no HTML or Markdown renderer will read as markup, still readable."""
    if isinstance(value, Verbatim) or not isinstance(value, str):
        return value
    return value.translate(_MARKUP)


def liaison_of(unit_code: str) -> str:
    """The routing target of a unit's liaison: the Apprise tags it must carry."""
    return f"unit:{unit_code} role:liaison"


class Templates:
    """The message templates of a ``templates/`` folder, and the issuer of the units'
    personal links the messages carry (``None``: messages without a link)."""

    def __init__(self, folder: Path, links: Links | None = None):
        self.links = links
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

    def link(self, *, program: Program, unit: Unit, now: datetime) -> dict[str, str] | None:
        """The unit's personal link for a message to it, as its templates show it: the
        address and the day it stops working (in the program's time zone); ``None`` without
        an issuer. Only for a message whose target is that unit."""
        if self.links is None:
            return None
        return link_context(self.links.issue(program=program, unit=unit, now=now), program)


def link_context(link: Link, program: Program) -> dict[str, str]:
    """A link as a template shows it: ``url`` (verbatim) and ``expires``
    (2021年6月2日, the day it stops working, in the program's time zone)."""
    day = link.expires.astimezone(ZoneInfo(program.timezone)).date()
    return {"url": Verbatim(link.url), "expires": chinese_date(day)}


def chinese_date(day: date) -> str:
    """A day as a message says it: 2021年6月2日."""
    return f"{day.year}年{day.month}月{day.day}日"


def tell_liaison(
    *,
    session: Session,
    templates: Templates,
    template: str,
    program: Program,
    unit: Unit,
    dedup_key: str,
    now: datetime,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Notification | None:
    """Queue a message of ``template`` to the unit's liaison, with the unit's personal link
    and the program's short name in its context; once per ``dedup_key``. ``headers``: see
    :func:`enqueue`."""
    subject, body = templates.render(
        template,
        program=program,
        short=short_name(program.name),
        unit=unit,
        link=templates.link(program=program, unit=unit, now=now),
        **context,
    )
    return enqueue(
        session=session,
        program_id=program.id,
        dedup_key=dedup_key,
        target=liaison_of(unit.code),
        subject=subject,
        body=body,
        now=now,
        headers=headers,
    )


def queued(*, session: Session, dedup_key: str) -> bool:
    """Whether a message with this dedup key is in the outbox already."""
    return (
        session.exec(select(Notification.id).where(Notification.dedup_key == dedup_key)).first()
        is not None
    )


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
    headers: dict[str, str] | None = None,
) -> Notification | None:
    """Add a message to the outbox unless one with the same dedup key is already there.

    ``headers`` are mail headers of a message that answers a unit's mail (In-Reply-To,
    References): it is sent alone, never in a digest, so it threads under that mail."""
    if queued(session=session, dedup_key=dedup_key):
        return None
    notification = Notification(
        program_id=program_id,
        dedup_key=dedup_key[:200],
        target=target,
        subject=subject[:300],
        body=body,
        attachments=attachments or [],
        headers=headers or {},
        created_at=now,
        next_attempt_at=now,
    )
    session.add(notification)
    return notification
