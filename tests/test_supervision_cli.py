"""Flag, escalation and alerts on the command line, end to end with a real HTTP receiver."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app
from pilot_tracker.ledger.links import Links
from pilot_tracker.models import Acknowledgement, Escalation, Program, Unit
from pilot_tracker.settings import Settings

from .conftest import EXAMPLES
from .http_fixtures import Answer, http_server

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout if code == 0 else result.stderr


def test_flag_escalate_and_send(isolated_environment: Path, tmp_path: Path, monkeypatch) -> None:
    run("init")
    run("program", "load", str(EXAMPLES / "xiangshan.yaml"))
    run("simulate", "--program", "xiangshan", "--until", "2021-04-06")
    run("collect", "--program", "xiangshan", "--as-of", "2021-04-06")

    flagged = json.loads(run("flag", "--program", "xiangshan", "--as-of", "2021-04-06", "--json"))
    assert flagged["as_of"] == "2021-04-06" and flagged["calendar"] == "official"
    assert flagged["flags"] and set(flagged["flags"][0]) == {
        "rule",
        "severity",
        "unit",
        "task",
        "indicator",
        "details",
    }
    assert all(f["details"]["message"] for f in flagged["flags"])
    units = {f["unit"] for f in flagged["flags"]}
    assert {e["unit"] for e in flagged["escalations"]} == units
    assert {e["level"] for e in flagged["escalations"]} == {"reminder"}

    listed = json.loads(run("escalation", "list", "--program", "xiangshan", "--json"))
    assert set(listed[0]) == {
        "id",
        "unit",
        "level",
        "status",
        "opened",
        "closed",
        "notice",
        "acknowledge_by",
        "acknowledged",
        "acknowledged_on",
        "unacknowledged_since",
        "closed_by",  # the board's account that closed it by hand
        "interviews",  # the interviews (约谈) recorded on the board
    }
    assert listed[0]["notice"] is None  # a reminder: no 签收 is asked of it
    assert (listed[0]["closed_by"], listed[0]["interviews"]) == ("", [])
    again = json.loads(run("flag", "--program", "xiangshan", "--as-of", "2021-04-06", "--json"))
    assert again["flags"] == flagged["flags"]
    assert json.loads(run("escalation", "list", "--program", "xiangshan", "--json")) == listed

    pending = json.loads(run("alerts", "list", "--status", "pending", "--json"))
    assert {item["target"] for item in pending} >= {f"unit:{unit} role:liaison" for unit in units}
    # Each reminder carries its unit's personal link, issued with the installation's key.
    settings = Settings()
    issuer = Links(settings.link_secret(), settings.public_url, settings.link_days)
    engine = db.make_engine(settings.resolved_database_url)
    for item in pending:
        body = json.loads(run("alerts", "show", str(item["id"]), "--json"))["body"]
        [token] = re.findall(r"http://127\.0\.0\.1:8000/u/([A-Za-z0-9_.\-]+)", body)
        with db.session(engine) as session:
            opened = issuer.read(session=session, token=token, now=datetime.now(UTC))
            assert f"unit:{opened.unit.code} role:liaison" == item["target"]
    engine.dispose()
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert [p["unacknowledged"] for p in status["programs"]] == [[]]
    assert "PILOT_TRACKER_APPRISE_CONFIG is not set" in run("alerts", "send", code=3)

    with http_server() as server:
        server.answer("/inbox", Answer(body=b"{}"))
        config = tmp_path / "apprise.yml"
        config.write_text(
            "version: 1\nurls:\n"
            f"  - json://{server.url.removeprefix('http://')}/inbox:\n      tag: role:office\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("PILOT_TRACKER_APPRISE_CONFIG", str(config))
        counts = json.loads(run("alerts", "send", "--json"))
        posts = [path for path, _ in server.requests]
        assert counts["sent"] == len(posts) > 0 and counts["failed"] == 0 and counts["pending"] == 0
        assert json.loads(run("alerts", "send", "--json"))["sent"] == 0
        assert len(server.requests) == len(posts)  # nothing twice
    sent = json.loads(run("alerts", "list", "--status", "sent", "--json"))
    merged = json.loads(run("alerts", "list", "--status", "merged", "--json"))
    assert len(sent) == len(posts)  # one row per message that went out
    assert len(sent) + len(merged) == len(pending)
    whole = json.loads(run("alerts", "show", str(sent[0]["id"]), "--json"))
    assert whole["subject"] == sent[0]["subject"] and whole["body"].strip()
    assert whole["subject"] in run("alerts", "show", str(sent[0]["id"]))
    assert "no message 9999" in run("alerts", "show", "9999", code=1)

    item = listed[0]
    closed = run(
        "escalation", "close", str(item["id"]), "--outcome", "已约谈", "--on", "2021-04-07"
    )
    assert f"escalation {item['id']} ({item['unit']}, reminder) closed on 2021-04-07" in closed
    assert "already closed" in run("escalation", "close", str(item["id"]), "--outcome", "x", code=1)
    assert run("alerts", "list", "--status", "bogus", code=2)


def test_flag_on_a_holiday_a_make_up_saturday_and_an_uncovered_year(
    isolated_environment: Path, tmp_path: Path
) -> None:
    import copy

    import yaml

    from .test_program_file import SMALL

    run("init")
    run("program", "load", str(EXAMPLES / "xiangshan.yaml"))
    # Two make-up Saturdays and National Day, in order: an earlier day after a later one is
    # refused (test_replay.py).
    for day in ("2021-02-20", "2021-09-18", "2021-10-01"):
        result = json.loads(run("flag", "--program", "xiangshan", "--as-of", day, "--json"))
        assert result["calendar"] == "official" and result["as_of"] == day

    later = copy.deepcopy(SMALL)
    later.update(code="later", start="2027-01-01", end="2028-12-31")
    for task in later["tasks"]:
        task.update(start="2027-01-04", due="2027-12-31", milestones=[])
    path = tmp_path / "later.yaml"
    path.write_text(yaml.safe_dump(later, allow_unicode=True), encoding="utf-8")
    run("program", "load", str(path))
    result = json.loads(run("flag", "--program", "later", "--as-of", "2027-05-31", "--json"))
    assert result["calendar"] == "unofficial"
    # Nothing was reported all year: both units with work to do are flagged.
    assert {f["unit"] for f in result["flags"] if f["rule"] == "missing_report"} == {"tw", "rsj"}
    table = run("flag", "--program", "later", "--as-of", "2027-05-31")
    assert "(calendar: unofficial)" in table
    # Each flag kept, and each notice it caused, says its working days were guessed.
    assert all(f["details"]["calendar"] == "unofficial" for f in result["flags"])
    from sqlmodel import select

    from pilot_tracker import db
    from pilot_tracker.models import Notification, Program
    from pilot_tracker.settings import Settings

    engine = db.make_engine(Settings().resolved_database_url)
    with db.session(engine) as session:
        bodies = session.exec(
            select(Notification.body)
            .join(Program, Notification.program_id == Program.id)
            .where(Program.code == "later")
        ).all()
    engine.dispose()
    assert bodies and all("注：2027年的法定节假日安排尚未录入系统" in body for body in bodies)


def test_an_urge_not_acknowledged_in_time_shows_in_the_list_and_the_status(
    isolated_environment: Path,
) -> None:
    run("init")
    run("program", "load", str(EXAMPLES / "xiangshan.yaml"))
    settings = Settings()
    engine = db.make_engine(settings.resolved_database_url)
    with db.session(engine) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        units = session.exec(select(Unit).where(Unit.program_id == program.id)).all()
        for unit, raised in zip(units[:2], (date(2021, 5, 6), date(2021, 5, 7)), strict=True):
            session.add(
                Escalation(
                    program_id=program.id,
                    unit_id=unit.id,
                    level="urge",
                    status="open",
                    opened_on=date(2021, 3, 10),
                    raised_on=raised,
                )
            )
        session.flush()
        acknowledged = session.exec(
            select(Escalation).where(Escalation.unit_id == units[1].id)
        ).one()
        # 8 May 2021 was a make-up working day; 10:00 in Beijing.
        session.add(
            Acknowledgement(
                escalation_id=acknowledged.id,
                level="urge",
                acknowledged_at=datetime(2021, 5, 8, 2, tzinfo=UTC),
            )
        )
    engine.dispose()
    ignored, answered = json.loads(run("escalation", "list", "--program", "xiangshan", "--json"))
    # 6 May + 3 working days (7, 8 (a make-up Saturday), 10 May) = 10 May
    assert (ignored["notice"], ignored["acknowledge_by"], ignored["unacknowledged_since"]) == (
        "urge",
        "2021-05-10",
        "2021-05-11",
    )
    assert answered["acknowledged_on"] == "2021-05-08" and answered["unacknowledged_since"] is None
    table = run("escalation", "list", "--program", "xiangshan")
    assert "unacknowledged" in table and "2021-05-11" in table and "2021-05-08" in table
    result = runner.invoke(app, ["status", "--json"])
    [program_status] = json.loads(result.stdout)["programs"]
    assert program_status["unacknowledged"] == [
        {
            "id": ignored["id"],
            "unit": ignored["unit"],
            "notice": "urge",
            "unacknowledged_since": "2021-05-11",
        }
    ]
    shown = runner.invoke(app, ["status"]).stdout
    assert (
        f"escalation {ignored['id']} ({ignored['unit']}): urge notice unacknowledged since" in shown
    )


# --- every program in one process (pilot-tracker supervise --all-programs) ------------------


def two_programs_until(day: str) -> None:
    run("init")
    for code in ("haishu", "xiangshan"):
        run("program", "load", str(EXAMPLES / f"{code}.yaml"))
        run("simulate", "--program", code, "--until", day)


def last_supervise(program: str) -> dict:
    # status exits 1 while a run has failed: someone must look
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    [found] = [item for item in status["programs"] if item["program"] == program]
    return found["last_runs"]["supervise"]


def test_supervise_all_programs_collects_flags_and_records_each(
    isolated_environment: Path,
) -> None:
    two_programs_until("2021-04-06")

    done = json.loads(run("supervise", "--all-programs", "--as-of", "2021-04-06", "--json"))

    assert [item["program"] for item in done["programs"]] == ["haishu", "xiangshan"]
    for item in done["programs"]:
        assert item["as_of"] == "2021-04-06" and item["skipped"] == ""
        assert item["submissions"] > 0 and item["errors"] == 0
        # the flags on record are the day's, as the flag command computes them
        flagged = json.loads(
            run("flag", "--program", item["program"], "--as-of", "2021-04-06", "--json")
        )
        assert item["flags"] == len(flagged["flags"]) > 0
        assert last_supervise(item["program"])["outcome"] == "ok"
    assert json.loads(run("alerts", "list", "--status", "pending", "--json"))  # queued


def test_one_programs_failure_is_on_record_and_the_others_complete(
    isolated_environment: Path,
) -> None:
    two_programs_until("2021-04-07")
    run("supervise", "--program", "haishu", "--as-of", "2021-04-07")

    result = runner.invoke(app, ["supervise", "--all-programs", "--as-of", "2021-04-06"])

    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert "haishu: failed: haishu: flags and escalations are on record up to 2021-04-07" in (
        result.stdout
    )
    assert re.search(r"^xiangshan 2021-04-06: \d+ submissions, \d+ flags", result.stdout, re.M)
    assert "failed for 1 of 2 programs: haishu; the others completed" in result.stderr
    failed = last_supervise("haishu")
    assert failed["outcome"] == "failed" and "2021-04-07" in failed["error"]
    assert last_supervise("xiangshan")["outcome"] == "ok"


def test_a_fault_in_one_program_is_logged_and_the_others_complete(
    isolated_environment: Path, monkeypatch
) -> None:
    from pilot_tracker.supervise import day

    two_programs_until("2021-04-06")
    collect = day.collection.collect

    def broken_for_haishu(**kwargs):
        if kwargs["program"] == "haishu":
            raise RuntimeError("a fault of ours")
        return collect(**kwargs)

    monkeypatch.setattr(day.collection, "collect", broken_for_haishu)

    result = runner.invoke(app, ["supervise", "--all-programs", "--as-of", "2021-04-06"])

    assert result.exit_code == 70, (result.stdout, result.stderr)
    assert "haishu: failed: a fault of ours" in result.stdout
    assert last_supervise("xiangshan")["outcome"] == "ok"
    log = isolated_environment / "logs" / "supervise.log"
    assert "Traceback" in log.read_text() and str(log) in result.stderr


def test_supervise_names_one_program_or_all() -> None:
    for args in ([], ["--program", "xiangshan", "--all-programs"]):
        result = runner.invoke(app, ["supervise", *args])
        assert result.exit_code == 2
        assert "name one program with --program, or use --all-programs" in result.stderr
