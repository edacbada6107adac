"""Where the half-year demo spends its time: CPU and wall seconds per phase.

Plays the demo (``playthrough.play``, as ``pilot-tracker demo`` does) with a timer around
each domain call it makes, and prints one line per phase: what the demo writes as the
units' submissions, collect (and inside it: the folder intake, the HTTP sources, the
mailbox), flag and escalate, the outbox's delivery (SMTP on loopback), the reports (and
inside them: the PDFs, workbooks and Word documents), and the rest. Inner phases are part
of the phase above them. CPU is the whole process's (every thread: the SMTP and HTTP
servers on loopback too), not Dovecot's.

    PYTHONPATH=src:. .venv/bin/python benchmarks/demo_phases.py /tmp/demo-p --profile /tmp/d.prof
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

ROOT = Path(__file__).resolve().parents[1]

# (label, module, attribute): the calls timed. A label with a leading space is inside the
# phase above it.
PHASES = [
    ("load programs", "pilot_tracker.ledger.store", "load_program"),
    ("submissions written", "pilot_tracker.demo.submissions", "deliver"),
    ("mail to the office (IMAP append)", "pilot_tracker.demo.playthrough", "_Post.write"),
    ("acknowledgements", "pilot_tracker.demo.playthrough", "acknowledge_notices"),
    ("collect", "pilot_tracker.collect.collection", "collect"),
    ("  sources opened", "pilot_tracker.collect.collection", "open_sources"),
    ("  folders pulled", "pilot_tracker.collect.collection", "pull_folders"),
    ("  inbox surveyed", "pilot_tracker.collect.collection", "survey"),
    ("  payloads taken (intake)", "pilot_tracker.collect.collection", "take_payload"),
    ("    payloads read", "pilot_tracker.collect.intake", "read_payload"),
    ("  mailbox pulled (IMAP)", "pilot_tracker.collect.collection", "pull_mail"),
    ("  mail taken", "pilot_tracker.collect.collection", "take_mailbox"),
    ("flag and escalate", "pilot_tracker.supervise.flags", "flag_and_escalate"),
    ("  flag", "pilot_tracker.supervise.flags", "flag"),
    ("  escalate (and queue)", "pilot_tracker.supervise.escalation", "advance"),
    ("delivery (SMTP on loopback)", "pilot_tracker.alerts.delivery", "send"),
    ("  targets loaded", "pilot_tracker.alerts.delivery", "load_targets"),
    ("reports", "pilot_tracker.reports.writing", "write"),
    ("  PDF", "pilot_tracker.reports.documents", "pdf"),
    ("  PDF split (statements)", "pilot_tracker.reports.documents", "split_pdf"),
    ("  HTML", "pilot_tracker.reports.documents", "html"),
    ("  XLSX (reconciliation)", "pilot_tracker.reports.reconciliation", "_quarterly_workbook"),
    ("  XLSX (evaluation)", "pilot_tracker.reports.evaluation", "_evaluation_workbook"),
    ("  DOCX", "pilot_tracker.reports.word", "evaluation_document"),
    ("  DOCX (quarter's summary)", "pilot_tracker.reports.word", "quarterly_document"),
    ("  DOCX (statements, one file)", "pilot_tracker.reports.word", "statements_document"),
    ("away answers", "pilot_tracker.demo.playthrough", "_Post.away_answers"),
    ("summary", "pilot_tracker.demo.playthrough", "_summarise"),
]

spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])


def timed(label: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            figures = spent[label]
            figures[0] += time.process_time() - cpu
            figures[1] += time.perf_counter() - wall
            figures[2] += 1

    return wrapper


def instrument() -> None:
    """Wrap each call of PHASES where its callers find it: in its module and in every
    loaded module of pilot_tracker that imported it by name."""
    import importlib
    import sys

    import pilot_tracker.demo.playthrough  # noqa: F401  loads what the demo calls

    for label, module_name, attribute in PHASES:
        module = importlib.import_module(module_name)
        owner: Any = module
        name = attribute
        if "." in attribute:
            cls, name = attribute.split(".")
            owner = getattr(module, cls)
        if not hasattr(owner, name):
            continue
        original = getattr(owner, name)
        wrapped = timed(label, original)
        setattr(owner, name, wrapped)
        for loaded in list(sys.modules.values()):
            if getattr(loaded, "__name__", "").startswith("pilot_tracker") and (
                getattr(loaded, name, None) is original
            ):
                setattr(loaded, name, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--profile", type=Path, help="also write a cProfile of the whole play")
    arguments = parser.parse_args()
    instrument()
    from pilot_tracker.demo import playthrough

    profiler = cProfile.Profile() if arguments.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    from pilot_tracker.settings import Settings

    settings = Settings()
    result = playthrough.play(  # as `pilot-tracker demo` plays it
        folder=arguments.folder,
        examples=sorted((ROOT / "examples" / "programs").glob("*.yaml")),
        templates=ROOT / "templates",
        links=lambda home: settings.model_copy(update={"home": home}).link_issuer(),
        city_files=sorted((ROOT / "examples" / "cities").glob("*.yaml")),
    )
    if profiler:
        profiler.disable()
        profiler.dump_stats(arguments.profile)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{'phase':<36} {'CPU s':>8} {'wall s':>8} {'calls':>7}")
    for label, *_ in PHASES:
        if label in spent:
            c, w, n = spent[label]
            print(f"{label:<36} {c:8.1f} {w:8.1f} {n:7d}")
    top = [label for label, *_ in PHASES if not label.startswith(" ") and label in spent]
    rest_cpu = cpu - sum(spent[label][0] for label in top)
    rest_wall = wall - sum(spent[label][1] for label in top)
    print(f"{'the rest':<36} {rest_cpu:8.1f} {rest_wall:8.1f}")
    print(f"{'the whole play':<36} {cpu:8.1f} {wall:8.1f}")
    print(
        f"{result.days} working days, {len(result.reports)} report files; flagged units "
        f"{result.flagged_units}; escalations "
        f"{ {code: dict(sorted(levels.items())) for code, levels in result.escalations.items()} }; "
        f"messages sent {result.messages}, mails {result.mails}, replies {result.replies}, "
        f"problems {result.problems}"
    )


if __name__ == "__main__":
    main()
