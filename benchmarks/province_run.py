"""A province in one run (#19): every figure of the issue beside its floor, at several sizes.

**The workload.** The synthetic programs of ``benchmarks/province.py`` (Yinzhou's 37 units
and 13 indicators, Xiangshan's 31 tasks, three years from 2021-02-01), N of them, in two
states, each built once per N and copied for every part that changes it:

- **the backlog**: the ledgers only, no history, and in the inbox six months of workbooks,
  every one the units send from August 2022 to January 2023 (``demo.submissions.deliver``:
  real .xlsx workbooks from the submission template, some messy, a GBK CSV, a row that
  cannot be read), 138 a program; supervised on 2023-02-01;
- **two years**: the ledgers with two years of monthly history (2021-02 to 2023-01, as
  ``province.build`` writes it), for the flag and the PDF.

**The figures**, each part in a process of its own, its peak memory its own ``ru_maxrss``
(through a launcher: ``timing.launched``), each beside its floor measured in the same run:

- **supervise**: ``pilot-tracker supervise --all-programs --as-of 2023-02-01`` on the
  backlog, the whole process. Aim at N = 100: at most 90 s and 500 MB.
- **intake**: ``collection.collect`` of every program, in one process (with one reader
  process for the run, as ``supervise`` has), on a copy of the backlog; its floor, every
  inbox file read from disk and read once by the reader intake chooses (python-calamine
  for a workbook of values, openpyxl for the others, the CSV and JSON parsers), one row
  inserted and committed per file. Aim: at most 1.5× the floor.
- **flag**: ``supervise.flags.flag`` for p001 on 2023-02-24 (two years), median of 30,
  twice in each turn: the day's first flag (its flags deleted before the turn, untimed),
  then the day again (the same flags found: read back, nothing written); its floor, one
  indexed SELECT of p001's status rows (``province.SCAN``), median of 30, taken in turn
  (each takes milliseconds: thirty turns keep a shared machine's noise out of the ratio).
  Aim: both at most 3×, on SQLite and (with ``--postgres``) on PostgreSQL.
- **help**: ``pilot-tracker --help``, the whole process, median of 9; beside it ``python -c
  pass``, in turn. Aim: at most 0.3 s.
- **PDF**: the half-year evaluation of p001 for 2022H2 as the product prints it (the
  figures read, the page rendered, the PDF), median of 9; its floor, WeasyPrint alone on
  the same HTML, in turn. Aim: at most 1.2×.
- **load**: ``pilot-tracker program load`` of the N program files (YAML), the whole
  process. Aim at N = 100: at most 3 s.

How each grows with N is read off the runs at each N (``--programs 10 100``).

**Running it** (from the repository root; nothing leaves 127.0.0.1, nothing is sent)::

    PYTHONPATH=src:. .venv/bin/python benchmarks/province_run.py --programs 2      # a minute
    PYTHONPATH=src:. timeout 7200 .venv/bin/python benchmarks/province_run.py \\
        --programs 10 100 --results province-run.json

``--keep`` leaves the temporary folder; ``--deadline`` bounds every part (1,800 s);
``--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` measures the flag on
PostgreSQL too (in a database of its own, dropped at the end); ``--supervise-only`` runs
the backlog's supervise alone.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import median
from typing import Any

import yaml

# This checkout's product, its benchmarks as a package, and this folder (for timing.py).
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent), str(HERE)]

from benchmarks import province  # noqa: E402
from timing import measured  # noqa: E402

BACKLOG = (date(2022, 7, 31), date(2023, 1, 31))  # what the units sent after, up to
BACKLOG_DAY = date(2023, 2, 1)
FLAG_TURNS = 30  # the flags and the scans timed, in turn
PDF_TURNS = 9  # the PDFs and WeasyPrint alone, in turn (five left one slow second to decide)
AIMS = {
    "supervise_seconds": 90.0,
    "supervise_mb": 500.0,
    "intake_ratio": 1.5,
    "flag_ratio": 3.0,
    "help_seconds": 0.3,
    "pdf_ratio": 1.2,
    "load_seconds": 3.0,
}
CLI = str(Path(sys.executable).parent / "pilot-tracker")
DATABASE = "pilot.db"


# --- the two states ------------------------------------------------------------------------


def build_backlog(home: Path, programs: int) -> province.Built:
    """Ledgers only, and six months of workbooks in the inbox."""
    return _build(home, programs, months=0, inbox=BACKLOG)


def build_history(home: Path, programs: int) -> province.Built:
    """Ledgers with two years of history; nothing in the inbox."""
    return _build(home, programs, months=len(province.HISTORY), inbox=(province.DAY, province.DAY))


def _build(home: Path, programs: int, **state: Any) -> province.Built:
    url = f"sqlite:///{home / DATABASE}"
    return province.build(
        url=url, home=home, programs=programs, say=lambda line: None, flag_days=(), **state
    )


def copy(home: Path, to: Path) -> Path:
    shutil.copytree(home, to)
    return to


def env_for(home: Path, work: Path) -> dict[str, str]:
    return province.environment(home, f"sqlite:///{home / DATABASE}", work / "prefect")


# --- processes, timed ----------------------------------------------------------------------


def run(command: list[str], env: dict[str, str], timeout: float, peak: bool = True) -> dict:
    """A process's wall time, its own peak RSS, CPU time, exit code and output
    (``timing.measured``), from the repository's root."""
    ran = measured(command, env=env, cwd=province.ROOT, timeout=timeout, peak=peak)
    if ran is None:
        raise SystemExit(f"{command[:3]}: not done within {timeout:.0f} s")
    return ran


def child(what: str, arguments: dict[str, Any], env: dict[str, str], timeout: float) -> dict:
    """This script as a child, its figures the JSON of its last line."""
    ran = run(
        [sys.executable, str(Path(__file__).resolve()), "--child", what, json.dumps(arguments)],
        env,
        timeout,
    )
    if ran["code"] != 0:
        raise SystemExit(f"{what} failed ({ran['code']}):\n{ran['err'][-3000:]}")
    return {**json.loads(ran["out"].strip().splitlines()[-1]), **_brief_run(ran)}


def _brief_run(ran: dict[str, Any]) -> dict[str, Any]:
    return {key: ran[key] for key in ("wall", "peak_mb", "cpu")}


# --- children ------------------------------------------------------------------------------


def intake_all(day: date) -> dict[str, Any]:
    """``collection.collect`` of every program, in this process, as ``supervise`` calls it
    (its payloads read by one reader process for the run)."""
    from pilot_tracker import db, runs
    from pilot_tracker.alerts import outbox
    from pilot_tracker.collect.reader import ReaderProcess
    from pilot_tracker.settings import Settings

    settings = Settings()
    engine = db.make_engine(settings.resolved_database_url)
    templates = outbox.Templates(settings.templates, links=settings.link_issuer())
    programs = runs.supervised_programs(engine=engine, now=datetime.now(UTC), as_of=day)
    taken = 0
    began = time.perf_counter()
    with ReaderProcess() as reader:
        for program in programs:
            collected = province.collect_program(
                engine=engine,
                settings=settings,
                templates=templates,
                program=program,
                day=day,
                reader=reader,
            )
            taken += len(collected.submissions)
    seconds = time.perf_counter() - began
    engine.dispose()
    return {"seconds": seconds, "programs": len(programs), "payloads": taken}


def read_once(data: bytes, name: str) -> int:
    """The rows of one payload, read once by the reader intake chooses for it."""
    from pilot_tracker.collect import payload
    from pilot_tracker.spreadsheet import check_zip

    if data.startswith(payload.ZIP_MAGIC):
        contents = check_zip(data, payload.XLSX_BOUNDS)
        if contents is not None and contents.plain(
            payload.MAX_ROWS + 1, payload.MAX_COLUMNS, payload.MAX_PLAIN_CELLS
        ):
            import python_calamine

            workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            rows = sum(
                len(workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False))
                for sheet in workbook.sheet_names
            )
            workbook.close()
            return rows
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        rows = sum(1 for sheet in book.worksheets for _ in sheet.iter_rows(values_only=True))
        book.close()
        return rows
    if name.endswith(".json"):
        return len(json.loads(data))
    import csv

    from pilot_tracker.text import decode_text

    return sum(1 for _ in csv.reader(io.StringIO(decode_text(data))))


def floor_all() -> dict[str, Any]:
    """Every inbox file read from disk, read once, one row inserted and committed each."""
    import sqlalchemy as sa

    from pilot_tracker import db
    from pilot_tracker.settings import Settings

    settings = Settings()
    engine = db.make_engine(settings.resolved_database_url)
    table = sa.Table(
        "floor_payload",
        sa.MetaData(),
        sa.Column("name", sa.String),
        sa.Column("rows", sa.Integer),
    )
    table.create(engine)
    files = sorted(path for path in settings.inbox.rglob("*") if path.is_file())
    began = time.perf_counter()
    for path in files:
        rows = read_once(path.read_bytes(), path.name)
        with engine.begin() as connection:
            connection.execute(table.insert().values(name=path.name, rows=rows))
    seconds = time.perf_counter() - began
    engine.dispose()
    return {"seconds": seconds, "payloads": len(files)}


def child_main(what: str, arguments: dict[str, Any]) -> None:
    if what == "intake":
        result = intake_all(date.fromisoformat(arguments["day"]))
    elif what == "floor":
        result = floor_all()
    else:
        raise SystemExit(f"no part {what!r}")
    print(json.dumps(result, default=str))


# --- the parts -----------------------------------------------------------------------------


def supervise(home: Path, work: Path, programs: int, timeout: float) -> dict[str, Any]:
    ran = run(
        [CLI, "supervise", "--all-programs", "--as-of", BACKLOG_DAY.isoformat()],
        env_for(home, work),
        timeout,
    )
    lines = [line for line in ran["out"].splitlines() if line.startswith("p")]
    left = sum(1 for path in (home / "inbox").rglob("*") if path.is_file())
    if ran["code"] != 0 or len(lines) != programs:
        raise SystemExit(f"supervise: exit {ran['code']}, {len(lines)} lines\n{ran['err'][-3000:]}")
    return {**_brief_run(ran), "lines": lines[:3], "left_in_inbox": left}


def help_against_pass(env: dict[str, str], times: int) -> dict[str, Any]:
    python, helped = [], []
    for _ in range(times + 1):
        python.append(run([sys.executable, "-c", "pass"], env, 60, peak=False)["wall"])
        helped.append(run([CLI, "--help"], env, 60, peak=False)["wall"])
    python, helped = python[1:], helped[1:]  # the first of each compiles and warms the cache
    return {
        "help_seconds": median(helped),
        "help_runs": helped,
        "python_seconds": median(python),
        "python_runs": python,
    }


def load_files(work: Path, programs: int, timeout: float) -> dict[str, Any]:
    files = work / "program-files"
    files.mkdir()
    for number in range(1, programs + 1):
        document = province.program_document(number)
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
        (files / f"p{number:03d}.yaml").write_text(text, encoding="utf-8")
    home = work / "load-home"
    env = env_for(home, work)
    started = run([CLI, "init"], env, timeout)
    if started["code"] != 0:
        raise SystemExit(f"init failed:\n{started['err'][-2000:]}")
    ran = run([CLI, "program", "load", *sorted(map(str, files.iterdir()))], env, timeout)
    if ran["code"] != 0:
        raise SystemExit(f"program load failed:\n{ran['err'][-3000:]}")
    return {
        **_brief_run(ran),
        "files": programs,
        "bytes": sum(f.stat().st_size for f in files.iterdir()),
    }


def at_size(programs: int, work: Path, options: argparse.Namespace) -> dict[str, Any]:
    say = print
    timeout = options.deadline
    result: dict[str, Any] = {"programs": programs, "load_before": os.getloadavg()}
    backlog = work / "backlog"
    say(f"[N={programs}] building the backlog")
    began = time.perf_counter()
    built = build_backlog(backlog, programs)
    result["backlog"] = {"seconds": time.perf_counter() - began, "files": built.inbox_files}

    say(f"[N={programs}] supervise --all-programs, {built.inbox_files} files")
    result["supervise"] = supervise(copy(backlog, work / "supervised"), work, programs, timeout)
    say(f"  {result['supervise']['wall']:.1f} s, {result['supervise']['peak_mb']:.0f} MB")
    if options.supervise_only:
        return result

    say(f"[N={programs}] intake against reading each payload once and a commit")
    day = {"day": BACKLOG_DAY.isoformat()}
    home = copy(backlog, work / "intake")
    result["intake"] = child("intake", day, env_for(home, work), timeout)
    home = copy(backlog, work / "floor")
    result["floor"] = child("floor", {}, env_for(home, work), timeout)
    result["intake"]["ratio"] = result["intake"]["seconds"] / result["floor"]["seconds"]
    say(f"  {result['intake']['seconds']:.1f} s against {result['floor']['seconds']:.1f} s")
    for name in ("supervised", "intake", "floor", "backlog"):
        shutil.rmtree(work / name, ignore_errors=True)

    say(f"[N={programs}] two years of history")
    history = work / "history"
    began = time.perf_counter()
    build_history(history, programs)
    result["history"] = {"seconds": time.perf_counter() - began}
    env = env_for(history, work)
    say(f"[N={programs}] flag against a scan")
    ran = province.run_child(
        "flag",
        {"day": province.DAY.isoformat(), "program": "p001", "times": FLAG_TURNS, "profile": False},
        env,
        timeout,
    )
    result["flag"] = {**ran.figures, "peak_mb": ran.peak_mb}
    _ratios(result["flag"])
    say(f"  {result['flag']['first_ratio']:.1f}× first, {result['flag']['ratio']:.1f}× again")
    if options.postgres:
        result["flag_postgresql"] = flag_on_postgresql(programs, work, options)
        flagged = result["flag_postgresql"]
        say(f"  PostgreSQL: {flagged['first_ratio']:.1f}× first, {flagged['ratio']:.1f}× again")
    say(f"[N={programs}] the PDF against WeasyPrint alone")
    ran = province.run_child(
        "pdf",
        {"program": "p001", "times": PDF_TURNS, "folder": str(work / "pdf"), "profile": False},
        env,
        timeout,
    )
    result["pdf"] = {**ran.figures, "peak_mb": ran.peak_mb}
    result["pdf"]["ratio"] = ran.figures["product_seconds"] / ran.figures["weasyprint_seconds"]
    say(f"  {result['pdf']['ratio']:.2f}×")
    shutil.rmtree(history, ignore_errors=True)

    say(f"[N={programs}] --help against python -c pass")
    result["help"] = help_against_pass(env_for(work / "help-home", work), 9)
    say(f"[N={programs}] program load of {programs} files")
    result["load"] = load_files(work, programs, timeout)
    say(f"  {result['load']['wall']:.2f} s")
    result["load_after"] = os.getloadavg()
    return result


def flag_on_postgresql(programs: int, work: Path, options: argparse.Namespace) -> dict:
    """The flag against the scan on the two years' province built in PostgreSQL."""
    backend = province.Backend("postgresql", work / "postgresql", options.postgres)
    backend.create(f"{province.BASE_DATABASE}_run")
    try:
        url = backend.url(f"{province.BASE_DATABASE}_run", work)
        home = work / "postgresql-home"
        province.build(
            url=url,
            home=home,
            programs=programs,
            say=lambda line: None,
            flag_days=(),
            inbox=(province.DAY, province.DAY),
        )
        env = province.environment(home, url, work / "prefect")
        arguments = {"day": province.DAY.isoformat(), "program": "p001", "times": FLAG_TURNS}
        ran = province.run_child("flag", {**arguments, "profile": False}, env, options.deadline)
        return _ratios({**ran.figures, "peak_mb": ran.peak_mb})
    finally:
        backend.drop_all()


def _ratios(flag: dict[str, Any]) -> dict[str, Any]:
    """The flag's figures with its ratios to the scan: the day's first flag, and again."""
    flag["first_ratio"] = flag["first_flag_seconds"] / flag["scan_seconds"]
    flag["ratio"] = flag["flag_seconds"] / flag["scan_seconds"]
    return flag


def aims(result: dict[str, Any]) -> dict[str, bool]:
    flagged = [result[key] for key in ("flag", "flag_postgresql") if key in result]
    return {
        "supervise_seconds": result["supervise"]["wall"] <= AIMS["supervise_seconds"],
        "supervise_mb": result["supervise"]["peak_mb"] <= AIMS["supervise_mb"],
        "intake_ratio": result["intake"]["ratio"] <= AIMS["intake_ratio"],
        "flag_ratio": all(
            max(flag["first_ratio"], flag["ratio"]) <= AIMS["flag_ratio"] for flag in flagged
        ),
        "help_seconds": result["help"]["help_seconds"] <= AIMS["help_seconds"],
        "pdf_ratio": result["pdf"]["ratio"] <= AIMS["pdf_ratio"],
        "load_seconds": result["load"]["wall"] <= AIMS["load_seconds"],
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], json.loads(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--deadline", type=float, default=1800, help="seconds any part may take")
    parser.add_argument("--results", type=Path, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--supervise-only", action="store_true", help="the backlog's supervise, nothing else"
    )
    parser.add_argument(
        "--postgres",
        default="",
        help="an admin URL on 127.0.0.1: the flag measured on PostgreSQL too",
    )
    options = parser.parse_args()
    work_root = Path(tempfile.mkdtemp(prefix="province-run-"))
    results: dict[str, Any] = {"machine": province.machine(), "aims": AIMS, "sizes": []}
    try:
        for programs in options.programs:
            work = work_root / f"n{programs}"
            work.mkdir()
            result = at_size(programs, work, options)
            if options.supervise_only:
                print(json.dumps({"programs": programs, "supervise": result["supervise"]}))
                continue
            result["met"] = aims(result)
            results["sizes"].append(result)
            print(json.dumps({"programs": programs, "met": result["met"]}))
    finally:
        if options.keep:
            print(f"kept {work_root}")
        else:
            shutil.rmtree(work_root, ignore_errors=True)
    if options.results:
        options.results.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    for size in results["sizes"]:
        print(report(size))
    return 0


def report(size: dict[str, Any]) -> str:
    s, i, f, h, p, lo = (size[k] for k in ("supervise", "intake", "flag", "help", "pdf", "load"))
    return "\n".join(
        [
            f"N = {size['programs']}: {size['backlog']['files']} files in the backlog",
            f"  supervise --all-programs  {s['wall']:7.1f} s  {s['peak_mb']:5.0f} MB",
            f"  intake                    {i['seconds']:7.1f} s  floor "
            f"{size['floor']['seconds']:.1f} s = {i['ratio']:.2f}×  ({i['peak_mb']:.0f} MB, "
            f"floor {size['floor']['peak_mb']:.0f} MB)",
            f"  flag, SQLite              {_flag_line(f)}  ({f['rows']} rows)",
            *(
                [f"  flag, PostgreSQL          {_flag_line(g)}"]
                if (g := size.get("flag_postgresql"))
                else []
            ),
            f"  --help                    {h['help_seconds']:7.3f} s  python -c pass "
            f"{h['python_seconds']:.3f} s",
            f"  PDF                       {p['product_seconds']:7.2f} s  WeasyPrint "
            f"{p['weasyprint_seconds']:.2f} s = {p['ratio']:.2f}×",
            f"  program load              {lo['wall']:7.2f} s  {lo['peak_mb']:5.0f} MB",
            f"  met: {size['met']}",
        ]
    )


def _flag_line(flag: dict[str, Any]) -> str:
    return (
        f"{flag['first_flag_seconds'] * 1000:5.1f} ms first, "
        f"{flag['flag_seconds'] * 1000:.1f} ms again; scan {flag['scan_seconds'] * 1000:.1f} ms "
        f"= {flag['first_ratio']:.1f}× and {flag['ratio']:.1f}×"
    )


if __name__ == "__main__":
    raise SystemExit(main())
