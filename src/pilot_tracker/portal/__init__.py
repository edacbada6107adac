"""The unit portal's domain: what a unit's page shows, and the answers a unit gives
through it (its report, its statement, its receipts, its extension requests). Plain Python:
the web app (pilot_tracker/web/) calls these as the CLI does."""
