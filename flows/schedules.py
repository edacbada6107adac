"""The schedules of pilot-tracker, for ``pilot-tracker serve``: the same deployments as
prefect.yaml, one per flow, each run covering every program (flows/fan_out.py).

Cron cannot know the Chinese calendar: supervise is scheduled every day and does its work
on working days only; the reports are scheduled on the first days of the months after a
period ends and write only on their working day (a city's roll-up, the working day after
its pilots' half-year evaluations). The schedules are in one time zone (the
installation's, Asia/Shanghai by default); each program's run works on its own today.
"""

from __future__ import annotations

import flows  # noqa: F401  first: Prefect's telemetry off before Prefect loads

# isort: split
import asyncio
from typing import Any

from prefect.runner import Runner
from prefect.schedules import Cron

from flows.fan_out import (
    city_rollup_all,
    half_year_evaluation_all,
    quarterly_reconciliation_all,
    supervise_all,
)
from flows.supervise import send_alerts

SUPERVISE = "0 9 * * *"
QUARTERLY = "0 10 1-15 1,4,7,10 *"
HALF_YEAR = "0 10 1-15 1,7 *"
# After the half-year evaluations: a city writes on the working day after its pilots'.
CITY_ROLLUP = "0 11 1-20 1,7 *"
SEND = "*/30 * * * *"


def deployments(zone: str) -> list[Any]:
    """One deployment per flow, its schedule in ``zone``; no program is named: each run
    covers the programs loaded when it starts."""
    return [
        supervise_all.to_deployment(
            name="supervise-all", schedules=[Cron(SUPERVISE, timezone=zone)]
        ),
        quarterly_reconciliation_all.to_deployment(
            name="quarterly-reconciliation-all",
            schedules=[Cron(QUARTERLY, timezone=zone)],
            parameters={"scheduled": True},
        ),
        half_year_evaluation_all.to_deployment(
            name="half-year-evaluation-all",
            schedules=[Cron(HALF_YEAR, timezone=zone)],
            parameters={"scheduled": True},
        ),
        city_rollup_all.to_deployment(
            name="city-rollup-all",
            schedules=[Cron(CITY_ROLLUP, timezone=zone)],
            parameters={"scheduled": True},
        ),
        send_alerts.to_deployment(name="send-alerts", schedules=[Cron(SEND, timezone=zone)]),
    ]


class _Runner(Runner):
    """Prefect's runner, which notes that SIGTERM stopped it (it handles SIGTERM itself)."""

    sigterm = False

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        self.sigterm = True
        super().handle_sigterm(*args, **kwargs)


def serve(found: list[Any]) -> str:
    """Run the schedules until Ctrl-C or SIGTERM, as ``prefect.serve`` does; the schedules
    are paused on the way out. The signal that stopped it: ``"SIGINT"`` or ``"SIGTERM"``."""
    runner = _Runner(pause_on_shutdown=True)
    for deployment in found:
        runner.add_deployment(deployment)
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        return "SIGINT"
    except SystemExit:  # SIGTERM while the runner was starting: it exits at once
        if not runner.sigterm:
            raise
    return "SIGTERM" if runner.sigterm else "SIGINT"
