"""Settings, read from the environment (prefix ``PILOT_TRACKER_``) by entry points only."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_FILE = "pilot-tracker.db"
# The project's templates/ folder, beside src/ in a checkout or an editable install.
PROJECT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            message = f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"
            raise ValueError(message) from None
        return value

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
