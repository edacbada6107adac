"""CPU seconds and pages of printing one half-year evaluation (or reconciliation) to PDF.

Reads a ledger the demo left (``pilot-tracker demo`` writes ``<folder>/data/
pilot-tracker.db``), renders the evaluation's HTML with the templates of this tree and
prints it ``--times`` times, each timed with ``time.process_time`` (the first print also
loads the fonts, so it is shown apart):

    PYTHONPATH=src:. .venv/bin/python benchmarks/report_pdf.py /tmp/demo/data/pilot-tracker.db
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a ledger the demo wrote")
    parser.add_argument("--program", default="yinzhou")
    parser.add_argument("--half", default="2021H1")
    parser.add_argument(
        "--quarter", help="print this quarter's reconciliation (summary and statements) instead"
    )
    parser.add_argument("--times", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="also copy the PDF here")
    arguments = parser.parse_args()

    from pypdf import PdfReader

    from pilot_tracker import db, periods
    from pilot_tracker.reports import charts, documents, figures

    engine = db.make_engine(f"sqlite:///{arguments.database}", create=False)
    period = arguments.quarter or arguments.half
    end = periods.bounds(period)[1]
    templates = ROOT / "templates"
    with db.session(engine) as session:
        snapshot = figures.load(
            session=session, program=arguments.program, as_of=end, quarter=arguments.quarter
        )
    if arguments.quarter:
        page = documents.html(
            templates,
            "reports/quarterly.html.j2",
            q=figures.quarterly(snapshot, arguments.quarter),
            generated=documents.stamp(end),
        )
    else:
        data = figures.evaluation(snapshot, arguments.half)
        page = documents.html(
            templates,
            "reports/half_year.html.j2",
            e=data,
            chart_lists=charts.completion_by_list(data),
            chart_map=charts.battle_map(data),
            generated=documents.stamp(end),
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "evaluation.pdf"
        spent = []
        for _ in range(arguments.times):
            started = time.process_time()
            documents.pdf(page, path, assets=templates)
            spent.append(time.process_time() - started)
        pages = len(PdfReader(path).pages)
        size = path.stat().st_size
        if arguments.keep:
            arguments.keep.write_bytes(path.read_bytes())
    later = spent[1:] or spent
    print(
        f"{arguments.program} {period}: {pages} pages, {size / 1024:.0f} KiB; "
        f"CPU first {spent[0]:.2f} s, then median {sorted(later)[len(later) // 2]:.2f} s "
        f"(n={len(later)})"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
