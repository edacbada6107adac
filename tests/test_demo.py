"""The README's first command: the whole half-year demo, end to end (about three minutes), its
last day through the real Prefect flows."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest
import yaml
from sqlmodel import col, select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app
from pilot_tracker.demo.playthrough import clear
from pilot_tracker.ledger.links import Links
from pilot_tracker.models import Program, Submission, Unit
from pilot_tracker.settings import Settings

from .conftest import ROOT

pytestmark = pytest.mark.slow
PROGRAMS = ("fenghua", "haishu", "xiangshan", "yinzhou")
# The summary's line per program (tests/test_wheel.py reads the same from the wheel).
FIGURES = (
    "  fenghua: 6 units flagged; escalations: 10 reminder, 2 urge, 1 interview",
    "  haishu: 6 units flagged; escalations: 9 reminder, 0 urge, 4 interview",
    "  xiangshan: 10 units flagged; escalations: 14 reminder, 1 urge, 6 interview",
    "  yinzhou: 11 units flagged; escalations: 22 reminder, 0 urge, 7 interview",
)
SENT_BY = datetime(2021, 1, 5, tzinfo=UTC)  # before any link the demo issued expired


def test_the_demo_plays_half_a_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    folder = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "-o", str(folder)])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "129 working days, 59 report files" in result.stdout
    for line in FIGURES:
        assert line in result.stdout, result.stdout

    reports = folder / "data" / "reports"
    for program in PROGRAMS:
        for quarter in ("2021Q1", "2021Q2"):
            base = reports / program / quarter / f"{program}-{quarter}-季度对账"
            assert base.with_suffix(".pdf").is_file() and base.with_suffix(".xlsx").is_file()
        base = reports / program / "2021H1" / f"{program}-2021H1-半年度评估"
        for suffix in (".html", ".pdf", ".xlsx", ".docx"):
            assert base.with_suffix(suffix).is_file(), base.with_suffix(suffix)

    # The last working day went through Prefect's flows, each run with the runs under it.
    stdout = result.stdout
    assert "  the last working day (2021-07-09) through Prefect's flows:\n" in stdout
    for parent in ("supervise-all", "half-year-evaluation-all", "send-alerts"):
        assert re.search(rf"^    {parent} \(\S+\): Completed, [\d.]+ s$", stdout, re.M), parent
    for program in ("xiangshan", "yinzhou"):
        supervised = rf"^        supervise {program}: Completed, [\d.]+ s; under it "
        supervised += r"collect-status, flag-laggards, send-alerts: Completed$"
        assert re.search(supervised, stdout, re.M), program
        evaluated = rf"^        half-year-evaluation {program}: Completed, [\d.]+ s; under it "
        evaluated += r"send-alerts: Completed$"
        assert re.search(evaluated, stdout, re.M), program
    monkeypatch.setenv("PILOT_TRACKER_HOME", str(folder / "data"))
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    for program in status["programs"]:  # on record by the flows themselves
        assert program["last_runs"]["supervise"]["as_of"] == "2021-07-09"
        assert program["last_runs"]["half-year-evaluation"]["outcome"] == "ok"
    # The commands it prints to look at them work: Prefect's own, on the demo's home.
    prefect = (folder / "prefect").resolve()
    assert f"the runs: PREFECT_HOME={prefect} prefect flow-run ls\n" in stdout
    assert f"in Prefect's UI: PREFECT_HOME={prefect} prefect server start, then open " in stdout
    [run_id] = re.findall(
        rf"a run's log: PREFECT_HOME={prefect} prefect flow-run logs (\S+)", stdout
    )
    logs = subprocess.run(
        [sys.executable, "-m", "prefect", "flow-run", "logs", run_id],
        env={
            **{name: value for name, value in os.environ.items() if "PREFECT" not in name},
            "PREFECT_HOME": str(prefect),
            "DO_NOT_TRACK": "1",
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert logs.returncode == 0, logs.stderr
    assert re.search(r"supervise for \d+ programs \(.*xiangshan, yinzhou", logs.stdout)

    sent = json.loads(runner.invoke(app, ["alerts", "list", "--status", "sent", "--json"]).stdout)
    mails = sorted((folder / "mail").glob("*.eml"))
    assert len(mails) == len(sent) > 50

    # Each mail to a unit's liaison or head carries that unit's link, which opens its page
    # with the demo's key (kept in its data home, where a portal on that home finds it);
    # the office's and the leaders' mails carry none.
    settings = Settings()
    issuer = Links(settings.link_secret(), settings.public_url, settings.link_days)
    engine = db.make_engine(settings.resolved_database_url)
    carried = 0
    for path in mails:
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = mail.get_body(preferencelist=("plain",)).get_content()
        tokens = re.findall(r"http://127\.0\.0\.1:8000/u/([A-Za-z0-9_.\-]+)", body)
        mailbox = str(mail["To"]).split("@")[0]
        if mailbox.endswith(("-office", "-leader", "-city")):
            assert tokens == [], path.name
            continue
        # A digest of several notices carries the unit's link in each of them.
        assert tokens and len(set(tokens)) == 1, path.name
        token = tokens[0]
        with db.session(engine) as session:
            unit = issuer.read(session=session, token=token, now=SENT_BY).unit.code
        assert mailbox.split("-")[1] == unit, path.name
        carried += 1
    assert carried > len(mails) / 2
    # Three units answer by mail: each mail taken is answered in its thread; the
    # out-of-office answer to a reminder is read and never answered.
    taken = json.loads(
        runner.invoke(app, ["mail", "list", "--program", "xiangshan", "--json"]).stdout
    )
    statuses = sorted(item["status"] for item in taken)
    assert statuses == ["ignored"] + ["taken"] * (len(taken) - 1) and len(taken) > 10
    replies = {
        str(message["Message-ID"]).strip(): message
        for message in (
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted((folder / "mail" / "replies").glob("*.eml"))
        )
    }
    answered = [
        str(message["In-Reply-To"]).strip()
        for message in (
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in mails
        )
        if str(message["In-Reply-To"]).strip() in replies
    ]
    assert len(answered) == len(taken) - 1 == len(set(answered))
    [away] = [message for message in replies.values() if message["Auto-Submitted"]]
    assert str(away["Message-ID"]).strip() not in answered
    escalations = json.loads(
        runner.invoke(app, ["escalation", "list", "--program", "xiangshan", "--json"]).stdout
    )
    assert {"reminder", "urge", "interview"} <= {item["level"] for item in escalations}
    assert any(item["status"] == "closed" for item in escalations)

    # The city's work bulletin for the half-year, written on its last day: Word and PDF,
    # an article per pilot with the roll-up's figures, Fenghua's without an account.
    bulletin_folder = reports / "cities" / "ningbo" / "2021H1"
    for suffix in ("docx", "pdf"):
        assert (bulletin_folder / f"ningbo-2021H1-工作简报.{suffix}").is_file()
    assert (
        "  city ningbo's work bulletin for 2021H1, 第3期 (总第170期): "
        f"{bulletin_folder / 'ningbo-2021H1-工作简报.docx'}; no account of their practice "
        "from fenghua\n" in stdout
    )
    assert_the_bulletin_has_the_roll_ups_figures(folder / "data", bulletin_folder)

    # The example city is loaded over the four pilots, and the city league has its own
    # addresses; the big-data centre's HTTP source answered (after being down a while).
    cities = json.loads(runner.invoke(app, ["city", "list", "--json"]).stdout)
    assert [(row["code"], row["programs"], row["missing"]) for row in cities] == [
        ("ningbo", ["haishu", "yinzhou", "fenghua", "xiangshan"], [])
    ]
    assert "city ningbo over 4 pilots (haishu, yinzhou, fenghua, xiangshan)" in result.stdout
    tags = [
        next(iter(entry.values()))["tag"]
        for entry in yaml.safe_load((folder / "apprise.yml").read_text(encoding="utf-8"))["urls"]
    ]
    assert "city:ningbo, role:city" in tags and "city:ningbo, role:leader" in tags
    with db.session(engine) as session:
        pulled = session.exec(
            select(Program.code, Unit.code)
            .join(Submission, col(Submission.program_id) == Program.id)
            .join(Unit, col(Submission.unit_id) == Unit.id)
            .where(Submission.source == "http")
        ).all()
    engine.dispose()
    assert set(pulled) == {("yinzhou", "dsj")} and len(pulled) >= 4

    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    refused = runner.invoke(app, ["demo", "-o", str(folder)])
    assert refused.exit_code == 1 and "holds other files (notes.txt)" in refused.stderr
    assert os.path.exists(folder / "notes.txt") and (folder / "data").is_dir()
    (folder / "notes.txt").unlink()
    clear(folder)  # what a second demo into the same folder does first
    assert list(folder.iterdir()) == []


def assert_the_bulletin_has_the_roll_ups_figures(home: Path, folder: Path) -> None:
    """The demo's bulletin says of each pilot what the city roll-up says; the next period's
    issue takes the next numbers and a period written again keeps its own."""
    from pilot_tracker.reports import bulletin, city

    from .test_bulletin import figures_of

    document = docx.Document(str(folder / "ningbo-2021H1-工作简报.docx"))
    text = "\n".join(p.text for p in document.paragraphs)
    text += "\n".join(cell.text for t in document.tables for r in t.rows for cell in r.cells)
    engine = db.make_engine(f"sqlite:///{home / 'pilot-tracker.db'}")
    with db.session(engine) as session:
        rollup = city.rollup(session=session, city="ningbo", period="2021H1")
    assert [pilot.code for pilot in rollup.pilots] == ["haishu", "yinzhou", "fenghua", "xiangshan"]
    for pilot in rollup.pilots:
        assert pilot.reports_owed > 0
        for figure in figures_of(pilot):
            assert figure in text, (pilot.code, figure)
    for headline in (
        "团海曙区委：“菁英计划”实现青年发展阶梯式支持",
        "团鄞州区委：全面推进全国中长期青年发展规划县级实施试点工作",
        "奉化区试点2021年上半年推进情况",
        "团象山县委：持续推动中长期青年发展规划试点工作提质生效",
    ):
        assert f"◆ {headline}" in text
    autumn = datetime(2021, 10, 11, 3, tzinfo=UTC)
    numbers = []
    for period in ("2021Q3", "2021H1"):
        with db.session(engine) as session:
            written = bulletin.write(
                session=session,
                city="ningbo",
                period=period,
                folder=home / "again" / period,
                home=home,
                templates=ROOT / "templates",
                now=autumn,
                send=False,
            )
        numbers.append((written.number, written.total))
    engine.dispose()
    assert numbers == [(4, 171), (3, 170)]
