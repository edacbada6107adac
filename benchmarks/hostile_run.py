"""A whole run over hostile inputs: one load and one collect, each in a limited child.

Builds a fresh data home in a temporary folder, loads a small program (a few units, four
of them with ``http`` sources served on 127.0.0.1 by servers this script starts), then:

1. **load**: ``pilot-tracker program load`` of hostile program files and ledger workbooks
   (aliases, nesting, 10,000 units, 50 MB, a million blank rows, a cell at XFD1048576, a
   zip bomb, too many shared strings, aliases in a settings cell), each file alone and
   then all of them in one command;
2. **collect**: ``pilot-tracker collect --json`` over an inbox holding every hostile input
   at once (links, a hard link, a FIFO, a 1 GB sparse file, a half copy, misplaced files,
   hostile payloads) and the four HTTP sources (a trickle, a redirect to another origin,
   a gzip bomb, a 5xx).

Every command runs as a child limited to 2 GB of address space and 120 s of CPU
(``prlimit``), killed after 150 s of wall time; the script reads each child's peak RSS
from ``os.wait4`` and its wall time, prints a table and checks what each step answered.
It exits 1 if a check fails, if any step's peak RSS reaches 300 MB or if the collect takes
60 s or more.

Run from the repository root::

    .venv/bin/python benchmarks/hostile_run.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openpyxl

MAX_RSS_MB = 300
MAX_COLLECT_SECONDS = 60
CHILD_TIMEOUT = 150  # wall seconds before a child is killed
LIMIT_AS = 2 * 1024**3
LIMIT_CPU = 120
MB = 1024 * 1024
PROGRAM = "hostile"
AS_OF = "2021-03-26"
CLI = Path(sys.executable).with_name("pilot-tracker")
# The cage every step runs in. prlimit sets the limits and execs the command in the same
# process, so os.wait4 on it gives the command's own peak RSS. (Not preexec_fn: this
# script runs server threads, and a fork with threads must exec at once.)
CAGE = ["prlimit", f"--as={LIMIT_AS}", f"--cpu={LIMIT_CPU}", "--"]


@dataclass
class Step:
    name: str
    returncode: int
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str


@dataclass
class Run:
    home: Path
    environ: dict[str, str]
    logs: Path
    steps: list[Step] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def cli(self, name: str, *args: str | Path) -> Step:
        """One ``pilot-tracker`` command in a caged child: its outcome, wall time, peak RSS."""
        out, err = (
            self.logs / f"{len(self.steps):02d}.out",
            self.logs / f"{len(self.steps):02d}.err",
        )
        with out.open("wb") as stdout, err.open("wb") as stderr:
            started = time.perf_counter()
            child = subprocess.Popen(
                [*CAGE, str(CLI), *map(str, args)],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=self.environ,
                start_new_session=True,
            )
            status, usage = _wait(child.pid, CHILD_TIMEOUT)
            seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        step = Step(
            name,
            child.returncode,
            seconds,
            usage.ru_maxrss / 1024,  # KB on Linux
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
        )
        self.steps.append(step)
        return step

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)


def _wait(pid: int, timeout: float) -> tuple[int, resource.struct_rusage]:
    """``os.wait4`` with a deadline: past it, the child's own process group is killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage
        time.sleep(0.02)
    os.killpg(pid, signal.SIGKILL)  # the group start_new_session made for this child
    _, status, usage = os.wait4(pid, 0)
    return status, usage


# --- loopback HTTP sources ----------------------------------------------------------------


class Servers:
    """Loopback servers for the HTTP sources; each records the paths it was asked for."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self.threads: list[threading.Thread] = []
        self.hits: dict[str, list[str]] = {}
        # a gzip bomb: 1 GB of zeros in about 1 MB, compressed once, streamed
        packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        zeros = bytes(MB)
        self.bomb = b"".join([*(packer.compress(zeros) for _ in range(1024)), packer.flush()])

    def start(self, name: str, answer: Callable[[BaseHTTPRequestHandler], None]) -> int:
        hits = self.hits.setdefault(name, [])
        stop = self.stop

        class Handler(BaseHTTPRequestHandler):
            timeout = 30  # a client that goes quiet does not hold a thread for ever

            def do_GET(self) -> None:
                hits.append(self.path)
                if not stop.is_set():
                    answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
        thread.start()
        self.servers[name] = server
        self.threads.append(thread)
        return server.server_address[1]

    def close(self) -> None:
        self.stop.set()
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)

    def trickle(self, handler: BaseHTTPRequestHandler) -> None:
        """A byte a second of a JSON body, until the client gives up or the script ends."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        try:
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                if self.stop.wait(1.0):
                    return
        except OSError:
            return

    def gzip_bomb(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(self.bomb)))
        handler.end_headers()
        try:
            handler.wfile.write(self.bomb)
        except OSError:
            return

    @staticmethod
    def unavailable(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(503)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    @staticmethod
    def redirect_to(port: int) -> Callable[[BaseHTTPRequestHandler], None]:
        def answer(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(302)
            handler.send_header("Location", f"http://127.0.0.1:{port}/p.json")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        return answer

    @staticmethod
    def good(handler: BaseHTTPRequestHandler) -> None:
        body = b'{"tasks": []}'
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


# --- the program --------------------------------------------------------------------------

HTTP_UNITS = {  # unit: (server, deadline seconds)
    "htrickle": ("trickle", 4),
    "hredirect": ("redirect", 10),
    "hgzip": ("gzip", 10),
    "h503": ("503", 4),
}


def program_yaml(ports: dict[str, int]) -> str:
    lines = [
        f"code: {PROGRAM}",
        "name: 恶意输入压力试点",
        "level: municipal",
        "start: 2021-01-01",
        "end: 2021-12-31",
        "units:",
        "  - {code: u1, name: 单位一}",
        "  - {code: lnk, name: 链接单位}",
        "  - {code: jyj, name: 教育局}",
    ]
    for unit, (server, deadline) in HTTP_UNITS.items():
        lines += [
            f"  - code: {unit}",
            f"    name: 接口单位{unit}",
            "    sources:",
            "      - kind: http",
            f"        url: http://127.0.0.1:{ports[server]}/p.json",
            "        format: json",
            "        internal: true",
            "        timeout: 2",
            f"        deadline: {deadline}",
        ]
    lines += [
        "task_lists:",
        "  - {kind: development, name: 发展任务}",
        "tasks:",
    ]
    for number in range(1, 4):
        lines.append(
            f"  - {{code: T-0{number}, title: 任务{number}, list: development, lead_unit: u1,"
            " start: 2021-01-01, due: 2021-12-31}"
        )
    lines += [
        "indicators:",
        "  - {code: I-01, name: 投入资金, level: self_set, measure: 万元, owner: u1,",
        "     baseline: {value: 100, year: 2020}, target: {value: 200, year: 2021}}",
    ]
    return "\n".join(lines) + "\n"


# --- hostile program files and ledger workbooks -------------------------------------------


def billion_laughs() -> bytes:
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, 10):
        refs = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    lines.append(f"code: {PROGRAM}\nname: *lol9")
    return ("\n".join(lines) + "\n").encode()


def deep_yaml() -> bytes:
    return f"code: {PROGRAM}\nname: ".encode() + b"[" * 100_000 + b"]" * 100_000 + b"\n"


def many_units() -> bytes:
    head = "code: many\nname: 一万个单位\nlevel: municipal\nstart: 2021-01-01\nend: 2021-12-31\n"
    units = "".join(f"  - {{code: u{n}, name: 单位{n}}}\n" for n in range(10_000))
    return (head + "units:\n" + units).encode()


def sparse(path: Path, size: int, head: bytes = b"") -> None:
    with path.open("wb") as stream:
        stream.write(head)
        stream.truncate(size)


def sheet_part(ledger: Path, title: str) -> str:
    """The part of a sheet of a workbook openpyxl wrote (sheetN.xml, in tab order)."""
    workbook = openpyxl.load_workbook(ledger, read_only=True)
    try:
        return f"xl/worksheets/sheet{workbook.sheetnames.index(title) + 1}.xml"
    finally:
        workbook.close()


Chunks = Callable[[], Iterable[bytes]]


def rewrite(
    source: Path,
    target: Path,
    *,
    part: str = "",
    tail: Chunks = lambda: (),
    extra: dict[str, Chunks] | None = None,
    replace: tuple[bytes, bytes] = (b"", b""),
) -> None:
    """A copy of a workbook with ``tail`` streamed in before ``</sheetData>`` of ``part``,
    ``extra`` parts streamed in and ``replace`` done in every part; nothing big is held
    in memory."""
    old, new = replace
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info.filename)
            if old:
                data = data.replace(old, new)
            if info.filename != part:
                copy.writestr(info.filename, data, zipfile.ZIP_DEFLATED)
                continue
            head, end = data.split(b"</sheetData>", 1)
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with copy.open(entry, "w", force_zip64=True) as stream:
                stream.write(head)
                for chunk in tail():
                    stream.write(chunk)
                stream.write(b"</sheetData>" + end)
        for name, chunks in (extra or {}).items():
            entry = zipfile.ZipInfo(name)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with copy.open(entry, "w", force_zip64=True) as stream:
                for chunk in chunks():
                    stream.write(chunk)


def ledger_blank_rows() -> Iterator[bytes]:
    """A million formatted blank rows below the task table."""
    for start in range(100, 1_000_001, 1000):
        yield b"".join(
            b'<row r="%d"><c r="A%d" s="1"/></row>' % (n, n)
            for n in range(start, min(start + 1000, 1_000_001))
        )


def corner_cell() -> Iterator[bytes]:
    yield b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'


def zeros() -> Iterator[bytes]:
    """200 MB of zeros: a part of some 200 kB declaring 200 MB (a zip bomb)."""
    block = bytes(MB)
    for _ in range(200):
        yield block


def shared_strings() -> Iterator[bytes]:
    """150,000 distinct texts (openpyxl would load every one on opening)."""
    yield (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    )
    for start in range(0, 150_000, 1000):
        yield b"".join(
            b"<si><t>%s</t></si>" % hashlib.sha256(b"%d" % n).hexdigest()[:12].encode()
            for n in range(start, start + 1000)
        )
    yield b"</sst>"


def hostile_ledgers(ledger: Path, folder: Path) -> list[str]:
    """Ledger workbooks built from a real export; the names of those written."""
    tasks = sheet_part(ledger, "任务")
    laughs = billion_laughs().replace(b"&", b"&amp;").replace(b"\n", b"&#10;")
    laughs = laughs.replace(b'"', b"&quot;")
    built: dict[str, dict[str, object]] = {
        "ledger-blank-rows.xlsx": {"part": tasks, "tail": ledger_blank_rows},
        "ledger-corner.xlsx": {"part": tasks, "tail": corner_cell},
        "ledger-zip-bomb.xlsx": {"extra": {"xl/media/image1.bin": zeros}},
        "ledger-shared-strings.xlsx": {"extra": {"xl/sharedStrings.xml": shared_strings}},
        # the rules cell (规则设置) holds YAML: a billion laughs there
        "ledger-rules-aliases.xlsx": {"replace": (b"<t>{}</t>", b"<t>" + laughs + b"</t>")},
    }
    for name, how in built.items():
        rewrite(ledger, folder / name, **how)  # type: ignore[arg-type]
    return list(built)


# --- the hostile inbox --------------------------------------------------------------------

TASK_HEADERS = "任务编号,进展状态,完成进度,进展情况,存在问题,下步计划,佐证材料,填报日期"


def xlsx_bytes(folder: Path, sheets: list[tuple[str, list[list[object]], str]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows, state in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        sheet.sheet_state = state
    workbook.active = next(n for n, (_, _, state) in enumerate(sheets) if state == "visible")
    path = folder / "scratch.xlsx"
    workbook.save(path)
    data = path.read_bytes()
    path.unlink()
    return data


def blank_rows_xlsx(path: Path, scratch: Path) -> None:
    """A progress sheet with a header, one row, then a million blank rows: raw XML in a zip."""
    base = xlsx_bytes(scratch, [("任务进展", [["任务编号", "完成进度"], ["T-01", 30]], "visible")])
    (scratch / "base.xlsx").write_bytes(base)

    def rows() -> Iterator[bytes]:
        for start in range(3, 1_000_001, 1000):
            yield b"".join(
                b'<row r="%d"><c r="A%d" t="inlineStr"><is><t> </t></is></c><c r="C%d"/></row>'
                % (n, n, n)
                for n in range(start, min(start + 1000, 1_000_001))
            )

    rewrite(scratch / "base.xlsx", path, part="xl/worksheets/sheet1.xml", tail=rows)
    (scratch / "base.xlsx").unlink()


def build_inbox(home: Path, outside: Path, scratch: Path) -> None:
    """Every hostile input at once in the program's inbox; the outside files links reach."""
    inbox = home / "inbox" / PROGRAM
    u1 = inbox / "u1"
    u1.mkdir(parents=True)
    row = "T-01,推进中,40,已召开推进会,无,继续推进,会议纪要,2021-03-20"

    # links: a unit folder that is a link to an outside folder; a linked file; a hard link
    outside.mkdir()
    (outside / "keep.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")
    (inbox / "lnk").symlink_to(outside, target_is_directory=True)
    (outside / "secret.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")
    (u1 / "linked.csv").symlink_to(outside / "secret.csv")
    (outside / "hard-original.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")
    os.link(outside / "hard-original.csv", u1 / "hard.csv")
    os.mkfifo(u1 / "pipe.csv")
    sparse(u1 / "huge.xlsx", 1024**3, b"PK\x03\x04")

    # a half copy: a real workbook cut in two, written just now
    whole = xlsx_bytes(
        scratch, [("任务进展", [TASK_HEADERS.split(","), row.split(",")], "visible")]
    )
    (u1 / "half.xlsx").write_bytes(whole[: len(whole) // 2])

    # files in the wrong place
    (inbox / "beside.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")
    (inbox / "zzz").mkdir()
    (inbox / "zzz" / "unknown-unit.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")
    (inbox / "JYJ").mkdir()
    (inbox / "JYJ" / "case.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")
    (u1 / "sub").mkdir()
    (u1 / "sub" / "nested.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")
    (inbox / "h503").mkdir()
    (inbox / "h503" / "no-inbox.csv").write_text(f"{TASK_HEADERS}\n{row}\n", encoding="utf-8")

    # hostile payloads
    (u1 / "nan.json").write_text(
        '{"tasks": [{"task": "T-02", "status": "推进中", "percent": 30, '
        '"reported_on": "2021-03-20"}], "indicators": ['
        '{"indicator": "I-01", "value": NaN, "as_of": "2021-03-20"}, '
        '{"indicator": "I-01", "value": Infinity, "as_of": "2021-03-21"}]}\n',
        encoding="utf-8",
    )
    (u1 / "deep.json").write_bytes(b'{"tasks": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    with (u1 / "long-field.csv").open("wb") as stream:
        stream.write(f'{TASK_HEADERS}\nT-01,推进中,40,"'.encode())
        stream.write(b"x" * MB)
        stream.write('",无,继续,无,2021-03-20\n'.encode())
    with (u1 / "blank-lines.csv").open("wb") as stream:
        stream.write(f"{TASK_HEADERS}\n{row}\n".encode())
        stream.write(b"\n" * 1_000_000)
    blank_rows_xlsx(u1 / "blank-rows.xlsx", scratch)
    (u1 / "hidden.xlsx").write_bytes(
        xlsx_bytes(
            scratch,
            [
                ("任务进展", [["任务编号", "完成进度"], ["T-03", 10]], "hidden"),
                ("任务进展 (2)", [["任务编号", "完成进度"], ["T-03", 80]], "visible"),
            ],
        )
    )
    (u1 / "two-columns.xlsx").write_bytes(
        xlsx_bytes(
            scratch,
            [("任务进展", [["任务编号", "完成进度", "进度"], ["T-01", 50, 60]], "visible")],
        )
    )
    utf16 = f"{TASK_HEADERS}\nT-02,推进中,55,进展,无,继续,无,2021-03-22\n".replace(",", "\t")
    (u1 / "utf16.csv").write_bytes(b"\xff\xfe" + utf16.replace("\n", "\r\n").encode("utf-16-le"))
    (u1 / "year-2012.csv").write_text(
        f"{TASK_HEADERS}\nT-01,推进中,45,进展,无,继续,无,2021-03-23\n"
        "T-02,推进中,60,进展,无,继续,无,2012-03-23\n",
        encoding="utf-8",
    )
    (u1 / "huge-value.json").write_text(
        '{"indicators": [{"indicator": "I-01", "value": 1e308, "as_of": "2021-03-20"}]}\n',
        encoding="utf-8",
    )


@dataclass(frozen=True)
class Held:
    """A regular file of the inbox before the run: its size and hashes."""

    size: int
    sha256: str | None  # the whole file's, up to 20 MB
    head_sha256: str  # its first MB's


def hold(root: Path) -> dict[str, Held]:
    """Every regular file under ``root`` (links not followed), hashed in 1 MB reads."""
    held = {}
    for folder, folders, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            stat = path.lstat()
            if not path.is_file() or path.is_symlink():
                continue
            whole, head = hashlib.sha256(), b""
            with path.open("rb") as stream:
                while chunk := stream.read(MB):
                    if not head:
                        head = chunk
                    if stat.st_size > 20 * MB:
                        break
                    whole.update(chunk)
            held[str(path.relative_to(root))] = Held(
                stat.st_size,
                whole.hexdigest() if stat.st_size <= 20 * MB else None,
                hashlib.sha256(head).hexdigest(),
            )
        folders[:] = [name for name in folders if not (Path(folder) / name).is_symlink()]
    return held


def in_archive(home: Path, sha256: str) -> bool:
    path = home / "archive" / sha256[:2] / sha256
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(MB):
            digest.update(chunk)
    return digest.hexdigest() == sha256


# --- the run ------------------------------------------------------------------------------

# Each hostile program file or ledger workbook, with words its refusal must hold.
REFUSED = {
    "program-aliases.yaml": "aliases",
    "program-deep.yaml": "nested more than 20 levels",
    "program-10000-units.yaml": "more than the 200 units",
    "program-50mb.yaml": "more than the 2,097,152",
    "ledger-blank-rows.xlsx": "8 MB",
    "ledger-zip-bomb.xlsx": "50 MB",
    "ledger-shared-strings.xlsx": "100,000 distinct texts",
    "ledger-rules-aliases.xlsx": "aliases",
}


def load_steps(run: Run, folder: Path) -> None:
    """Each hostile program file and ledger workbook alone, then all of them at once."""
    (folder / "program-aliases.yaml").write_bytes(billion_laughs())
    (folder / "program-deep.yaml").write_bytes(deep_yaml())
    (folder / "program-10000-units.yaml").write_bytes(many_units())
    sparse(folder / "program-50mb.yaml", 50 * MB, f"code: {PROGRAM}\n".encode())
    ledger = folder / "ledger.xlsx"
    step = run.cli("program export (setup)", "program", "export", PROGRAM, "-o", ledger)
    run.check(step.returncode == 0, f"program export: exit {step.returncode}: {step.stderr}")
    hostile_ledgers(ledger, folder)
    for name, words in REFUSED.items():
        step = run.cli(f"load {name}", "program", "load", folder / name)
        run.check(step.returncode == 1, f"{name}: not refused (exit {step.returncode})")
        run.check(words in step.stderr, f"{name}: {words!r} not in {step.stderr[-500:]!r}")
    # A stray cell at XFD1048576 costs nothing: the ledger is read within its bounds, the
    # same program as loaded, so nothing would change.
    step = run.cli(
        "load ledger-corner.xlsx (dry run)",
        "program",
        "load",
        "--dry-run",
        folder / "ledger-corner.xlsx",
    )
    run.check(
        step.returncode == 0 and "unchanged" in step.stdout,
        f"ledger-corner.xlsx: exit {step.returncode}: {step.stdout[-300:]} {step.stderr[-300:]}",
    )
    every = [folder / name for name in [*REFUSED, "ledger-corner.xlsx"]]
    step = run.cli("load: all at once", "program", "load", *every)
    run.check(step.returncode == 1, f"load of all: exit {step.returncode}")
    run.check("nothing was written" in step.stderr, "load of all: no 'nothing was written'")
    for name in REFUSED:
        run.check(f"{name}: refused" in step.stderr, f"load of all: {name} not refused")


# What each inbox file of u1 must come to: status, words in its rejections or notes.
EXPECTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "huge.xlsx": ("rejected", ("文件过大（1024 MB）",)),
    "nan.json": ("partial", ("“NaN”", "“Infinity”")),
    "deep.json": ("rejected", ("嵌套层数过多",)),
    "long-field.csv": ("rejected", ("第 2 行", "过长")),
    "blank-lines.csv": ("rejected", ("超过 20000 行",)),
    "blank-rows.xlsx": ("rejected", ("超过 20000 行",)),
    "hidden.xlsx": ("imported", ("隐藏的工作表“任务进展”",)),
    "two-columns.xlsx": ("rejected", ("“完成进度”（B列）", "“进度”（C列）")),
    "utf16.csv": ("imported", ()),
    "year-2012.csv": ("partial", ("早于试点开始日期",)),
    "huge-value.json": ("rejected", ("超出合理范围",)),
}
NOT_TAKEN = {  # inbox path: words of the reason
    "hostile/lnk": "link",
    "hostile/u1/linked.csv": "link",
    "hostile/u1/hard.csv": "hard link",
    "hostile/u1/pipe.csv": "not a regular file",
    "hostile/u1/sub": "folder",
    "hostile/beside.csv": "not in a unit folder",
    "hostile/zzz/unknown-unit.csv": "no unit zzz",
    "hostile/JYJ/case.csv": "only in case",
    "hostile/h503/no-inbox.csv": "no inbox source",
}
UNAVAILABLE = {
    "htrickle": "did not finish within its deadline",
    "hredirect": "refused: redirected to",
    "hgzip": "more than the 10 MB allowed",
    "h503": "answered HTTP 503",
}


def collect_step(run: Run, outside: Path, servers: Servers) -> None:
    inbox = run.home / "inbox"
    before_inbox = hold(inbox)
    before_outside = {
        name: (held, (outside / name).stat().st_mtime_ns) for name, held in hold(outside).items()
    }
    step = run.cli("collect", "collect", "--program", PROGRAM, "--as-of", AS_OF, "--json")
    run.check(step.returncode == 0, f"collect: exit {step.returncode}: {step.stderr[-2000:]}")
    try:
        result = json.loads(step.stdout)
    except ValueError:
        run.failures.append(f"collect: no JSON: {step.stdout[-500:]} {step.stderr[-2000:]}")
        return

    by_file = {s["file"]: s for s in result["submissions"] if s["unit"] == "u1"}
    units = sorted({s["unit"] for s in result["submissions"]})
    run.check(units == ["u1"], f"collect: took submissions of {units}")
    for name, (status, words) in EXPECTED.items():
        summary = by_file.get(name)
        if summary is None:
            run.failures.append(f"collect: {name} not taken")
            continue
        said = " ".join([*(r["reason"] for r in summary["rejections"]), *summary["notes"]])
        run.check(summary["status"] == status, f"{name}: {summary['status']}, not {status}")
        for word in words:
            run.check(word in said, f"{name}: {word!r} not in {said[:300]!r}")
    extra = set(by_file) - set(EXPECTED)
    run.check(not extra, f"collect: took {sorted(extra)} too")
    waiting = {item["file"]: item["reason"] for item in result["waiting"]}
    run.check(
        list(waiting) == ["half.xlsx"] and "cut short" in waiting["half.xlsx"],
        f"waiting: {waiting}, not half.xlsx alone",
    )
    not_taken = {item["path"]: item["reason"] for item in result["not_taken"]}
    for path, words in NOT_TAKEN.items():
        reason = not_taken.get(path)
        run.check(reason is not None and words in reason, f"not taken: {path}: {reason!r}")
    unavailable = {item["unit"]: item["error"] for item in result["unavailable"]}
    for unit, words in UNAVAILABLE.items():
        error = unavailable.get(unit, "")
        run.check(words in error, f"{unit}: {words!r} not in {error!r}")
    run.check(not result["errors"], f"collect: intake errors {result['errors']}")
    run.check(not servers.hits["target"], f"the redirect's target was asked: {servers.hits}")

    # The oversized file: recorded with its size, and only its head archived.
    with sqlite3.connect(run.home / "pilot-tracker.db") as database:
        row = database.execute(
            "SELECT size, archived FROM submission WHERE filename = 'huge.xlsx'"
        ).fetchone()
        # the visible copy was read, not the stale hidden sheet
        hidden = database.execute(
            "SELECT percent FROM status_report JOIN submission ON submission.id = submission_id"
            " WHERE filename = 'hidden.xlsx'"
        ).fetchall()
    run.check(row == (1024**3, "head"), f"huge.xlsx recorded as {row}")
    run.check(hidden == [(80,)], f"hidden.xlsx stored {hidden}, not the visible 80")

    # Nothing left the inbox without its archive copy; the outside files are untouched.
    after_inbox = hold(inbox)
    for path, held in before_inbox.items():
        if path in after_inbox:
            continue
        if held.sha256 is not None:
            run.check(in_archive(run.home, held.sha256), f"{path} gone, not in the archive")
        else:
            run.check(in_archive(run.home, held.head_sha256), f"{path}: head not archived")
    gone = sorted(set(before_inbox) - set(after_inbox))
    expected_gone = sorted(f"{PROGRAM}/u1/{name}" for name in EXPECTED)
    run.check(gone == expected_gone, f"left the inbox: {gone}")
    after_outside = {
        name: (held, (outside / name).stat().st_mtime_ns) for name, held in hold(outside).items()
    }
    run.check(after_outside == before_outside, "a file outside the inbox changed")
    run.check((outside / "hard-original.csv").stat().st_nlink == 2, "the hard link is gone")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    print(
        f"Python {platform.python_version()}, os.cpu_count() = {os.cpu_count()}, "
        f"{platform.system()} {platform.release()}"
    )
    folder = Path(tempfile.mkdtemp(prefix="hostile-run-"))
    home, outside, scratch, logs = (folder / n for n in ("home", "outside", "scratch", "logs"))
    for made in (scratch, logs):
        made.mkdir()
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith("PILOT_TRACKER_")
    }
    environ.update(
        PILOT_TRACKER_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        NO_PROXY="*",
    )
    run = Run(home, environ, logs)
    servers = Servers()
    try:
        ports = {"target": servers.start("target", Servers.good)}
        ports["trickle"] = servers.start("trickle", servers.trickle)
        ports["redirect"] = servers.start("redirect", Servers.redirect_to(ports["target"]))
        ports["gzip"] = servers.start("gzip", servers.gzip_bomb)
        ports["503"] = servers.start("503", Servers.unavailable)
        (folder / "program.yaml").write_text(program_yaml(ports), encoding="utf-8")
        run.check(run.cli("init (setup)", "init").returncode == 0, "init failed")
        step = run.cli("program load (setup)", "program", "load", folder / "program.yaml")
        run.check(step.returncode == 0, f"the program did not load: {step.stderr}")
        load_steps(run, folder)
        build_inbox(home, outside, scratch)
        collect_step(run, outside, servers)
    finally:
        servers.close()
        if not options.keep:
            shutil.rmtree(folder, ignore_errors=True)  # links are removed, not followed
    return report(run, folder if options.keep else None)


def report(run: Run, kept: Path | None) -> int:
    print(f"{'step':42} {'exit':>4} {'wall s':>7} {'peak RSS MB':>11}")
    for step in run.steps:
        print(f"{step.name:42} {step.returncode:>4} {step.seconds:7.2f} {step.peak_mb:11.1f}")
    hostile = [s for s in run.steps if not s.name.endswith("(setup)")]
    alone = [s for s in hostile if s.name.startswith("load ")]
    together = [s for s in hostile if s.name in ("load: all at once", "collect")]
    peak = max((s.peak_mb for s in run.steps), default=0.0)
    print(
        f"each hostile file loaded alone: {len(alone)} commands, "
        f"{sum(s.seconds for s in alone):.2f} s in all, "
        f"peak RSS {max((s.peak_mb for s in alone), default=0.0):.1f} MB"
    )
    collect = [s for s in hostile if s.name == "collect"]
    if len(together) == 2:
        print(
            f"one load (all at once) + one collect: {sum(s.seconds for s in together):.2f} s, "
            f"peak RSS {max(s.peak_mb for s in together):.1f} MB"
        )
    print(f"peak RSS of any step: {peak:.1f} MB (bound {MAX_RSS_MB} MB)")
    if peak >= MAX_RSS_MB:
        run.failures.append(f"peak RSS {peak:.1f} MB, not under {MAX_RSS_MB} MB")
    if not collect:
        run.failures.append("the collect did not run")
    elif collect[0].seconds >= MAX_COLLECT_SECONDS:
        run.failures.append(f"the collect took {collect[0].seconds:.1f} s")
    if kept is not None:
        print(f"kept: {kept}")
    for failure in run.failures:
        print(f"FAILED: {failure}")
    print("all checks passed" if not run.failures else f"{len(run.failures)} checks failed")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
