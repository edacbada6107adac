"""Settings, read from the environment (prefix ``PILOT_TRACKER_``) by entry points only.

The command line imports this module only in the commands that read settings
(``cli.load_settings``): ``pilot-tracker --help`` goes without pydantic-settings
(docs/benchmarks.md, "CLI start-up").
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pilot_tracker.errors import ConfigurationError

if TYPE_CHECKING:
    from pilot_tracker.ledger.links import Links

DATABASE_FILE = "pilot-tracker.db"
# The project's folder in a checkout (an editable install): templates/, examples/ and flows/
# beside src/.
CHECKOUT = Path(__file__).resolve().parents[2]


def project_folder(name: str) -> Path:
    """The project's folder ``name`` (templates, examples): inside the installed package,
    where the wheel puts it, or beside ``src/`` in a checkout."""
    packaged = resources.files(__package__) / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return CHECKOUT / name


PROJECT_TEMPLATES = project_folder("templates")
EXAMPLE_PROGRAMS = project_folder("examples") / "programs"
EXAMPLE_CITIES = project_folder("examples") / "cities"
EXAMPLE_ACCOUNTS = project_folder("examples") / "accounts"


class Settings(BaseSettings):
    """Where the data lives and which clock it runs on.

    ``home`` holds the SQLite database (by default), ``inbox/``, ``archive/`` and
    ``reports/``. ``database_url`` is a ``str`` so SQLite and PostgreSQL both pass.
    """

    model_config = SettingsConfigDict(env_prefix="PILOT_TRACKER_", extra="ignore")

    home: Path = Path(".pilot-tracker")
    database_url: str = ""
    timezone: str = "Asia/Shanghai"
    templates: Path = PROJECT_TEMPLATES
    apprise_config: Path | None = None
    # From this day of the year (MM-DD), the office is warned while next year's holidays
    # are neither in the calendar package nor entered (`pilot-tracker calendar add`).
    calendar_warning_from: str = "11-01"
    # An inbox file that does not read as a whole file (a copy cut short) is left this
    # many minutes after its last change for its writer to finish, then taken as it is.
    inbox_wait_minutes: int = Field(default=15, ge=0, le=24 * 60)
    # The unit portal (pilot-tracker web): the address units reach it at, printed in their
    # personal links; how long a link works; the key links are signed with (by default a
    # random key kept in DATA_HOME/secret.key, made on first use).
    public_url: str = "http://127.0.0.1:8000"
    link_days: int = Field(default=90, ge=1, le=3660)
    secret_key: str = Field(default="", repr=False)
    # The office's board: a sign-in lasts this many hours at most, and ends after this many
    # minutes without a request.
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    session_idle_minutes: int = Field(default=120, ge=5, le=24 * 60)

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{value!r} is not a web address; write it as https://pilot.example.org"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"{value!r}: give the portal's address without ?, # or a login")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("the secret key is too short: give at least 32 characters")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            message = f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"
            raise ValueError(message) from None
        return value

    @field_validator("calendar_warning_from")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            month, day = (int(part) for part in value.split("-"))
            date(2000, month, day)  # a leap year: 02-29 is a day of the year
        except ValueError:
            raise ValueError(
                f"{value!r} is not a day of the year; write MM-DD, e.g. 11-01"
            ) from None
        return value

    @property
    def calendar_warning_day(self) -> tuple[int, int]:
        """(month, day) from which the year-end calendar warning is given."""
        month, day = (int(part) for part in self.calendar_warning_from.split("-"))
        return month, day

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in the data home."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / DATABASE_FILE).resolve()}"

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    def link_issuer(self) -> Links:
        """The issuer of the units' personal links: this installation's key, the portal's
        public address, the links' lifetime."""
        from pilot_tracker.ledger.links import Links

        return Links(self.link_secret(), self.public_url, self.link_days)

    def link_secret(self) -> str:
        """The key personal links are signed with: PILOT_TRACKER_SECRET_KEY, else a random
        key kept (owner-readable only) in DATA_HOME/secret.key, made on first use.

        The file appears whole or not at all (written aside, then linked into place, which
        fails if it exists): processes starting together all read the one key that won."""
        if self.secret_key:
            return self.secret_key
        import os
        import secrets
        import tempfile

        path = self.home / "secret.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            descriptor, aside = tempfile.mkstemp(prefix=".secret.", dir=self.home)  # mode 0600
            try:
                with os.fdopen(descriptor, "w", encoding="ascii") as file:
                    file.write(secrets.token_urlsafe(48) + "\n")
                    file.flush()
                    os.fsync(file.fileno())
                os.link(aside, path)
            except FileExistsError:  # another process made it first: theirs is the key
                pass
            finally:
                os.unlink(aside)
        try:
            key = path.read_text(encoding="ascii").strip()
        except UnicodeDecodeError:
            key = ""
        if len(key) < 32:
            raise ConfigurationError(
                f"{path} holds no key of 32 characters or more; remove it to have a new key "
                "made (every personal link sent so far stops working), or set "
                "PILOT_TRACKER_SECRET_KEY"
            )
        return key
