"""The board's accounts: the office (专班) and leaders (领导) sign in with a name and a
password; units keep their personal links.

- **Passwords** are hashed with Argon2id (argon2-cffi, RFC 9106's low-memory profile);
  only the hash is stored, and an old hash is upgraded at the next sign-in.
- **Sign-in** answers the same words, after the same work (one Argon2 verification), for a
  wrong name, a wrong password, a disabled account and a locked-out name: nobody learns
  which names exist.
- **Lock-out**: ``MAX_FAILURES`` failed sign-ins of one name within ``LOCK_MINUTES`` lock
  that name for ``LOCK_MINUTES``, whether an account has it or not (``LoginThrottle``
  keeps the name's sha256 only: a name typed may be a password).
- **Sessions** live in the database (``LoginSession``): the browser's cookie holds a random
  token, the table its sha256. A session ends at logout, when its account is disabled,
  after ``hours``, or after ``idle`` minutes without a request; a replayed cookie then
  opens nothing.
- **Who sees what**: an account sees the programs it was given (``AccountProgram``); a
  leader reads them, the office also acts on them (``Viewer.can_act``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import argon2
from sqlmodel import Session, col, delete, select

from pilot_tracker import db
from pilot_tracker.errors import AccountError, NotFoundError, SignInRefused
from pilot_tracker.models import (
    Account,
    AccountProgram,
    AccountRole,
    LoginSession,
    LoginThrottle,
    Program,
)

MIN_PASSWORD = 12  # characters
MAX_PASSWORD = 256  # characters: longer is refused before it is hashed
MAX_NAME = 64
_NAME = re.compile(r"^[\w.@-]+$")
MAX_FAILURES = 5
LOCK_MINUTES = 15
# Sessions are touched at most this often (a write per request would be a write per page).
TOUCH_SECONDS = 60

# The one sentence of every refused sign-in (SignInRefused), in the board's language.
REFUSED = (
    f"用户名或密码不正确。同一用户名连续输错{MAX_FAILURES}次将锁定{LOCK_MINUTES}分钟；"
    "如忘记密码，请联系系统管理员。"
)


class Passwords:
    """Hashing and checking passwords; ``hasher`` is argon2-cffi's (tests pass a cheaper
    one). A hash of a random password stands in for a name without an account, so that
    checking it costs what checking a real one does."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None):
        self.hasher = hasher or argon2.PasswordHasher.from_parameters(
            argon2.profiles.RFC_9106_LOW_MEMORY
        )
        self._stand_in = self.hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def check(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` is the one ``stored`` was made from; with ``stored`` None,
        the same work, and False."""
        try:
            return self.hasher.verify(stored or self._stand_in, password) and stored is not None
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def outdated(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


def normal_name(name: str) -> str:
    """An account's name as it is stored and compared: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- the accounts (users add | list | disable) ----------------------------------------------


@dataclass(frozen=True)
class AccountLine:
    """An account as ``users list`` shows it."""

    name: str
    role: str
    programs: tuple[str, ...]
    disabled: bool
    created_at: datetime | None
    last_sign_in: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "programs": list(self.programs),
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "last_sign_in": self.last_sign_in.isoformat() if self.last_sign_in else None,
        }


def check_password(password: str) -> str:
    """The password as it will be hashed, or AccountError saying what a password needs."""
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is longer than {MAX_PASSWORD} characters")
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"the password has {len(password)} characters; give at least {MIN_PASSWORD}"
        )
    if password.strip() != password or any(unicodedata.category(c) == "Cc" for c in password):
        raise AccountError(
            "the password starts or ends with a space, or holds a control character "
            "(a stray newline?); give it as one line"
        )
    return password


def add(
    *,
    session: Session,
    name: str,
    role: str,
    programs: list[str],
    password: str,
    now: datetime,
    passwords: Passwords,
) -> AccountLine:
    """A new account of ``role`` (office or leader) for ``programs`` (their codes)."""
    normal = normal_name(name)
    if not normal or len(normal) > MAX_NAME or not _NAME.match(normal):
        raise AccountError(
            f"{name!r} is not an account name: give 1 to {MAX_NAME} letters, digits, "
            "'.', '_', '-' or '@' (e.g. office-xiangshan)"
        )
    try:
        chosen = AccountRole(role)
    except ValueError:
        raise AccountError(f'"{role}" is not a role; write office or leader') from None
    if not programs:
        raise AccountError("give the programs the account may see: --program CODE (repeatable)")
    known = {p.code: p for p in session.exec(select(Program).order_by(col(Program.code))).all()}
    unknown = [code for code in programs if code not in known]
    if unknown:
        raise NotFoundError(
            f"no program {', '.join(unknown)}; the programs are: {', '.join(known) or 'none'} "
            "(see `pilot-tracker program list`)"
        )
    if session.exec(select(Account.id).where(Account.name == normal)).first() is not None:
        raise AccountError(f'an account "{normal}" exists already; choose another name')
    account = Account(
        name=normal,
        role=chosen.value,
        password_hash=passwords.hash(check_password(password)),
        created_at=now,
    )
    session.add(account)
    session.flush()
    for code in dict.fromkeys(programs):
        session.add(AccountProgram(account_id=account.id, program_id=known[code].id))  # type: ignore[arg-type]
    session.flush()
    return _line(session, account)


def _codes(session: Session, account_id: int) -> tuple[str, ...]:
    return tuple(
        session.exec(
            select(Program.code)
            .join(AccountProgram, col(AccountProgram.program_id) == Program.id)
            .where(AccountProgram.account_id == account_id)
            .order_by(col(Program.code))
        ).all()
    )


def _line(session: Session, account: Account) -> AccountLine:
    last = session.exec(
        select(LoginSession.created_at)
        .where(LoginSession.account_id == account.id)
        .order_by(col(LoginSession.created_at).desc())
    ).first()
    return AccountLine(
        name=account.name,
        role=account.role,
        programs=_codes(session, account.id or 0),
        disabled=account.disabled,
        created_at=db.stored_moment(account.created_at) if account.created_at else None,
        last_sign_in=db.stored_moment(last) if last else None,
    )


def listed(*, session: Session) -> list[AccountLine]:
    """Every account, by name."""
    return [
        _line(session, account)
        for account in session.exec(select(Account).order_by(col(Account.name))).all()
    ]


def _account(session: Session, name: str) -> Account:
    account = session.exec(select(Account).where(Account.name == normal_name(name))).first()
    if account is None:
        raise NotFoundError(f'no account "{name}"; see `pilot-tracker users list`')
    return account


def disable(*, session: Session, name: str, now: datetime) -> AccountLine:
    """Disable an account: it cannot sign in, and its open sessions end now."""
    account = _account(session, name)
    account.disabled = True
    session.add(account)
    _end_sessions(session, account, now)
    session.flush()
    return _line(session, account)


def set_password(
    *, session: Session, name: str, password: str, now: datetime, passwords: Passwords
) -> AccountLine:
    """A new password for an account (forgotten, or given away): its open sessions end,
    a lock-out of its name lifts, and a disabled account is enabled again."""
    account = _account(session, name)
    account.password_hash = passwords.hash(check_password(password))
    account.disabled = False
    session.add(account)
    _end_sessions(session, account, now)
    throttle = session.get(LoginThrottle, _sha256(account.name))
    if throttle is not None:
        session.delete(throttle)
    session.flush()
    return _line(session, account)


def _end_sessions(session: Session, account: Account, now: datetime) -> None:
    for open_session in session.exec(
        select(LoginSession).where(
            LoginSession.account_id == account.id, col(LoginSession.ended_at).is_(None)
        )
    ).all():
        open_session.ended_at = now
        session.add(open_session)


# --- signing in and out ---------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the board: a signed-in account and the programs it may see."""

    name: str
    role: str
    programs: tuple[str, ...]  # codes, in order
    session_id: int
    token_sha256: str  # the session's: what the board's form tokens are bound to

    @property
    def can_act(self) -> bool:
        """The office acts on its programs; a leader only reads."""
        return self.role == AccountRole.OFFICE.value

    def sees(self, program: str) -> bool:
        return program in self.programs


@dataclass(frozen=True)
class Lifetime:
    """How long a session lasts: ``hours`` at most, ``idle`` minutes without a request."""

    hours: int = 12
    idle: int = 120


def _throttle(session: Session, name: str, now: datetime) -> LoginThrottle | None:
    row = session.get(LoginThrottle, _sha256(normal_name(name)))
    if row is None or row.first_failed_at is None:
        return row
    locked = row.locked_until is not None and db.stored_moment(row.locked_until) > now
    stale = db.stored_moment(row.first_failed_at) + timedelta(minutes=LOCK_MINUTES) <= now
    if stale and not locked:  # the window has passed: the count starts afresh
        session.delete(row)
        session.flush()
        return None
    return row


def _failed(session: Session, name: str, row: LoginThrottle | None, now: datetime) -> None:
    if row is None:
        row = LoginThrottle(name_sha256=_sha256(normal_name(name)), failures=0, first_failed_at=now)
    row.failures += 1
    if row.failures >= MAX_FAILURES and row.locked_until is None:
        row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
    session.add(row)
    # The table stays small: names whose window has long passed are forgotten.
    session.exec(
        delete(LoginThrottle)
        .where(
            col(LoginThrottle.first_failed_at) < now - timedelta(days=1),
            col(LoginThrottle.name_sha256) != row.name_sha256,
        )
        .execution_options(synchronize_session=False)
    )


def sign_in(
    *,
    session: Session,
    name: str,
    password: str,
    now: datetime,
    passwords: Passwords,
    lifetime: Lifetime,
) -> tuple[Viewer, str]:
    """A new session for the account, and the token for the browser's cookie; or
    ``SignInRefused`` with the same words, after the same work, for every refusal. A failed
    attempt is committed by the caller's session like a success."""
    name = name[: MAX_NAME * 4]
    password = password[: MAX_PASSWORD + 1]
    row = _throttle(session, name, now)
    locked = (
        row is not None
        and row.locked_until is not None
        and db.stored_moment(row.locked_until) > now
    )
    account = session.exec(select(Account).where(Account.name == normal_name(name))).first()
    usable = account is not None and not account.disabled and len(password) <= MAX_PASSWORD
    right = passwords.check(account.password_hash if usable and account else None, password)
    if locked or not right or account is None:
        if not locked:
            _failed(session, name, row, now)
        raise SignInRefused(REFUSED, "password")
    if row is not None:
        session.delete(row)
    if passwords.outdated(account.password_hash):
        account.password_hash = passwords.hash(password)
        session.add(account)
    # A browser's sessions of this account that have ended or expired are cleared away.
    session.exec(
        delete(LoginSession)
        .where(
            LoginSession.account_id == account.id,
            col(LoginSession.ended_at).is_not(None) | (col(LoginSession.expires_at) <= now),
        )
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    opened = LoginSession(
        token_sha256=_sha256(token),
        account_id=account.id,  # type: ignore[arg-type]
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=lifetime.hours),
    )
    session.add(opened)
    session.flush()
    return _viewer(session, account, opened), token


def _viewer(session: Session, account: Account, opened: LoginSession) -> Viewer:
    return Viewer(
        name=account.name,
        role=account.role,
        programs=_codes(session, account.id or 0),
        session_id=opened.id or 0,
        token_sha256=opened.token_sha256,
    )


def resume(
    *, session: Session, token: str | None, now: datetime, lifetime: Lifetime
) -> Viewer | None:
    """The viewer of a session cookie, or None: no cookie, a token never issued, a session
    ended (logout, a disabled account), expired, or idle too long."""
    if not token or len(token) > 100:
        return None
    found = session.exec(
        select(LoginSession, Account)
        .join(Account, col(Account.id) == LoginSession.account_id)
        .where(LoginSession.token_sha256 == _sha256(token))
    ).first()
    if found is None:
        return None
    opened, account = found
    seen = db.stored_moment(opened.last_seen_at) if opened.last_seen_at else now
    if (
        opened.ended_at is not None
        or account.disabled
        or opened.expires_at is None
        or db.stored_moment(opened.expires_at) <= now
        or seen + timedelta(minutes=lifetime.idle) <= now
    ):
        return None
    if (now - seen).total_seconds() >= TOUCH_SECONDS:
        opened.last_seen_at = now
        session.add(opened)
    return _viewer(session, account, opened)


def sign_out(*, session: Session, token: str | None, now: datetime) -> None:
    """End the session of a cookie (if it is one); its token opens nothing after this."""
    if not token or len(token) > 100:
        return
    opened = session.exec(
        select(LoginSession).where(LoginSession.token_sha256 == _sha256(token))
    ).first()
    if opened is not None and opened.ended_at is None:
        opened.ended_at = now
        session.add(opened)


def programs_of(*, session: Session, viewer: Viewer) -> list[Program]:
    """The programs the viewer may see, in code order."""
    if not viewer.programs:
        return []
    return list(
        session.exec(
            select(Program)
            .where(col(Program.code).in_(viewer.programs))
            .order_by(col(Program.code))
        ).all()
    )
