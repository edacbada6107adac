"""What the page benchmarks share: time a call many times, and say the figures."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

WARM_UP = 10


def timings(run: Callable[[], object], times: int) -> list[float]:
    """Milliseconds of each of ``times`` calls of ``run``, after WARM_UP untimed ones."""
    for _ in range(WARM_UP):
        run()
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def summary(spent: list[float]) -> str:
    ordered = sorted(spent)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   "
        f"min {ordered[0]:6.1f} ms   max {ordered[-1]:6.1f} ms   (n={len(ordered)})"
    )
