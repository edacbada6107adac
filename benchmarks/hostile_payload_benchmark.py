"""Hostile payloads: how long ``payload.read_payload`` takes to refuse each one.

Each payload is built in a temporary folder (streamed, never whole in memory), then read
in a child process limited to 2 GB of address space and 60 s of CPU, so a regression
fails here instead of eating the machine. Prints, per payload, its size, the seconds the
child took and how it ended (refused with the reason's first words, or read).

Run from the repository root::

    .venv/bin/python benchmarks/hostile_payload_benchmark.py
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import openpyxl

READ = """
import sys
from pathlib import Path
from pilot_tracker.collect.payload import PayloadError, read_payload
path = Path(sys.argv[1])
try:
    read = read_payload(path.read_bytes(), path.name)
    print(f"read {len(read.task_rows)} task rows")
except PayloadError as error:
    print(f"refused: {str(error)[:60]}")
"""


def limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


def sheet_workbook(path: Path, dimension: str, rows: Iterable[bytes]) -> None:
    """A one-sheet workbook with a header row and one data row, then ``rows``."""
    source = path.with_suffix(".source.xlsx")
    openpyxl.Workbook().save(source)
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>任务编号</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>完成进度</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>T-01</t></is></c><c r="B2"><v>50</v></c>'
        "</row>"
    ).encode()
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                copy.writestr(info.filename, original.read(info.filename))
                continue
            with copy.open(info.filename, "w", force_zip64=True) as stream:
                stream.write(head)
                for row in rows:
                    stream.write(row)
                stream.write(b"</sheetData></worksheet>")
    source.unlink()


def blank_rows(path: Path) -> None:
    rows = (
        b'<row r="%d"><c r="A%d" t="inlineStr"><is><t> </t></is></c><c r="C%d"/></row>' % (n, n, n)
        for n in range(3, 1_000_001)
    )
    sheet_workbook(path, "A1:C1000000", rows)


def far_corner(path: Path) -> None:
    row = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    sheet_workbook(path, "A1:XFD1048576", [row])


def blank_lines(path: Path) -> None:
    with path.open("wb") as stream:
        stream.write("任务编号,完成进度\nT-01,50\n".encode())
        stream.write(b",\n" * 1_000_000)


def deep_json(path: Path) -> None:
    path.write_bytes(b'{"tasks": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}")


def long_field(path: Path) -> None:
    path.write_bytes('任务编号,进展情况\nT-01,"'.encode() + b"x" * 10_000_000)


def wide_line(path: Path) -> None:
    path.write_bytes("任务编号,完成进度\n".encode() + b"," * 10_000_000 + b"\n")


CASES: list[tuple[str, str, Callable[[Path], None]]] = [
    ("a million blank rows (xlsx)", "blank.xlsx", blank_rows),
    ("one cell at XFD1048576 (xlsx)", "corner.xlsx", far_corner),
    ("a million blank lines (csv)", "blank.csv", blank_lines),
    ("a million levels of nesting (json)", "deep.json", deep_json),
    ("an unclosed quote, 10 MB (csv)", "quote.csv", long_field),
    ("ten million separators on one line (csv)", "wide.csv", wide_line),
]


def main() -> None:
    print(f"Python {platform.python_version()}, os.cpu_count() = {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as folder:
        for label, name, build in CASES:
            path = Path(folder) / name
            build(path)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", READ, str(path)],
                capture_output=True,
                text=True,
                timeout=120,
                preexec_fn=limits,  # the child runs no threads before exec
                check=False,
            )
            seconds = time.perf_counter() - started
            outcome = done.stdout.strip() or f"exit {done.returncode}: {done.stderr[-200:]}"
            size = path.stat().st_size / 1024 / 1024
            print(f"{label:42} {size:7.1f} MB {seconds:6.2f} s  {outcome}")
            path.unlink()


if __name__ == "__main__":
    main()
