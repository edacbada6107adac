"""A unit's personal link (专属链接) to its page on the portal.

A link is the portal's address, ``/u/``, and a token signed with the installation's key
(itsdangerous, HMAC-SHA256, compared in constant time). The token says which program and
unit it opens, the version of the unit's links it was issued under, and when it expires.
The database keeps no secret: only each unit's ``link_version``; revoking a unit's links
raises it, and every link issued before stops working at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, select

from pilot_tracker.errors import LinkExpired, LinkInvalid, LinkRevoked, NotFoundError
from pilot_tracker.models import Program, Unit

# Binds a signature to this use of the key: a token signed for anything else never opens
# a unit's page.
_SALT = "pilot-tracker unit link v1"
PATH = "/u/"
# The longest token taken at all; anything longer is refused before it is verified.
MAX_TOKEN = 200


@dataclass(frozen=True)
class Link:
    program: str
    unit: str
    url: str
    expires: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "unit": self.unit,
            "url": self.url,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True)
class Opened:
    """What a valid link opens: the program and the unit, as stored now."""

    program: Program
    unit: Unit
    expires: datetime


class Links:
    """Issues and reads personal links with one key, for one public address."""

    def __init__(self, secret: str, public_url: str, days: int = 90):
        self._secret = secret
        self._serializer = URLSafeSerializer(
            secret, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.public_url = public_url.rstrip("/")
        self.days = days

    def __reduce__(self) -> tuple[type[Links], tuple[str, str, int]]:
        # Handed to another process (the demo's players) as the same key and address.
        return (Links, (self._secret, self.public_url, self.days))

    def issue(self, *, program: Program, unit: Unit, now: datetime) -> Link:
        """A link for the unit, valid ``days`` from ``now``."""
        expires = (now.astimezone(UTC) + timedelta(days=self.days)).replace(microsecond=0)
        token = self._serializer.dumps(
            [unit.program_id, unit.id, unit.link_version, int(expires.timestamp())]
        )
        return Link(program.code, unit.code, f"{self.public_url}{PATH}{token}", expires)

    def read(self, *, session: Session, token: str, now: datetime) -> Opened:
        """The program and unit a token opens; ``LinkInvalid``, ``LinkRevoked`` or
        ``LinkExpired`` (messages in Chinese, for the page) if it opens nothing."""
        if not token or len(token) > MAX_TOKEN:
            raise LinkInvalid("链接不完整或已被改动，无法打开。请使用通知中的完整链接。")
        try:
            program_id, unit_id, version, expires_at = self._serializer.loads(token)
            expires = datetime.fromtimestamp(int(expires_at), UTC)
        except (BadSignature, TypeError, ValueError, OverflowError, OSError):
            raise LinkInvalid("链接不完整或已被改动，无法打开。请使用通知中的完整链接。") from None
        unit = session.get(Unit, unit_id) if isinstance(unit_id, int) else None
        program = session.get(Program, program_id) if isinstance(program_id, int) else None
        if unit is None or program is None or unit.program_id != program.id:
            raise LinkInvalid("该链接对应的单位已不在试点名单中，请与试点工作专班联系。")
        if version != unit.link_version:
            raise LinkRevoked("该链接已停用，请使用最新通知中的链接，或与试点工作专班联系。")
        if now >= expires:
            raise LinkExpired(
                f"该链接已于{expires.date().isoformat()}过期，请与试点工作专班联系获取新链接。"
            )
        return Opened(program, unit, expires)

    def for_units(
        self, *, session: Session, program: Program, now: datetime, unit: str | None = None
    ) -> list[Link]:
        """The links of a program's units (or of one), in the ledger's order."""
        return [
            self.issue(program=program, unit=row, now=now)
            for row in program_units(session=session, program=program, unit=unit)
        ]


def program_units(*, session: Session, program: Program, unit: str | None = None) -> list[Unit]:
    query = select(Unit).where(Unit.program_id == program.id)
    if unit is not None:
        query = query.where(Unit.code == unit)
    rows = list(session.exec(query.order_by(col(Unit.position), col(Unit.id))).all())
    if unit is not None and not rows:
        raise NotFoundError(
            f'no unit "{unit}" in program {program.code}; '
            f"see `pilot-tracker program show {program.code}`"
        )
    return rows


def revoke(*, session: Session, program: Program, unit: str) -> Unit:
    """Stop every link of the unit issued so far; a link issued after works."""
    (row,) = program_units(session=session, program=program, unit=unit)
    row.link_version += 1
    session.add(row)
    return row
