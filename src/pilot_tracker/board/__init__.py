"""The office's board: accounts for the office and leaders, and what their pages show
(the battle map, the escalation board, the answers inbox, the report library, the city
view). Plain functions of the database; the routes are in ``web/``."""
