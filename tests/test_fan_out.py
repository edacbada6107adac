"""The flows over every program (flows/fan_out.py): which programs a run covers, one
program's failure beside the others, and Prefect's global concurrency limit, run for real
by Prefect (the session's temporary server)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pilot_tracker import db, runs
from pilot_tracker.cli import app
from pilot_tracker.demo.submissions import deliver
from pilot_tracker.ledger.program_file import read_program_file
from pilot_tracker.settings import Settings

from .conftest import EXAMPLES, ROOT


def load(*programs: str, tmp_path: Path, zone: str = "Asia/Shanghai") -> None:
    """Load the examples named, or a copy of xiangshan under another code (and zone)."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    for program in programs:
        path = EXAMPLES / f"{program}.yaml"
        if not path.exists():
            text = (EXAMPLES / "xiangshan.yaml").read_text(encoding="utf-8")
            text = text.replace("code: xiangshan", f"code: {program}", 1)
            text = text.replace("timezone: Asia/Shanghai", f"timezone: {zone}", 1)
            path = tmp_path / f"{program}.yaml"
            path.write_text(text, encoding="utf-8")
        loaded = runner.invoke(app, ["program", "load", str(path)])
        assert loaded.exit_code == 0, loaded.output


def deliver_until(day: date, *programs: str, tmp_path: Path, home: Path) -> None:
    """The units' files of ``programs`` (examples or copies ``load`` made) in the inbox."""
    for program in programs:
        path = EXAMPLES / f"{program}.yaml"
        spec = read_program_file(path if path.exists() else tmp_path / f"{program}.yaml")
        deliver(spec=spec, inbox=home / "inbox", since=None, until=day)


def covered(**kwargs: Any) -> list[str]:
    engine = db.make_engine(Settings().resolved_database_url)
    try:
        if "kind" in kwargs:
            return runs.reported_programs(engine=engine, **kwargs)
        return runs.supervised_programs(engine=engine, **kwargs)
    finally:
        engine.dispose()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- which programs a run covers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2020, 12, 31), []),
        (date(2021, 1, 1), ["xiangshan", "yinzhou"]),
        (date(2021, 12, 31), ["xiangshan", "yinzhou"]),
        (date(2022, 1, 1), ["yinzhou"]),
        (date(2026, 1, 1), []),
    ],
)
def test_supervise_covers_the_programs_whose_period_holds_the_day(
    isolated_environment: Path, tmp_path: Path, as_of: date, expected: list[str]
) -> None:
    """xiangshan runs through 2021, yinzhou from 2021 to 2025."""
    load("xiangshan", "yinzhou", tmp_path=tmp_path)
    assert covered(now=at("2030-01-01T00:00:00+00:00"), as_of=as_of) == expected


def test_each_program_is_covered_on_its_own_day(isolated_environment: Path, tmp_path: Path) -> None:
    """At 04:00 on 2022-01-01 in Shanghai it is still 2021-12-31 in New York."""
    load("xiangshan", tmp_path=tmp_path)
    load("newyork", tmp_path=tmp_path, zone="America/New_York")
    now = at("2022-01-01T04:00:00+08:00")
    assert covered(now=now) == ["newyork"]
    assert covered(now=at("2021-12-31T23:00:00+08:00")) == ["newyork", "xiangshan"]


@pytest.mark.parametrize(
    ("kind", "now", "expected"),
    [
        # The last report of a program that ended is written after its end, none after.
        ("quarter", "2022-01-10T10:00:00+08:00", ["xiangshan"]),
        ("quarter", "2022-04-08T10:00:00+08:00", []),
        ("half", "2022-01-10T10:00:00+08:00", ["xiangshan"]),
        ("half", "2022-07-10T10:00:00+08:00", []),
        # Nothing before the first period of a program has ended.
        ("quarter", "2021-01-08T10:00:00+08:00", []),
        ("quarter", "2021-04-08T10:00:00+08:00", ["xiangshan"]),
    ],
)
def test_a_report_run_covers_the_programs_its_period_overlaps(
    isolated_environment: Path, tmp_path: Path, kind: str, now: str, expected: list[str]
) -> None:
    load("xiangshan", tmp_path=tmp_path)
    assert covered(now=at(now), kind=kind) == expected


def test_a_report_run_for_a_period_given_covers_the_programs_it_overlaps(
    isolated_environment: Path, tmp_path: Path
) -> None:
    load("xiangshan", "yinzhou", tmp_path=tmp_path)
    now = at("2030-01-01T00:00:00+00:00")
    assert covered(now=now, kind="quarter", period="2021Q4") == ["xiangshan", "yinzhou"]
    assert covered(now=now, kind="half", period="2022H1") == ["yinzhou"]


# --- the flows, run by Prefect ------------------------------------------------------------


def flow_runs(flow_name: str, since: datetime) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
    )

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)),
        )


def parent_of(child: Any) -> Any:
    """The flow run whose task started ``child``."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        task_run = client.read_task_run(child.parent_task_run_id)
        return client.read_flow_run(task_run.flow_run_id)


def set_limit(slots: int | None) -> None:
    """The global concurrency limit as an operator left it (``None``: there is none)."""
    from flows.fan_out import LIMIT
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(LIMIT)
            exists = True
        except ObjectNotFound:
            exists = False
        if slots is None:
            if exists:
                client.delete_global_concurrency_limit_by_name(LIMIT)
        elif exists:
            client.update_global_concurrency_limit(LIMIT, GlobalConcurrencyLimitUpdate(limit=slots))
        else:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=LIMIT, limit=slots)
            )


@pytest.mark.usefixtures("prefect_harness")
def test_one_program_failing_does_not_stop_the_others_and_status_names_it(
    isolated_environment: Path, tmp_path: Path
) -> None:
    from flows.fan_out import supervise_all
    from flows.supervise import flag_laggards

    load("xiangshan", "yinzhou", "ninghai", tmp_path=tmp_path)
    deliver_until(
        date(2021, 4, 6), "xiangshan", "ninghai", tmp_path=tmp_path, home=isolated_environment
    )
    # yinzhou is flagged for a later day already: its run for 2021-04-06 is refused.
    flag_laggards("yinzhou", as_of=date(2021, 4, 7))
    since = datetime.now(UTC)

    state = supervise_all(as_of=date(2021, 4, 6), settle_seconds=0, return_state=True)

    assert state.is_failed()
    assert "supervise failed for 1 of 3 programs: yinzhou; the others completed" in state.message
    children = {run.parameters["program"]: run for run in flow_runs("supervise", since)}
    assert {program: run.state_type.value for program, run in children.items()} == {
        "ninghai": "COMPLETED",
        "xiangshan": "COMPLETED",
        "yinzhou": "FAILED",
    }
    parents = {parent_of(run).id for run in children.values()}
    assert parents == {state.state_details.flow_run_id}  # child runs of this parent

    shown = CliRunner().invoke(app, ["status"])
    assert shown.exit_code == 1
    lines = shown.stdout.splitlines()
    yinzhou = lines[[line.startswith("yinzhou:") for line in lines].index(True) + 1 :]
    assert any(
        line.startswith("  supervise: failed for 2021-04-06")
        and "on record up to 2021-04-07" in line
        for line in yinzhou
    ), shown.stdout
    status = json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)
    last = {item["program"]: item["last_runs"]["supervise"] for item in status["programs"]}
    assert last["xiangshan"]["outcome"] == last["ninghai"]["outcome"] == "ok"
    assert last["yinzhou"]["outcome"] == "failed"
    assert "EarlierDayError" in last["yinzhou"]["error"]


@pytest.mark.usefixtures("prefect_harness")
def test_the_limit_is_created_once_and_bounds_the_programs_run_at_once(
    isolated_environment: Path, tmp_path: Path
) -> None:
    from flows.fan_out import SLOTS, ensure_limit, supervise_all

    load("xiangshan", "ninghai", "dinghai", tmp_path=tmp_path)
    # Files to take in: each run waits settle_seconds for them, so runs at once overlap.
    deliver_until(
        date(2021, 4, 6),
        "xiangshan",
        "ninghai",
        "dinghai",
        tmp_path=tmp_path,
        home=isolated_environment,
    )
    try:
        set_limit(None)
        assert ensure_limit() == SLOTS  # created where there was none
        set_limit(1)  # as an operator sets it: no run overwrites it
        assert ensure_limit() == 1
        since = datetime.now(UTC)

        done = supervise_all(as_of=date(2021, 4, 6), settle_seconds=0.5)

        assert [run.state for run in done.programs] == ["Completed"] * 3
        children = sorted(flow_runs("supervise", since), key=lambda run: run.start_time)
        assert len(children) == 3
        for before, after in itertools.pairwise(children):
            assert before.end_time <= after.start_time, "two programs ran at once"
    finally:
        set_limit(None)


@pytest.mark.usefixtures("prefect_harness")
def test_the_report_flows_over_every_program_write_and_record_each(
    isolated_environment: Path, tmp_path: Path
) -> None:
    from flows.fan_out import quarterly_reconciliation_all

    load("xiangshan", "ninghai", tmp_path=tmp_path)

    done = quarterly_reconciliation_all(quarter="2021Q1", send=False)

    assert [(run.program, run.state) for run in done.programs] == [
        ("ninghai", "Completed"),
        ("xiangshan", "Completed"),
    ]
    status = json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)
    for item in status["programs"]:
        run = item["last_runs"]["quarterly-reconciliation"]
        assert (run["as_of"], run["outcome"]) == ("2021-03-31", "ok")
    assert (isolated_environment / "reports" / "ninghai" / "2021Q1").is_dir()


@pytest.mark.usefixtures("prefect_harness")
def test_the_city_roll_up_of_every_city_writes_each_and_names_the_one_that_failed(
    isolated_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two cities over the loaded pilots: ningbo (the example: haishu and fenghua not
    loaded) is written; the other fails; the run fails naming it, and `status` shows each
    city's run under each of its pilots."""
    from flows.fan_out import city_rollup_all

    from pilot_tracker.errors import ReportError
    from pilot_tracker.reports import city as city_report
    from pilot_tracker.reports import documents

    load("xiangshan", "yinzhou", tmp_path=tmp_path)
    other = tmp_path / "zhoushan.yaml"
    other.write_text(
        "code: zhoushan\nname: 舟山市\noffice: 共青团舟山市委办公室\nprograms: [xiangshan]\n",
        encoding="utf-8",
    )
    cities = [str(ROOT / "examples" / "cities" / "ningbo.yaml"), str(other)]
    assert CliRunner().invoke(app, ["city", "load", *cities]).exit_code == 0
    written = city_report.write

    def write(**kwargs: Any) -> Any:
        if kwargs["city"] == "zhoushan":
            raise ReportError("the city's roll-up could not be written")
        return written(**kwargs)

    def fake_pdf(document: str, path: Path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        path.write_bytes(b"%PDF-1.7 stand-in\n")  # the real one is read back elsewhere
        return {}

    monkeypatch.setattr(city_report, "write", write)
    monkeypatch.setattr(documents, "pdf", fake_pdf)
    since = datetime.now(UTC)

    state = city_rollup_all(period="2021Q1", send=False, return_state=True)

    assert state.is_failed()
    assert "city-rollup failed for 1 of 2 cities: zhoushan; the others completed" in (state.message)
    folder = isolated_environment / "reports" / "cities" / "ningbo" / "2021Q1"
    assert sorted(path.suffix for path in folder.iterdir()) == [".docx", ".html", ".pdf", ".xlsx"]
    [parent] = flow_runs("city-rollup-all", since)
    assert parent.state_type.value == "FAILED"
    status = json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)
    last = {item["program"]: item["last_runs"] for item in status["programs"]}
    assert last["yinzhou"]["city-rollup ningbo"]["outcome"] == "ok"
    assert last["xiangshan"]["city-rollup ningbo"]["as_of"] == "2021-03-31"
    assert last["xiangshan"]["city-rollup zhoushan"]["outcome"] == "failed"
    assert "could not be written" in last["xiangshan"]["city-rollup zhoushan"]["error"]
    assert "city-rollup zhoushan" not in last["yinzhou"]
