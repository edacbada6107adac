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
