"""The inbox folder under attack and accident: links, hard links, FIFOs, huge files, half
copies, files in the wrong place, every kind of file a unit may drop, and a killed run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.cli import app
from pilot_tracker.collect import collection
from pilot_tracker.collect.inbox import FolderSource, inbox_folder
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import validate_program
from pilot_tracker.models import Notification, Rejection, StatusReport, Submission

from .conftest import ROOT
from .test_program_file import SMALL

NOW = datetime(2021, 3, 31, 2, 0, tzinfo=UTC)
AS_OF = date(2021, 3, 31)
TEMPLATES = outbox.Templates(ROOT / "templates")
CSV = "任务编号,进展状态,完成进度,填报日期\nT-01,推进中,30,2021-03-20\n".encode()
MB = 1024 * 1024


def load(engine: sa.Engine) -> None:
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=validate_program(SMALL, "demo.yaml"),
            source_name="demo.yaml",
            source_sha256="",
            now=NOW,
        )


def run(engine: sa.Engine, home: Path, **extra: object) -> collection.CollectionResult:
    return collection.collect(
        engine=engine,
        program="demo",
        as_of=AS_OF,
        now=NOW,
        home=home,
        environ={},
        templates=TEMPLATES,
        settle_seconds=0,
        attempts=1,
        sleep=lambda _: None,
        **extra,
    )


def submissions(engine: sa.Engine) -> list[Submission]:
    with db.session(engine) as session:
        found = session.exec(select(Submission).order_by(col(Submission.id))).all()
        session.expunge_all()
        return list(found)


def notices(engine: sa.Engine) -> list[Notification]:
    with db.session(engine) as session:
        found = session.exec(select(Notification).order_by(col(Notification.id))).all()
        session.expunge_all()
        return list(found)


def archived(home: Path) -> list[Path]:
    return sorted(path for path in (home / "archive").rglob("*") if path.is_file())


def unit_folder(home: Path, unit: str = "jyj") -> Path:
    folder = inbox_folder(home / "inbox", "demo", unit)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def aged(path: Path, minutes: float) -> Path:
    """Set the file's modification time to ``minutes`` before NOW."""
    moment = (NOW - timedelta(minutes=minutes)).timestamp()
    os.utime(path, (moment, moment), follow_symlinks=False)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the inbox holding a secret that must never be archived or deleted."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_bytes(CSV)
    return folder


# --- 1. the inbox never walks out of itself ------------------------------------------------


@pytest.mark.parametrize("linked", ["unit", "program"])
def test_a_linked_folder_is_not_followed(
    sqlite_engine: sa.Engine, home: Path, outside: Path, linked: str
) -> None:
    load(sqlite_engine)
    (home / "inbox").mkdir(parents=True)
    if linked == "unit":
        (home / "inbox" / "demo").mkdir()
        os.symlink(outside, home / "inbox" / "demo" / "jyj")
        shown = "demo/jyj"
    else:
        (outside / "jyj").mkdir()
        (outside / "jyj" / "进展.csv").write_bytes(CSV)
        os.symlink(outside, home / "inbox" / "demo")
        shown = "demo"

    result = run(sqlite_engine, home)

    assert (outside / "secret.csv").read_bytes() == CSV
    assert linked == "unit" or (outside / "jyj" / "进展.csv").exists()
    assert result.submissions == [] and submissions(sqlite_engine) == []
    assert archived(home) == []
    left = {item["path"]: item["reason"] for item in result.as_dict()["not_taken"]}
    assert "symbolic link" in left[shown]


def test_a_hard_link_to_a_file_elsewhere_is_refused(
    sqlite_engine: sa.Engine, home: Path, outside: Path
) -> None:
    load(sqlite_engine)
    os.link(outside / "secret.csv", unit_folder(home) / "进展.csv")

    result = run(sqlite_engine, home)

    assert archived(home) == [] and submissions(sqlite_engine) == []
    assert (unit_folder(home) / "进展.csv").exists() and (outside / "secret.csv").exists()
    (item,) = result.as_dict()["not_taken"]
    assert item["path"] == "demo/jyj/进展.csv" and "hard link" in item["reason"]


def test_links_fifos_and_folders_in_a_unit_folder_are_left_and_reported(
    sqlite_engine: sa.Engine, home: Path, outside: Path
) -> None:
    load(sqlite_engine)
    folder = unit_folder(home)
    os.symlink(outside / "secret.csv", folder / "link.csv")
    os.mkfifo(folder / "pipe.csv")
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.csv").write_bytes(CSV)
    (folder / "进展.csv").write_bytes(CSV)

    result = run(sqlite_engine, home)

    assert [(s.file, s.status) for s in result.submissions] == [("进展.csv", "imported")]
    left = {item["path"]: item["reason"] for item in result.as_dict()["not_taken"]}
    assert "symbolic link" in left["demo/jyj/link.csv"]
    assert "not a regular file" in left["demo/jyj/pipe.csv"]
    assert "folder" in left["demo/jyj/sub"]
    assert (folder / "link.csv").is_symlink() and (folder / "sub" / "nested.csv").exists()
    assert (outside / "secret.csv").exists()


def test_a_file_swapped_for_a_link_after_the_scan_is_not_read(
    tmp_path: Path, outside: Path
) -> None:
    folder = tmp_path / "inbox" / "demo" / "jyj"
    folder.mkdir(parents=True)
    target = str(outside / "secret.csv")
    candidate = folder / "进展.csv"
    candidate.write_bytes(b"x" * len(target))  # the link will have the same size
    stat = candidate.lstat()

    def swap(_: float) -> None:
        candidate.unlink()
        os.symlink(target, candidate)
        os.utime(candidate, ns=(stat.st_atime_ns, stat.st_mtime_ns), follow_symlinks=False)

    source = FolderSource("jyj", folder)
    scanned = source.snapshot()
    swap(0)  # between the scan and the read
    pull = source.pull(scanned)

    assert all(CSV not in pulled.payload.data for pulled in pull.pulled)
    assert pull.pulled == []
    assert candidate.is_symlink() and (outside / "secret.csv").exists()


def _folder_with(tmp_path: Path, age: float) -> tuple[FolderSource, datetime]:
    """A unit folder holding one CSV last written ``age`` seconds before the run's now."""
    folder = tmp_path / "inbox" / "demo" / "jyj"
    folder.mkdir(parents=True)
    path = folder / "进展.csv"
    path.write_bytes(CSV)
    now = datetime(2021, 3, 31, 1, 0, tzinfo=UTC)
    stamp = now.timestamp() - age
    os.utime(path, (stamp, stamp))
    return FolderSource("jyj", folder, root=tmp_path / "inbox"), now


def test_files_that_landed_before_the_run_are_read_without_waiting(tmp_path: Path) -> None:
    source, now = _folder_with(tmp_path, age=3600)
    waits: list[float] = []

    (pull,) = collection.pull_folders([source], settle_seconds=1, sleep=waits.append, now=now)

    assert waits == []
    assert [pulled.payload.name for pulled in pull.pulled] == ["进展.csv"]


def test_a_file_written_a_moment_ago_waits_until_it_is_old_enough_and_is_read_if_unchanged(
    tmp_path: Path,
) -> None:
    source, now = _folder_with(tmp_path, age=0.25)
    waits: list[float] = []

    (pull,) = collection.pull_folders([source], settle_seconds=1, sleep=waits.append, now=now)

    assert waits == [pytest.approx(0.75)]
    assert [pulled.payload.name for pulled in pull.pulled] == ["进展.csv"]


def test_a_file_stamped_ahead_of_the_runs_clock_waits_the_whole_settle(tmp_path: Path) -> None:
    source, now = _folder_with(tmp_path, age=-120)  # another machine's clock
    waits: list[float] = []

    collection.pull_folders([source], settle_seconds=1, sleep=waits.append, now=now)

    assert waits == [1]


def test_a_file_swapped_for_a_fifo_after_the_scan_never_blocks(tmp_path: Path) -> None:
    # On unfixed code the read blocks for ever: it runs in a child with a deadline.
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from pilot_tracker.collect.inbox import FolderSource
        folder = Path({str(tmp_path)!r}) / "inbox" / "demo" / "jyj"
        folder.mkdir(parents=True)
        candidate = folder / "进展.csv"
        candidate.write_bytes(b"")
        stat = candidate.lstat()
        def swap(_):
            candidate.unlink()
            os.mkfifo(candidate)
            os.utime(candidate, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        source = FolderSource("jyj", folder)
        scanned = source.snapshot()
        swap(0)  # between the scan and the read
        pull = source.pull(scanned)
        print(len(pull.pulled), candidate.exists())
        """
    )
    done = limited(script, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True"]


def test_a_file_replaced_while_it_was_taken_in_stays(sqlite_engine: sa.Engine, home: Path) -> None:
    load(sqlite_engine)
    first = unit_folder(home) / "进展.csv"
    first.write_bytes(CSV)
    (source,) = [
        s
        for s in collection.open_sources(
            engine=sqlite_engine, program="demo", inbox=home / "inbox", environ={}
        )
        if s.unit == "jyj"
    ]
    pulls = collection.pull_folders(
        [source], settle_seconds=0, sleep=lambda _: None, now=datetime.now(UTC)
    )
    corrected = CSV.replace(b",30,", b",35,")
    first.unlink()
    first.write_bytes(corrected)  # the unit sends a corrected file under the same name

    collection.take(
        engine=sqlite_engine,
        program="demo",
        pulls=pulls,
        as_of=AS_OF,
        now=NOW,
        home=home,
        templates=TEMPLATES,
    )

    assert first.read_bytes() == corrected  # not read yet: it waits for the next run
    assert len(submissions(sqlite_engine)) == 1


def test_a_damaged_archive_copy_is_rewritten_before_the_inbox_file_goes(
    sqlite_engine: sa.Engine, home: Path
) -> None:
    import hashlib

    load(sqlite_engine)
    (unit_folder(home) / "进展.csv").write_bytes(CSV)
    digest = hashlib.sha256(CSV).hexdigest()
    damaged = home / "archive" / digest[:2] / digest
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(CSV[:10])  # e.g. left by a disk that filled up

    run(sqlite_engine, home)

    assert damaged.read_bytes() == CSV
    assert not (unit_folder(home) / "进展.csv").exists()


# --- 5. size is checked before anything is read ----------------------------------------------


def limited(script: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a Python script in a child with hard limits: 1 GiB of memory, 64 MiB files."""

    def limits() -> None:
        import resource
        import signal

        resource.setrlimit(resource.RLIMIT_AS, (1024 * MB, 1024 * MB))
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * MB, 64 * MB))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limits,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )


COLLECT_IN_A_CHILD = """
import json
from datetime import UTC, date, datetime
from pathlib import Path
from pilot_tracker import db
from pilot_tracker.collect import collection
from pilot_tracker.alerts import outbox
engine = db.make_engine({url!r})
result = collection.collect(
    engine=engine, program="demo", as_of=date(2021, 3, 31),
    now=datetime(2021, 3, 31, 2, tzinfo=UTC), home=Path({home!r}), environ={{}},
    templates=outbox.Templates(Path({templates!r})), settle_seconds=0, attempts=1,
    sleep=lambda _: None,
)
print(json.dumps(result.as_dict(), ensure_ascii=False))
"""


def test_a_1_gb_file_is_refused_by_its_size_and_never_read_whole(
    tmp_path: Path, home: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = db.make_engine(url)
    db.migrate(engine)
    load(engine)
    big = unit_folder(home) / "进展.xlsx"
    head = b"PK\x03\x04" + os.urandom(MB)
    big.write_bytes(head)
    os.truncate(big, 1024 * MB)  # sparse: a gigabyte that costs no disk

    done = limited(
        COLLECT_IN_A_CHILD.format(url=url, home=str(home), templates=str(ROOT / "templates")),
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    (summary,) = json.loads(done.stdout)["submissions"]
    assert summary["status"] == "rejected"
    (line,) = summary["rejections"]
    assert "20 MB" in line["reason"] and "1024 MB" in line["reason"]
    assert not big.exists()  # its record is kept: it leaves the inbox
    assert sum(path.stat().st_size for path in archived(home)) <= MB
    (record,) = submissions(engine)
    assert (record.status, record.size, record.archived) == ("rejected", 1024 * MB, "head")
    with db.session(engine) as session:
        (rejection,) = session.exec(select(Rejection)).all()
        assert "前 1 MB" in rejection.reason
    (notice,) = notices(engine)
    assert notice.target == "unit:jyj role:liaison" and "20 MB" in notice.body
    engine.dispose()


def test_the_first_mb_of_a_refused_file_is_not_mistaken_for_a_whole_file(
    sqlite_engine: sa.Engine, home: Path
) -> None:
    load(sqlite_engine)
    # Padded with short blank lines: under the row cap, and no field over the CSV limit.
    pad = MB - len(CSV)
    head = CSV + (b" " * 99 + b"\n") * (pad // 100) + b" " * (pad % 100 - 1) + b"\n"
    assert len(head) == MB
    big = unit_folder(home) / "big.csv"
    big.write_bytes(head)
    os.truncate(big, 30 * MB)
    first = run(sqlite_engine, home)
    assert [s.status for s in first.submissions] == ["rejected"]

    (unit_folder(home) / "small.csv").write_bytes(head)  # exactly the first MB, whole
    second = run(sqlite_engine, home)

    assert [(s.file, s.status, s.imported) for s in second.submissions] == [
        ("small.csv", "imported", 1)
    ]
    whole = [s for s in submissions(sqlite_engine) if s.archived == "whole"]
    assert [(s.filename, s.size) for s in whole] == [("small.csv", MB)]
    assert (home / whole[0].archive_path).read_bytes() == head


def test_a_file_that_grows_after_its_size_was_checked_is_read_no_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "inbox" / "demo" / "jyj"
    folder.mkdir(parents=True)
    growing = folder / "进展.csv"
    growing.write_bytes(CSV)
    os.truncate(growing, 30 * MB)
    real_fstat = os.fstat

    def fstat_before_growth(fd: int) -> os.stat_result:
        # What fstat would have said a moment before a writer appended 30 MB.
        stat = real_fstat(fd)
        fields = list(stat)
        fields[6] = len(CSV)
        extra = ("st_atime_ns", "st_mtime_ns", "st_ctime_ns", "st_blksize", "st_blocks")
        return os.stat_result(fields, {name: getattr(stat, name) for name in extra})

    monkeypatch.setattr(os, "fstat", fstat_before_growth)
    pull = FolderSource("jyj", folder).pull()

    (pulled,) = pull.pulled
    assert pulled.payload.oversized and len(pulled.payload.data) == MB
    assert pulled.payload.size > 20 * MB


# --- 6. a file still being copied is never lost ----------------------------------------------


def workbook_bytes(suffix: str = ".xlsx") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "任务进展"
    sheet.append(["任务编号", "进展状态", "完成进度", "填报日期"])
    sheet.append(["T-01", "推进中", 30, "2021-03-20"])
    stream = io.BytesIO()
    book.save(stream)
    if suffix != ".xlsm":
        return stream.getvalue()
    # A macro-enabled workbook: its own content type and a VBA project openpyxl never runs.
    source = zipfile.ZipFile(io.BytesIO(stream.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
            target.writestr(item, data)
        target.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not a real macro")
    return out.getvalue()


HALF_FILES = {
    "进展.xlsx": workbook_bytes()[:700],
    "进展.json": json.dumps(
        {"tasks": [{"任务编号": "T-01", "进展状态": "推进中", "完成进度": 30}]},
        ensure_ascii=False,
    ).encode()[:40],
    "内层.json": json.dumps(  # cut right after an inner object: it ends with "}"
        {"tasks": [{"任务编号": "T-01", "进展状态": "推进中", "完成进度": 30}]},
        ensure_ascii=False,
    ).encode()[:-2],
    "进展.csv": CSV[:-8],
    "进展-utf16.csv": CSV.decode().encode("utf-16-le")[:-16],
    "空文件.xlsx": b"",
}


@pytest.mark.parametrize("name", sorted(HALF_FILES))
def test_a_half_copied_file_waits_while_it_is_young(
    sqlite_engine: sa.Engine, home: Path, name: str
) -> None:
    load(sqlite_engine)
    half = unit_folder(home) / name
    half.write_bytes(HALF_FILES[name])
    aged(half, 3)

    waiting = run(sqlite_engine, home)

    assert half.read_bytes() == HALF_FILES[name]
    assert waiting.submissions == [] and submissions(sqlite_engine) == []
    assert archived(home) == [] and notices(sqlite_engine) == []
    (item,) = waiting.as_dict()["waiting"]
    assert item["unit"] == "jyj" and item["file"] == name and item["reason"]

    aged(half, 20)  # the writer never came back: it is taken as it is
    taken = run(sqlite_engine, home)

    (summary,) = taken.submissions
    assert not half.exists()
    (record,) = submissions(sqlite_engine)
    assert (home / record.archive_path).read_bytes() == HALF_FILES[name]
    if summary.status == "rejected":
        assert notices(sqlite_engine)


def test_a_complete_young_file_is_taken_at_once(sqlite_engine: sa.Engine, home: Path) -> None:
    load(sqlite_engine)
    (unit_folder(home) / "进展.xlsx").write_bytes(workbook_bytes())
    aged(unit_folder(home) / "进展.xlsx", 1)
    result = run(sqlite_engine, home)
    assert [(s.status, s.imported) for s in result.submissions] == [("imported", 1)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_complete_young_utf16_csv_is_taken_at_once(
    sqlite_engine: sa.Engine, home: Path, encoding: str
) -> None:
    load(sqlite_engine)
    # Excel's "Unicode text": UTF-16 with CRLF line ends; in LE the last byte is a NUL
    path = unit_folder(home) / "进展.csv"
    path.write_bytes(CSV.decode().replace("\n", "\r\n").encode(encoding))
    aged(path, 1)
    result = run(sqlite_engine, home)
    assert result.waiting == []
    assert [(s.status, s.imported) for s in result.submissions] == [("imported", 1)]


def test_collect_leaves_a_half_copied_workbook_for_the_next_run(
    isolated_environment: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    program = tmp_path / "demo.yaml"
    program.write_text(json.dumps(SMALL, ensure_ascii=False))
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(program)]).exit_code == 0
    half = inbox_folder(isolated_environment / "inbox", "demo", "jyj") / "进展.xlsx"
    half.parent.mkdir(parents=True)
    half.write_bytes(workbook_bytes()[:900])  # written just now, and cut short

    result = runner.invoke(app, ["collect", "--program", "demo", "--as-of", "2021-03-31"])

    assert result.exit_code == 0, result.stderr
    assert half.exists()
    assert "left for the next run: jyj/进展.xlsx" in result.stdout
    assert "nothing new in any source" in result.stdout


# --- 9. files in the wrong place are reported, never guessed -----------------------------------


def test_files_in_the_wrong_place_are_reported_and_the_office_warned_once(
    sqlite_engine: sa.Engine, home: Path
) -> None:
    load(sqlite_engine)
    program = home / "inbox" / "demo"
    unit_folder(home)
    (program / "loose.csv").write_bytes(CSV)
    for folder in ("JYJ", "nobody", "jyj/2021年3月"):
        (program / folder).mkdir(parents=True)
        (program / folder / "进展.csv").write_bytes(CSV)
    (home / "inbox" / "Demo").mkdir()
    (home / "inbox" / "Demo" / "进展.csv").write_bytes(CSV)

    result = run(sqlite_engine, home)

    assert result.submissions == [] and submissions(sqlite_engine) == []
    left = {item["path"]: item for item in result.as_dict()["not_taken"]}
    assert set(left) == {
        "demo/loose.csv",
        "demo/JYJ/进展.csv",
        "demo/nobody/进展.csv",
        "demo/jyj/2021年3月",
        "Demo",
    }
    assert "jyj" in left["demo/JYJ/进展.csv"]["reason"]  # says which folder was meant
    for path in left:
        assert (home / "inbox" / path).exists()
    warned = notices(sqlite_engine)
    assert {notice.target for notice in warned} == {"role:office"}
    assert len(warned) == 5  # one per file; delivery sends them as one digest
    body = "".join(notice.body for notice in warned)
    assert "demo/nobody/进展.csv" in body and "未导入" in body and "大小写" in body

    again = run(sqlite_engine, home)
    assert len(again.as_dict()["not_taken"]) == 5
    assert len(notices(sqlite_engine)) == 5  # warned once


def test_a_flood_of_misplaced_files_is_reported_in_bounds(
    sqlite_engine: sa.Engine, home: Path
) -> None:
    load(sqlite_engine)
    unit_folder(home)
    for number in range(300):
        folder = home / "inbox" / "demo" / f"x{number:03}"
        folder.mkdir()
        for inner in range(3):
            (folder / f"{inner}.csv").write_bytes(b"")
    left = run(sqlite_engine, home).as_dict()["not_taken"]
    assert 100 <= len(left) <= 202
    assert left[-1] == {"path": "demo", "reason": "and more, not listed"}
    assert len(notices(sqlite_engine)) == 20  # the office hears of the rest on later runs
    run(sqlite_engine, home)
    assert len(notices(sqlite_engine)) == 40


def test_an_inbox_the_operator_linked_to_a_shared_drive_is_read(
    sqlite_engine: sa.Engine, home: Path, tmp_path: Path
) -> None:
    load(sqlite_engine)
    share = tmp_path / "share"
    (share / "demo" / "jyj").mkdir(parents=True)
    (share / "demo" / "jyj" / "进展.csv").write_bytes(CSV)
    home.mkdir()
    os.symlink(share, home / "inbox")
    (summary,) = run(sqlite_engine, home).submissions
    assert (summary.status, summary.imported) == ("imported", 1)
    assert not (share / "demo" / "jyj" / "进展.csv").exists()


def test_collect_and_status_show_misplaced_files(
    isolated_environment: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    program = tmp_path / "demo.yaml"
    program.write_text(json.dumps(SMALL, ensure_ascii=False))
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(program)]).exit_code == 0
    stray = isolated_environment / "inbox" / "demo" / "进展.csv"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(CSV)
    unknown = isolated_environment / "inbox" / "other" / "jyj" / "进展.csv"
    unknown.parent.mkdir(parents=True)
    unknown.write_bytes(CSV)

    shown = runner.invoke(app, ["collect", "--program", "demo", "--as-of", "2021-03-31"])
    as_json = runner.invoke(
        app, ["collect", "--program", "demo", "--as-of", "2021-03-31", "--json"]
    )
    status = runner.invoke(app, ["status"])
    status_json = runner.invoke(app, ["status", "--json"])

    assert shown.exit_code == 0 and "not taken: demo/进展.csv" in shown.stdout
    assert [item["path"] for item in json.loads(as_json.stdout)["not_taken"]] == ["demo/进展.csv"]
    assert status.exit_code == 1 and "demo/进展.csv" in status.stdout
    assert "not taken from the inbox: other: folder outside" in status.stdout
    state = json.loads(status_json.stdout)
    (program_state,) = state["programs"]
    assert [item["path"] for item in program_state["not_taken"]] == ["demo/进展.csv"]
    assert [item["path"] for item in state["inbox_not_taken"]] == ["other"]
    assert stray.exists() and unknown.exists()


# --- 15. every kind of file, and what a killed run leaves -------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("进展.txt", CSV),
        (
            "进展.json",
            json.dumps(
                {"tasks": [{"任务编号": "T-01", "进展状态": "推进中", "完成进度": 30}]},
                ensure_ascii=False,
            ).encode(),
        ),
        ("进展.xlsm", workbook_bytes(".xlsm")),
        ("进展.XLSX", workbook_bytes()),
    ],
)
def test_every_documented_kind_of_file_is_read(
    sqlite_engine: sa.Engine, home: Path, name: str, data: bytes
) -> None:
    load(sqlite_engine)
    (unit_folder(home) / name).write_bytes(data)
    (summary,) = run(sqlite_engine, home).submissions
    assert (summary.file, summary.status, summary.imported) == (name, "imported", 1)
    with db.session(sqlite_engine) as session:
        assert len(session.exec(select(StatusReport)).all()) == 1


def test_any_other_file_is_archived_and_refused_with_what_to_do(
    sqlite_engine: sa.Engine, home: Path
) -> None:
    load(sqlite_engine)
    (unit_folder(home) / "进展.pdf").write_bytes(b"%PDF-1.4 a scanned report")
    (summary,) = run(sqlite_engine, home).submissions
    assert summary.status == "rejected"
    assert ".xlsx" in summary.rejections[0].reason
    assert [path.read_bytes() for path in archived(home)] == [b"%PDF-1.4 a scanned report"]


def test_a_killed_run_leaves_no_temporaries_after_the_next_run(
    sqlite_engine: sa.Engine, home: Path, outside: Path
) -> None:
    load(sqlite_engine)
    folder = home / "archive" / "ab"
    folder.mkdir(parents=True)
    old, fresh, theirs = folder / ".k3j_x9q2.part", folder / ".m2n8b7v1.part", folder / "notes.part"
    old.write_bytes(b"half an archive copy")
    fresh.write_bytes(b"another run is writing this")
    theirs.write_bytes(b"not ours")
    aged(old, 120), aged(fresh, 1), aged(theirs, 120)
    os.symlink(outside / "secret.csv", folder / ".zzzzzzzz.part")

    run(sqlite_engine, home)

    assert not old.exists()
    assert fresh.exists() and theirs.exists() and (folder / ".zzzzzzzz.part").is_symlink()
    assert (outside / "secret.csv").exists()
