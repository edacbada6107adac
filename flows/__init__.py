"""Prefect flows of pilot-tracker.

Each flow is thin: it reads the settings and the clock, then sequences calls into the
``pilot_tracker`` package, with tasks only where Prefect adds something (retries,
timeouts, concurrency, a name in the UI). No SQL, rules or templates live here.
"""
