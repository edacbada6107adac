"""The portal (pilot-tracker web): FastAPI routes over the same library functions as the CLI.

An entry point like cli.py: it reads the settings and the clock and hands them down; the
domain below it (pilot_tracker.portal and the layers under it) never imports FastAPI."""
