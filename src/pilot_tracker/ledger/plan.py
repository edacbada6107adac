"""The plan of a task: how far along it should be on a given day.

Planned percent follows the task's milestones, in straight lines between them, from 0 on
its start day; with no milestones, a straight line from 0 on the start day to 100 on the
due day. After the last point it stays where the plan left it.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise

from pilot_tracker.ledger.program_file import TaskSpec


def planned_percent(task: TaskSpec, day: date) -> float:
    """The percent the plan expects of ``task`` by the end of ``day``."""
    points = [(task.start, 0.0)] + [(m.planned_on, m.percent) for m in task.milestones]
    if not task.milestones:
        points.append((task.due, 100.0))
    if day <= points[0][0]:
        return 0.0
    for (before, low), (after, high) in pairwise(points):
        if day <= after:
            span = (after - before).days
            share = (day - before).days / span if span else 1.0
            return round(low + (high - low) * share, 1)
    return points[-1][1]


# How far behind plan a reported percent is, in bands (the battle map's colours in the
# half-year PDF and on the board): at most 5 points behind is on plan, at most 15 behind,
# more than 15 far behind; a task due to have begun with no report is unreported, and one
# not yet begun has no plan.
ON_PLAN = "on_plan"
BEHIND = "behind"
FAR_BEHIND = "far_behind"
UNREPORTED = "unreported"
NOT_DUE = "not_due"
BAND_LABELS = {
    ON_PLAN: "按计划",
    BEHIND: "落后5-15点",
    FAR_BEHIND: "落后15点以上",
    UNREPORTED: "未报送",
    NOT_DUE: "未开始",
}


def gap_band(percent: float | None, planned: float | None) -> str:
    """The band of a reported ``percent`` against the ``planned`` one (either may be
    missing: no report, no plan yet)."""
    if percent is None:
        return NOT_DUE if planned is None else UNREPORTED
    gap = (planned or 0) - percent
    if gap <= 5:
        return ON_PLAN
    if gap <= 15:
        return BEHIND
    return FAR_BEHIND
