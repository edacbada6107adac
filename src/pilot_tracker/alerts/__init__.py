"""Alerts: the outbox written with each change, and its delivery through Apprise."""
