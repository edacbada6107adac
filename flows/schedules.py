"""The schedules of pilot-tracker, for ``pilot-tracker serve`` (the same as prefect.yaml).

Cron cannot know the Chinese calendar: supervise is scheduled every day and does its work
on working days only; the reports are scheduled on the first days of the months after a
period ends and write only on their working day.
"""

from __future__ import annotations

import flows  # noqa: F401  first: Prefect's telemetry off before Prefect loads

# isort: split
import asyncio
from typing import Any

from prefect.runner import Runner
from prefect.schedules import Cron

from flows.reports import half_year_evaluation, quarterly_reconciliation
from flows.supervise import send_alerts, supervise

SUPERVISE = "0 9 * * *"
QUARTERLY = "0 10 1-15 1,4,7,10 *"
HALF_YEAR = "0 10 1-15 1,7 *"
SEND = "*/30 * * * *"


def deployments(zones: dict[str, str]) -> list[Any]:
    """Every schedule for every program (code → time zone)."""
    found = []
    for code, zone in zones.items():
        found += [
            supervise.to_deployment(
                name=f"supervise-{code}",
                schedules=[Cron(SUPERVISE, timezone=zone)],
                parameters={"program": code},
            ),
            quarterly_reconciliation.to_deployment(
                name=f"quarterly-reconciliation-{code}",
                schedules=[Cron(QUARTERLY, timezone=zone)],
                parameters={"program": code, "scheduled": True},
            ),
            half_year_evaluation.to_deployment(
                name=f"half-year-evaluation-{code}",
                schedules=[Cron(HALF_YEAR, timezone=zone)],
                parameters={"program": code, "scheduled": True},
            ),
        ]
    zone = next(iter(zones.values()), "Asia/Shanghai")
    found.append(
        send_alerts.to_deployment(name="send-alerts", schedules=[Cron(SEND, timezone=zone)])
    )
    return found


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
