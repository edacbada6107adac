"""A small city for the roll-up's tests: two pilots with half a year of reports chosen so
that every figure can be worked out on paper, one pilot named but not loaded, and one
loaded whose span (2022) misses 2021.

- ``demo``: the small pilot of tests/test_reports.py, its reports, reading and open urge.
- ``other``: the same ledger under another code, where only the youth league (团县委)
  reports, the human-resources bureau once, and no reading comes; the education bureau's
  name is markup and a formula (``=县<教育>局``); four escalations, one before 2021.
- ``absent``: named by the city, never loaded.
- ``later``: the same ledger a year on (2022).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.ledger import cities
from pilot_tracker.ledger.city_file import CitySpec
from pilot_tracker.models import Escalation, Program, Unit

from .test_reports import REPORTS, demo_document, load_program, store_reports

CITY = "testcity"
PROGRAMS = ["demo", "absent", "other", "later"]
NOW = datetime(2021, 7, 12, 3, 0, tzinfo=UTC)  # 11:00 on 2021-07-12 in Shanghai

OTHER_NAME = "样例区中长期青年发展规划试点"
HOSTILE_UNIT = "=县<教育>局"
# The youth league's rows of the demo pilot (T-01 and T-04), and T-02's in June.
OTHER_REPORTS = [
    *(row for row in REPORTS if row[0] == "tw"),
    ("rsj", "T-02", "2021-06", "in_progress", 40, date(2021, 6, 25), ""),
]
# unit, level, opened, closed
OTHER_ESCALATIONS = [
    ("tw", "interview", date(2021, 3, 1), date(2021, 5, 10)),  # 70 days
    ("jyj", "reminder", date(2021, 6, 1), None),  # 29 days to 06-30
    ("rsj", "reminder", date(2021, 2, 1), date(2021, 2, 11)),  # 10 days
    ("rsj", "reminder", date(2020, 12, 1), date(2020, 12, 20)),  # closed before 2021
]


def other_document() -> dict[str, Any]:
    document = demo_document()
    document["code"] = "other"
    document["name"] = OTHER_NAME
    document["units"][1]["name"] = HOSTILE_UNIT
    return document


def later_document() -> dict[str, Any]:
    """The demo pilot's ledger, every day of it a year later."""
    text = json.dumps(demo_document(), ensure_ascii=False).replace('"2021-', '"2022-')
    document = json.loads(text)
    document["code"] = "later"
    document["name"] = "后续县中长期青年发展规划试点"
    return document


def city_spec(programs: list[str] | None = None) -> CitySpec:
    return CitySpec(
        code=CITY,
        name="测试市",
        office="共青团测试市委办公室",
        programs=programs or PROGRAMS,
        contacts=[{"role": "city", "title": "团市委青年发展部"}],
    )


def load_city(engine: sa.Engine, programs: list[str] | None = None) -> None:
    with db.session(engine) as session:
        cities.load_city(
            session=session,
            spec=city_spec(programs),
            source_name="testcity.yaml",
            source_sha256="0" * 64,
            now=datetime(2021, 1, 1, tzinfo=UTC),
        )


def add_escalations(engine: sa.Engine, program: str, rows: list[tuple[Any, ...]]) -> None:
    with db.session(engine) as session:
        record = session.exec(select(Program).where(Program.code == program)).one()
        units = {
            u.code: u.id for u in session.exec(select(Unit).where(Unit.program_id == record.id))
        }
        for unit, level, opened, closed in rows:
            session.add(
                Escalation(
                    program_id=record.id,  # type: ignore[arg-type]
                    unit_id=units[unit],
                    level=level,
                    status="closed" if closed else "open",
                    opened_on=opened,
                    raised_on=opened,
                    closed_on=closed,
                )
            )


def build_city(engine: sa.Engine) -> None:
    """The city and its pilots, in a migrated, empty database."""
    load_program(engine, demo_document())
    store_reports(engine, "demo")
    load_program(engine, other_document())
    store_reports(engine, "other", rows=OTHER_REPORTS, readings=[], escalations=[])
    add_escalations(engine, "other", OTHER_ESCALATIONS)
    load_program(engine, later_document())
    load_city(engine)
