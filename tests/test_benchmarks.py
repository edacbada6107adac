"""The benchmark scripts' builders make what they say (not timed: timing is theirs)."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.ledger import cities, store
from pilot_tracker.models import (
    Escalation,
    IndicatorReading,
    RunRecord,
    StatusReport,
    Submission,
)
from pilot_tracker.settings import DATABASE_FILE, PROJECT_TEMPLATES, Settings

from .conftest import ROOT


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


province = _script("province")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'home' / DATABASE_FILE}"


def test_a_small_province_is_built_and_its_day_supervised(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two programs of the examples' shape with three months of history: their ledger, the
    city of both, the history's mix, an escalation history, the day's workbooks in the
    inbox; the day's supervise of one program takes every one of its workbooks."""
    home = tmp_path / "home"
    built = province.build(
        url=database,
        home=home,
        programs=2,
        say=lambda line: None,
        months=3,
        flag_days=province.FLAG_DAYS[-1:],
    )
    assert built.programs == ["p001", "p002"]
    engine = db.make_engine(database)
    with db.session(engine) as session:
        for code in built.programs:
            spec = store.read_program(session=session, code=code)
            assert (len(spec.units), len(spec.tasks), len(spec.indicators)) == (37, 31, 13)
            kinds = [task.list_kind for task in spec.tasks]
            assert [kinds.count(k) for k in ("mechanism", "development", "personalised")] == [
                10,
                15,
                6,
            ]
            assert spec.start <= province.DAY <= spec.end
        assert cities.read_city(session=session, code="province").programs == built.programs
        periods = set(session.exec(select(StatusReport.period)).all())
        assert periods == {"2022-11", "2022-12", "2023-01"}
        statuses = set(session.exec(select(StatusReport.status)).all())
        assert {"in_progress", "completed", "delayed"} <= statuses
        after_deadline = select(sa.func.count()).where(
            StatusReport.period == "2023-01", StatusReport.reported_on > date(2023, 1, 25)
        )
        assert session.exec(after_deadline).one() > 0  # some units report late
        assert session.exec(select(sa.func.count()).select_from(IndicatorReading)).one() > 0
        assert session.exec(select(sa.func.count()).select_from(Escalation)).one() > 0
    inbox = home / "inbox" / "p001"
    files = sorted(path for path in inbox.rglob("*") if path.is_file())
    assert len(files) >= 10 and {path.suffix for path in files} <= {".xlsx", ".csv"}

    settings = Settings(home=home, database_url=database, templates=PROJECT_TEMPLATES)
    templates = outbox.Templates(PROJECT_TEMPLATES, links=settings.link_issuer())
    summary = province.supervise_program(
        engine=engine, settings=settings, templates=templates, program="p001", day=province.DAY
    )
    assert summary["submissions"] == len(files)
    assert not any(path.is_file() for path in inbox.rglob("*"))
    with db.session(engine) as session:
        record = session.exec(select(RunRecord).where(RunRecord.flow == "supervise")).one()
        assert (record.program, record.as_of, record.outcome) == ("p001", province.DAY, "ok")
        stored = session.exec(select(sa.func.count()).select_from(Submission)).one()
        assert stored == built.counts["submissions"] + len(files)
    engine.dispose()

    # The flag against the scan: the day's first flag, and the day again, each timed.
    monkeypatch.setenv("PILOT_TRACKER_HOME", str(home))
    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", database)
    figures = province.flag_against_scan("p001", province.DAY, times=2, profile=False)
    assert len(figures["first_flag_runs"]) == len(figures["flag_runs"]) == 2
    assert figures["findings"] > 0 and figures["rows"] > 0


province_run = _script("province_run")


def test_a_backlog_is_built_and_its_floor_reads_every_file(tmp_path: Path) -> None:
    """The six months of workbooks in the inbox of a program with no history; the floor's
    reader reads rows from every one, as intake would."""
    built = province_run.build_backlog(tmp_path / "home", 1)
    files = sorted(path for path in (tmp_path / "home" / "inbox").rglob("*") if path.is_file())
    assert built.inbox_files == len(files) >= 100  # six months of some 30 units
    months = {path.name.split("-", 1)[1][:7] for path in files if "-20" in path.name}
    assert {"2022-08", "2023-01"} <= months and "2023-02" not in months
    assert built.counts["submissions"] == 0 and built.counts["flags"] == 0
    assert all(province_run.read_once(path.read_bytes(), path.name) > 0 for path in files)


def test_a_childs_peak_memory_is_its_own(tmp_path: Path) -> None:
    """A child of a large process reports that process's peak as its own; the launcher's
    child reports its own."""
    big = bytearray(300 * 1024 * 1024)
    big[::4096] = b"\x01" * len(big[::4096])
    ran = province_run.run([sys.executable, "-c", "pass"], {}, timeout=60)
    assert ran["code"] == 0 and ran["peak_mb"] < 100
    del big
