"""Prefect's telemetry, off in every process the product starts unless the operator opts in.

Prefect's server posts a heartbeat to a Prefect host every 10 minutes
(``PREFECT_SERVER_ANALYTICS_ENABLED``), and its client library sends usage events to an
analytics service unless ``DO_NOT_TRACK`` is set. A supervision server holds government
units' data and calls no one it was not configured to call, so entry points (the
``pilot-tracker`` command, ``flows/``) call :func:`switch_off` before Prefect is imported;
child processes (Prefect's server, the flow runs) inherit the environment.

This module imports nothing but the standard library: it runs before everything else.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

OPT_IN = "PILOT_TRACKER_PREFECT_TELEMETRY"
OFF = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
YES = {"1", "true", "yes", "on"}


def opted_in(environ: MutableMapping[str, str]) -> bool:
    """Whether the operator set ``PILOT_TRACKER_PREFECT_TELEMETRY=1`` (or true/yes/on)."""
    return environ.get(OPT_IN, "").strip().lower() in YES


def switch_off(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Turn Prefect's telemetry off in ``environ``; ``False`` when the operator opted in.

    The values are set, not defaulted: a ``DO_NOT_TRACK=0`` or an analytics setting left
    in a shell or a unit file does not turn telemetry back on; only :data:`OPT_IN` does.
    """
    if opted_in(environ):
        return False
    environ.update(OFF)
    return True
