"""Runs: one writer per program, a record of each run, status, and SQLite shared by two
processes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from pilot_tracker import runs
from pilot_tracker.cli import app
from pilot_tracker.supervise import workdays

from .conftest import EXAMPLES

NOW = datetime(2021, 4, 6, 1, 0, tzinfo=UTC)


def test_a_second_run_for_the_same_program_skips_and_says_whose_run_it_is(
    engine: sa.Engine,
) -> None:
    with runs.exclusive(engine=engine, program="xiangshan", flow="supervise", now=NOW) as other:
        assert other is None
        with runs.exclusive(engine=engine, program="xiangshan", flow="supervise", now=NOW) as busy:
            assert busy is None  # the same holder (this process) may nest
        with runs.exclusive(engine=engine, program="yinzhou", flow="supervise", now=NOW) as free:
            assert free is None  # another program runs in parallel
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO run_lock (program, flow, holder, acquired_at, expires_at) "
                "VALUES ('xiangshan', 'supervise', 'worker-2:99', :at, :until)"
            ),
            {"at": NOW, "until": NOW + timedelta(hours=2)},
        )
    with runs.exclusive(engine=engine, program="xiangshan", flow="supervise", now=NOW) as other:
        assert other is not None and other.holder == "worker-2:99"
    later = NOW + timedelta(hours=3)  # the other run's lease ran out: it crashed
    with runs.exclusive(engine=engine, program="xiangshan", flow="supervise", now=later) as other:
        assert other is None


def test_status_says_what_an_operator_needs(isolated_environment: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["init"])
    runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")])
    this_year = date.today().year
    if workdays.WorkCalendar().source_of(this_year) == workdays.GUESSED:
        # status exits 1 while this year's days are guessed; enter them as an office would.
        days = isolated_environment.parent / "days.yaml"
        days.write_text(f"holidays: [{{name: 元旦, date: {this_year}-01-01}}]\n", "utf-8")
        added = runner.invoke(app, ["calendar", "add", str(this_year), str(days)])
        assert added.exit_code == 0, added.output
    healthy = runner.invoke(app, ["status", "--json"])
    assert healthy.exit_code == 0
    state = json.loads(healthy.stdout)
    assert state["notifications"] == {"pending": 0, "failed": 0}
    assert state["programs"][0]["open_escalations"] == {"reminder": 0, "urge": 0, "interview": 0}

    from pilot_tracker import db
    from pilot_tracker.settings import Settings

    engine = db.make_engine(Settings().resolved_database_url)
    runs.record(
        engine=engine,
        program="xiangshan",
        flow="collect-status",
        as_of=date(2021, 4, 6),
        started=NOW,
        finished=NOW,
        outcome="ok",
        summary={"submissions": 3, "unavailable": ["dsj"]},
    )
    down = runner.invoke(app, ["status"])
    assert down.exit_code == 1  # a source is down: a cron job or systemd unit sees it
    assert "collect-status: ok for 2021-04-06" in down.stdout
    assert "sources down: dsj" in down.stdout


WRITER = """
import sys
from datetime import date, datetime, timezone
from pilot_tracker import db
from pilot_tracker.supervise import flags
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import EarlierDayError
from pathlib import Path
engine = db.make_engine(sys.argv[1])
templates = outbox.Templates(Path(sys.argv[3]))
for day in range(1, 29):
    try:
        with db.session(engine) as session:
            flags.flag_and_escalate(
                session=session, program=sys.argv[2], as_of=date(2021, 2, day),
                now=datetime(2021, 2, day, tzinfo=timezone.utc), templates=templates,
                home=Path(sys.argv[4]),
            )
    except EarlierDayError:
        pass  # the other writer of this program is a day ahead: refused, as it should be
print("done")
"""


def test_two_processes_write_one_sqlite_file_without_database_is_locked(
    isolated_environment: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    runner.invoke(app, ["init"])
    for name in ("xiangshan", "yinzhou"):
        runner.invoke(app, ["program", "load", str(EXAMPLES / f"{name}.yaml")])
    runner.invoke(app, ["simulate", "--program", "xiangshan", "--until", "2021-02-28"])
    runner.invoke(app, ["collect", "--program", "xiangshan", "--as-of", "2021-02-28"])
    url = f"sqlite:///{isolated_environment / 'pilot-tracker.db'}"
    templates = str(EXAMPLES.parents[1] / "templates")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, program, templates, str(isolated_environment)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for program in ("xiangshan", "yinzhou", "xiangshan")
    ]
    results = [writer.communicate(timeout=120) for writer in writers]
    for (out, err), writer in zip(results, writers, strict=True):
        assert writer.returncode == 0, err
        assert out.strip() == "done" and "database is locked" not in err
