"""The settings come from PILOT_TRACKER_ variables, in any case, unless given as arguments;
a wrong value is one line naming its variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pilot_tracker.cli import app
from pilot_tracker.settings import Settings


def test_the_environment_gives_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PILOT_TRACKER_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("pilot_tracker_timezone", "Asia/Urumqi")
    monkeypatch.setenv("PILOT_TRACKER_LINK_DAYS", "30")
    monkeypatch.setenv("PILOT_TRACKER_PUBLIC_URL", "https://pilot.example.org/")
    settings = Settings()
    assert settings.home == tmp_path / "data"
    assert settings.timezone == "Asia/Urumqi"
    assert settings.link_days == 30
    assert settings.public_url == "https://pilot.example.org"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'pilot-tracker.db'}"
    # What the environment set counts as set: `demo --web` keeps an operator's address.
    assert {"home", "timezone", "link_days", "public_url"} <= settings.model_fields_set
    assert "secret_key" not in settings.model_fields_set


def test_an_argument_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PILOT_TRACKER_TIMEZONE", "Mars/Olympus")
    settings = Settings(home=tmp_path, timezone="UTC")
    assert (settings.home, settings.timezone) == (tmp_path, "UTC")
    assert "timezone" in settings.model_fields_set


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PILOT_TRACKER_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("pilot_tracker_link_days", "0", "greater than or equal to 1"),
        ("PILOT_TRACKER_INBOX_WAIT_MINUTES", "soon", "a valid integer"),
        ("PILOT_TRACKER_PUBLIC_URL", "pilot.example.org", "is not a web address"),
        ("PILOT_TRACKER_SECRET_KEY", "short", "the secret key is too short"),
        ("PILOT_TRACKER_CALENDAR_WARNING_FROM", "11-31", "is not a day of the year"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(app, ["program", "list"])
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: {variable.upper()}: ")
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
