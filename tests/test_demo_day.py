"""The demo's last working day handed to a caller (``playthrough.play(last_day=...)``), and
the caller the command line gives it (``flows/demo_day.py``), without Prefect running:
tests/test_demo.py plays the whole demo, its last day through the real flows."""

from __future__ import annotations

import inspect
import os
import re
import socket
import time
from datetime import date
from pathlib import Path

import pytest
import yaml
from flows import demo_day
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.demo import mail_server, mailing, playthrough
from pilot_tracker.demo.playthrough import LastDay, LastDayResult, Ran
from pilot_tracker.models import Flag
from pilot_tracker.reports import schedule
from pilot_tracker.settings import EXAMPLE_PROGRAMS, PROJECT_TEMPLATES
from pilot_tracker.supervise.workdays import WorkCalendar

# Two working days in January of the example with a mailbox: units send their workbooks from
# the 19th on, so some land on the last day; no report is due.
START, END = date(2021, 1, 21), date(2021, 1, 22)
EXAMPLE = EXAMPLE_PROGRAMS / "xiangshan.yaml"
SERVER = re.compile(r"Prefect's temporary server on http://127\.0\.0\.1:(\d+), started")


def smtp_answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        return connection.recv(64).startswith(b"220")


def test_the_last_day_goes_to_the_caller_with_everything_it_needs(tmp_path: Path) -> None:
    handed: list[LastDay] = []
    seen: dict[str, object] = {}

    def last_day(day: LastDay) -> LastDayResult:
        handed.append(day)
        config = yaml.safe_load(day.apprise_config.read_text(encoding="utf-8"))
        url = next(iter(config["urls"][0]))
        seen["smtp"] = smtp_answers(int(url.split("127.0.0.1:")[1].split("?")[0]))
        # The units' files of the day have landed in the inbox, and no one collected them.
        seen["inbox"] = sorted(path.parent.name for path in (day.home / "inbox").rglob("*.*"))
        return LastDayResult(
            reports=[str(day.home / "reports" / "done-by-the-caller.pdf")],
            problems=["a problem the caller met"],
            runs=[Ran("supervise-all", "a-run", "Completed", 1.5)],
            look=["how to look at its runs"],
        )

    result = playthrough.play(
        folder=tmp_path / "demo",
        examples=[EXAMPLE],
        templates=PROJECT_TEMPLATES,
        start=START,
        end=END,
        last_day=last_day,
    )

    [day] = handed
    home = (tmp_path / "demo" / "data").resolve()
    assert (day.day, day.folder, day.home.resolve()) == (END, tmp_path / "demo", home)
    assert day.database_url == f"sqlite:///{home / 'pilot-tracker.db'}"
    assert day.programs == ["xiangshan"]
    assert day.reports == [] and day.templates == PROJECT_TEMPLATES
    # The office's mailbox (where Dovecot runs) takes its new password from there.
    assert set(day.environ) == (set() if mail_server.missing() else {mailing.PASSWORD_ENV})
    assert all(day.environ.values())
    assert seen["smtp"] is True
    assert seen["inbox"], "no submission landed on the last day"
    # What the caller did is the demo's: its files, problems and runs.
    assert result.days == 2 and result.last_day is not None
    assert result.last_day.runs == [Ran("supervise-all", "a-run", "Completed", 1.5)]
    assert result.reports == [str(day.home / "reports" / "done-by-the-caller.pdf")]
    assert result.problems == ["a problem the caller met"]
    # The demo flagged the days before, and left the last day to the caller.
    engine = db.make_engine(day.database_url)
    with db.session(engine) as session:
        flagged = set(session.exec(select(Flag.as_of)).all())
    engine.dispose()
    assert END not in flagged


def test_the_report_parents_cover_every_kind_of_report_the_demo_writes() -> None:
    # The kinds schedule.writing_days names: a year of the calendar has both.
    year = schedule.writing_days(WorkCalendar(), date(2021, 1, 4), date(2021, 12, 31))
    kinds = {kind for due in year.values() for kind, _ in due}
    parents = demo_day.report_parents()
    assert {kind for kind, _, _ in parents} == kinds == {"quarterly", "half_year"}
    for _, parent, parameter in parents:
        assert parameter in inspect.signature(parent.fn).parameters, parent.name


def test_the_flows_run_on_the_demos_data_and_a_prefect_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")  # the user's own server
    monkeypatch.setenv("PREFECT_PROFILE", "mine")
    monkeypatch.setenv("DO_NOT_TRACK", "0")
    home = tmp_path / "demo" / "prefect"

    env = demo_day.environment(home)

    assert "PREFECT_API_URL" not in env and "PREFECT_PROFILE" not in env
    assert env["PREFECT_HOME"] == str(home)
    assert env["PREFECT_SERVER_EPHEMERAL_ENABLED"] == "true"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    # The child imports the same flows and pilot_tracker as this process.
    first = env["PYTHONPATH"].split(":")[:2]
    assert first == [str(Path(demo_day.__file__).resolve().parents[1]), str(src_folder())]

    # Handed the day, it points the flows' settings at the demo's data.
    day = LastDay(
        day=END,
        folder=tmp_path / "demo",
        home=tmp_path / "demo" / "data",
        database_url="sqlite:////somewhere/pilot-tracker.db",
        apprise_config=tmp_path / "demo" / "apprise.yml",
        templates=PROJECT_TEMPLATES,
        programs=["xiangshan"],
        reports=[("half_year", "2020H2")],
        environ={mailing.PASSWORD_ENV: "secret"},
    )
    assert demo_day.order(day) == {
        "day": "2021-01-22",
        "programs": ["xiangshan"],
        "reports": [("half_year", "2020H2")],
        "environ": {
            "PILOT_TRACKER_HOME": str(day.home.resolve()),
            "PILOT_TRACKER_DATABASE_URL": day.database_url,
            "PILOT_TRACKER_APPRISE_CONFIG": str(day.apprise_config.resolve()),
            "PILOT_TRACKER_TEMPLATES": str(PROJECT_TEMPLATES.resolve()),
            mailing.PASSWORD_ENV: "secret",
        },
    }


def src_folder() -> Path:
    import pilot_tracker

    return Path(pilot_tracker.__file__).resolve().parents[1]


def test_the_demo_says_how_to_look_at_its_runs(tmp_path: Path) -> None:
    runs = [
        Ran("supervise-all", "hot-bee", "Completed", 9.5, 0, id="6aab62b5"),
        Ran("supervise", "zebu", "Completed", 4.0, 1, "xiangshan", "31b39be9"),
    ]

    lines = demo_day.look(tmp_path, runs, 4.2)

    assert lines == [
        "on Prefect's temporary server (started in 4.2 s while the half-year played, stopped "
        f"at the end); its database and the runs' log: {tmp_path}",
        f"the runs: PREFECT_HOME={tmp_path} prefect flow-run ls",
        f"a run's log: PREFECT_HOME={tmp_path} prefect flow-run logs 6aab62b5  (supervise-all)",
        f"in Prefect's UI: PREFECT_HOME={tmp_path} prefect server start, then open "
        "http://127.0.0.1:4200",
    ]


@pytest.mark.slow
def test_a_demo_that_ends_before_its_last_day_stops_the_child_and_its_server(
    tmp_path: Path,
) -> None:
    runner = demo_day.Runner(tmp_path / "demo")
    runner.start()
    assert runner.process is not None
    group = runner.process.pid
    deadline = time.monotonic() + 120
    while not (found := SERVER.search(runner.log.read_text(encoding="utf-8"))):
        assert runner.process.poll() is None, runner.log.read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "Prefect's temporary server did not start"
        time.sleep(0.2)
    port = int(found.group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass

    runner.stop()  # what the end of the demo's `with` block does, however the demo ended

    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)  # the child and its server are gone
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
