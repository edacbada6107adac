"""The personal link a message carries: found in its text, and opened as the portal would."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa

from pilot_tracker import db
from pilot_tracker.ledger.links import PATH, Links

SECRET = "s" * 48
PUBLIC_URL = "https://pilot.example.org"
LINKS = Links(SECRET, PUBLIC_URL, 90)
_LINK = re.compile(re.escape(PUBLIC_URL + PATH) + r"([A-Za-z0-9_.\-]+)")


def links_in(text: str) -> list[str]:
    """The tokens of every personal link in a text."""
    return _LINK.findall(text)


def opened_by(engine: sa.Engine, text: str, now: datetime) -> list[str]:
    """The units the links in a text open (``Links.read``, as the portal reads them)."""
    with db.session(engine) as session:
        return [
            LINKS.read(session=session, token=token, now=now).unit.code for token in links_in(text)
        ]
