"""Prefect flows of pilot-tracker.

Each flow is thin: it reads the settings and the clock, then sequences calls into the
``pilot_tracker`` package, with tasks only where Prefect adds something (retries,
timeouts, concurrency, a name in the UI). No SQL, rules or templates live here.

Importing this package turns Prefect's telemetry off (``pilot_tracker.telemetry``) unless
the operator opted in, so every flow module imports it before Prefect: a flow run that a
worker or ``serve`` starts, or a script that calls a flow, sends nothing to Prefect or its
analytics service.
"""

from pilot_tracker import telemetry

telemetry.switch_off()
