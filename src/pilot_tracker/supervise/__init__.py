"""Supervising: the working-day calendar, the lag rules, flags and the escalation ladder."""
