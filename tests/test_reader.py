"""The reader process: payloads read in a child, as this process would read them; whatever
goes wrong with the child costs nothing but the overlap."""

from __future__ import annotations

import io
import logging
import shutil
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from pilot_tracker.collect import intake, reader
from pilot_tracker.collect.payload import Payload
from pilot_tracker.collect.reader import ReaderProcess, read_here
from pilot_tracker.demo.submissions import deliver
from pilot_tracker.errors import PayloadError
from pilot_tracker.ledger.program_file import ProgramSpec, read_program_file

from .conftest import EXAMPLES
from .test_collection import load, run


@pytest.fixture(scope="module")
def xiangshan() -> ProgramSpec:
    return read_program_file(EXAMPLES / "xiangshan.yaml")


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory, xiangshan: ProgramSpec) -> list[Payload]:
    """A quarter of the demo's files (workbooks, a GBK CSV, messy ones), and three that
    are refused: not a workbook, a zip bomb's ratio, and an empty file."""
    inbox = tmp_path_factory.mktemp("home") / "inbox"
    deliver(spec=xiangshan, inbox=inbox, since=None, until=date(2021, 3, 31))
    files = sorted(path for path in inbox.rglob("*") if path.is_file())
    found = [Payload(path.name, path.read_bytes(), "folder") for path in files]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b" " * 5_000_000 + b"</a>")
    refused = [
        Payload("报表.xlsx", b"PK\x03\x04 not a zip at all", "folder"),
        Payload("炸弹.xlsx", bomb.getvalue(), "folder"),
        Payload("空.csv", b"", "folder"),
    ]
    return found[:40] + refused


def outcome(read: object, payload: Payload) -> object:
    """What reading ``payload`` gives: what was read, or the refusal's message."""
    try:
        return read(payload)  # type: ignore[operator]
    except PayloadError as error:
        return ("refused", str(error))


class Counted:
    """Which payloads were read where: sent to the child, or read in this process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.here: list[str] = []
        self.sent: list[str] = []
        read, send = reader.read_here, ReaderProcess._send

        def read_here(payload: Payload) -> object:
            self.here.append(payload.name)
            return read(payload)

        def sent(process: ReaderProcess, payload: Payload) -> int:
            self.sent.append(payload.name)
            return send(process, payload)

        monkeypatch.setattr(reader, "read_here", read_here)
        monkeypatch.setattr(ReaderProcess, "_send", sent)


def test_the_child_reads_each_payload_as_this_process_would(
    payloads: list[Payload], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each payload is read once, by the child or (while the child works) by this
    process, and gives what this process alone would read."""
    expected = [outcome(read_here, payload) for payload in payloads]
    assert sum(isinstance(item, tuple) for item in expected) == 3  # the three refused
    counted = Counted(monkeypatch)
    with ReaderProcess(least=0) as process:
        reading = process.reading(payloads)
        assert [outcome(reading.read, payload) for payload in payloads] == expected
        assert process.broken == ""
    assert sorted(counted.here + counted.sent) == sorted(payload.name for payload in payloads)
    assert counted.sent  # the child read (this process reads only while it waits)


def test_this_process_reads_ahead_while_a_slow_child_works(
    payloads: list[Payload], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child slow at each payload: this process reads the payloads not yet sent while it
    waits, at most ``READ_AHEAD`` of them early, each still read once and in its place."""
    slow = tmp_path / "slow.py"
    slow.write_text(
        "import time\n"
        "from pilot_tracker.collect import reader\n"
        "read = reader.read_payload\n"
        "def slowly(*args):\n"
        "    time.sleep(0.05)\n"
        "    return read(*args)\n"
        "reader.read_payload = slowly\n"
        "reader.main()\n"
    )
    some = payloads[:24]
    expected = [outcome(read_here, payload) for payload in some]
    counted = Counted(monkeypatch)
    with ReaderProcess(command=[sys.executable, str(slow)], least=0, ahead=2) as process:
        reading = process.reading(some)
        got = []
        for payload in some:
            got.append(outcome(reading.read, payload))
            assert len(reading.read_ahead) <= reader.READ_AHEAD
    assert got == expected
    assert counted.here and counted.sent
    assert sorted(counted.here + counted.sent) == sorted(payload.name for payload in some)


def test_payloads_skipped_do_not_shift_the_answers(payloads: list[Payload]) -> None:
    """A duplicate is never read: asking for every third payload gets each its own."""
    asked = payloads[::3]
    with ReaderProcess(least=0, ahead=5) as process:
        reading = process.reading(payloads)
        got = [outcome(reading.read, payload) for payload in asked]
        again = process.reading(payloads[:2])  # the next run's, after one left unasked
        second = [outcome(again.read, payload) for payload in payloads[:2]]
    assert got == [outcome(read_here, payload) for payload in asked]
    assert second == [outcome(read_here, payload) for payload in payloads[:2]]


def test_the_child_starts_once_the_run_has_had_enough_payloads(
    payloads: list[Payload],
) -> None:
    """A day's few files are read here; the child starts once the run's programs together
    have sent ``least`` of them."""
    with ReaderProcess(least=8) as process:
        first = process.reading(payloads[:5])
        assert [outcome(first.read, payload) for payload in payloads[:5]] == [
            outcome(read_here, payload) for payload in payloads[:5]
        ]
        assert process._child is None
        second = process.reading(payloads[5:10])
        assert process._child is not None
        assert [outcome(second.read, payload) for payload in payloads[5:10]] == [
            outcome(read_here, payload) for payload in payloads[5:10]
        ]


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ([sys.executable, "-c", "pass"], "it stopped"),
        ([sys.executable, "-c", "import time; time.sleep(30)"], "it sent nothing within 0.5 s"),
        (["/nonexistent/python"], "it could not start"),
    ],
    ids=["dies", "hangs", "cannot-start"],
)
def test_a_child_that_fails_is_given_up_and_every_payload_still_read(
    payloads: list[Payload], command: list[str], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    some = payloads[:6]
    with (
        caplog.at_level(logging.WARNING),
        ReaderProcess(command=command, least=0, deadline=0.5) as process,
    ):
        reading = process.reading(some)
        child = process._child
        assert [outcome(reading.read, payload) for payload in some] == [
            outcome(read_here, payload) for payload in some
        ]
        assert process.broken.startswith(why)
        assert process._child is None
    if child is not None:
        assert child.poll() is not None  # stopped, not left behind
    assert "reading in this process" in caplog.text


def test_a_fault_in_the_child_is_raised_here(
    payloads: list[Payload], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payload the child fails on for a fault of ours is read again here, so the fault is
    raised where intake records it (with its traceback); the child goes on."""
    faulty = tmp_path / "faulty.py"
    faulty.write_text(
        "from pilot_tracker.collect import reader\n"
        "def broken(*args):\n"
        "    raise RuntimeError('a fault of ours')\n"
        "reader.read_payload = broken\n"
        "reader.main()\n"
    )

    def here(payload: Payload) -> object:
        raise RuntimeError(f"read here: {payload.name}")

    monkeypatch.setattr(reader, "read_here", here)
    with ReaderProcess(command=[sys.executable, str(faulty)], least=0) as process:
        reading = process.reading(payloads[:3])
        for payload in payloads[:3]:
            with pytest.raises(RuntimeError, match=f"read here: {payload.name}"):
                reading.read(payload)
        assert process.broken == ""


def test_closing_stops_the_child(payloads: list[Payload]) -> None:
    process = ReaderProcess(least=0)
    reading = process.reading(payloads[:2])
    reading.read(payloads[0])
    child = process._child
    assert child is not None and child.poll() is None
    process.close()
    assert child.poll() is not None


def test_collect_with_a_reader_stores_what_it_stores_without(
    tmp_path: Path, xiangshan: ProgramSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same inbox taken in with and without the child: the same submissions, reports
    and rejections; with it, each payload is read once, by the child or by this process
    while it waits."""
    from pilot_tracker import db

    sent = tmp_path / "sent"
    deliver(spec=xiangshan, inbox=sent, since=None, until=date(2021, 3, 31))
    stored = []
    for with_reader in (False, True):
        home = tmp_path / f"home-{with_reader}"
        engine = db.make_engine(f"sqlite:///{home}.db")
        db.migrate(engine)
        load(engine, xiangshan)
        shutil.copytree(sent, home / "inbox")
        if with_reader:

            def never(*args: object) -> None:
                raise AssertionError("intake read a payload itself")

            monkeypatch.setattr(intake, "read_payload", never)
            counted = Counted(monkeypatch)
            with ReaderProcess(least=0) as process:
                result = run(engine, home, "xiangshan", reader=process)
            read = sorted(counted.here + counted.sent)
            assert read == sorted(path.name for path in sent.rglob("*") if path.is_file())
            assert counted.sent
        else:
            result = run(engine, home, "xiangshan")
        assert len(result.submissions) >= 30
        with engine.connect() as connection:
            stored.append(
                [
                    connection.execute(sa.text(query)).all()
                    for query in (
                        "SELECT sha256, status, imported, updated, ignored, rejected"
                        " FROM submission ORDER BY sha256",
                        "SELECT s.sha256, r.task_id, r.period, r.status, r.percent,"
                        " r.reported_on, r.progress FROM status_report r"
                        " JOIN submission s ON s.id = r.submission_id ORDER BY 1, 2, 3",
                        'SELECT s.sha256, j.sheet, j.row, j."column", j.value, j.reason'
                        " FROM rejection j JOIN submission s ON s.id = j.submission_id"
                        " ORDER BY 1, 3, 4",
                    )
                ]
            )
        engine.dispose()
    assert stored[0] == stored[1]
    assert stored[0][1] and stored[0][2]  # reports and rejections both
