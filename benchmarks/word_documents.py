"""What the Word documents cost: CPU seconds to build a quarter's reconciliation summary and
its units' statements (one file), a half-year evaluation with its two charts, and one chart
drawn as a picture, for an example program (default: yinzhou, 37 units).

The program is loaded into a fresh SQLite file with no reports, so every unit's statement
lists its tasks and their missing reports: the most a statement of that program holds.

    PYTHONPATH=src:. .venv/bin/python benchmarks/word_documents.py --program yinzhou
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from pilot_tracker import db
from pilot_tracker.ledger import store
from pilot_tracker.reports import charts, documents, figures, word

ROOT = Path(__file__).resolve().parents[1]


def cpu(call, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """The least CPU seconds of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", default="yinzhou")
    parser.add_argument("--quarter", default="2021Q2")
    parser.add_argument("--half", default="2021H1")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        engine = db.make_engine(f"sqlite:///{out / 'ledger.db'}")
        db.migrate(engine)
        path = ROOT / "examples" / "programs" / f"{arguments.program}.yaml"
        spec, sha = store.read_program_source(path)
        now = datetime(2021, 7, 5, tzinfo=UTC)
        with db.session(engine) as session:
            store.load_program(
                session=session, spec=spec, source_name=path.name, source_sha256=sha, now=now
            )
        with db.session(engine) as session:
            record = store.get_program(session=session, code=spec.code)
            issuer = word.program_issuer(record)
            quarter = figures.quarterly(
                figures.load(
                    session=session,
                    program=spec.code,
                    as_of=date(2021, 6, 30),
                    quarter=arguments.quarter,
                ),
                arguments.quarter,
            )
            half = figures.evaluation(
                figures.load(session=session, program=spec.code, as_of=date(2021, 6, 30)),
                arguments.half,
            )
        engine.dispose()
        rows = sum(len(s.rows) for s in quarter.statements)
        summary = cpu(lambda: word.quarterly_document(quarter, out / "summary.docx", issuer))
        statements = cpu(lambda: word.statements_document(quarter, out / "statements.docx", issuer))
        evaluation = cpu(
            lambda: word.evaluation_document(half, out / "half.docx", half.end, issuer)
        )
        path, index = documents.cjk_font_file() or ("", 0)
        bars = cpu(lambda: charts.svg_png(charts.completion_by_list(half), path, font_index=index))
        battle = cpu(lambda: charts.svg_png(charts.battle_map(half), path, font_index=index))
        print(f"{spec.code}: {len(quarter.statements)} units, {rows} statement rows")
        print(f"quarter summary (DOCX)        {summary:6.3f} s CPU")
        print(f"statements, one file (DOCX)   {statements:6.3f} s CPU")
        print(f"half-year evaluation (DOCX)   {evaluation:6.3f} s CPU (its two charts included)")
        print(f"  bars by list (PNG)          {bars:6.3f} s CPU")
        print(f"  battle map (PNG)            {battle:6.3f} s CPU")


if __name__ == "__main__":
    main()
