"""Cities in the database: a city league's office and the pilots it oversees.

``load_city`` writes a validated ``CitySpec`` (``city_file``) and says what changed;
``read_city`` gives it back. A city names its pilots by program code, so a city and its
programs load in any order; ``CityLoad.missing`` says which named programs are not loaded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from pilot_tracker.errors import NotFoundError
from pilot_tracker.ledger.city_file import CityContactSpec, CitySpec, read_city_file
from pilot_tracker.models import City, CityProgram, Program


@dataclass
class CityLoad:
    """What loading a city file did."""

    city: str
    created: bool
    unchanged: bool
    programs: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # named but not loaded (yet)

    def as_dict(self) -> dict[str, Any]:
        return {
            "city": self.city,
            "created": self.created,
            "unchanged": self.unchanged,
            "programs": self.programs,
            "missing": self.missing,
        }


def read_city_source(path: Path) -> tuple[CitySpec, str]:
    """A city from its file, and the file's sha256."""
    spec = read_city_file(path)
    return spec, hashlib.sha256(path.read_bytes()).hexdigest()


def load_city(
    *, session: Session, spec: CitySpec, source_name: str, source_sha256: str, now: datetime
) -> CityLoad:
    """Create or update a city from ``spec`` in the session's transaction; loading the same
    spec twice writes nothing."""
    city = session.exec(select(City).where(City.code == spec.code)).first()
    stored = read_city(session=session, code=spec.code) if city is not None else None
    loaded = set(
        session.exec(select(Program.code).where(col(Program.code).in_(spec.programs))).all()
    )
    result = CityLoad(
        city=spec.code,
        created=city is None,
        unchanged=stored == spec,
        programs=list(spec.programs),
        missing=[code for code in spec.programs if code not in loaded],
    )
    if result.unchanged:
        return result
    if city is None:
        city = City(code=spec.code, loaded_at=now)  # type: ignore[call-arg]
    city.name = spec.name
    city.office = spec.office
    city.timezone = spec.timezone
    city.contacts = [contact.model_dump(mode="json") for contact in spec.contacts]
    city.documents = spec.documents.model_dump(mode="json") if spec.documents else None
    city.bulletin = spec.bulletin.model_dump(mode="json") if spec.bulletin else None
    city.source_name = source_name
    city.source_sha256 = source_sha256
    city.updated_at = now
    session.add(city)
    session.flush()
    session.exec(delete(CityProgram).where(col(CityProgram.city_id) == city.id))  # type: ignore[call-overload]
    for position, code in enumerate(spec.programs):
        session.add(CityProgram(city_id=city.id, program_code=code, position=position))  # type: ignore[arg-type]
    session.flush()
    return result


def get_city(*, session: Session, code: str) -> City:
    """The city with this code, or a ``NotFoundError`` that says what exists."""
    city = session.exec(select(City).where(City.code == code)).first()
    if city is None:
        known = session.exec(select(City.code).order_by(City.code)).all()
        hint = f"loaded cities: {', '.join(known)}" if known else "no city is loaded yet"
        raise NotFoundError(
            f'no city "{code}"; {hint} (load one with `pilot-tracker city load FILE`)'
        )
    return city


def program_codes(*, session: Session, city: City) -> list[str]:
    """The codes of a city's pilots, in its order (loaded or not)."""
    return list(
        session.exec(
            select(CityProgram.program_code)
            .where(CityProgram.city_id == city.id)
            .order_by(col(CityProgram.position))
        ).all()
    )


def read_city(*, session: Session, code: str) -> CitySpec:
    """The stored city, as a ``CitySpec``."""
    city = get_city(session=session, code=code)
    return CitySpec(
        code=city.code,
        name=city.name,
        office=city.office,
        timezone=city.timezone,
        programs=program_codes(session=session, city=city),
        contacts=[CityContactSpec.model_validate(contact) for contact in city.contacts],
        documents=city.documents,
        bulletin=city.bulletin,
    )


def list_cities(*, session: Session) -> list[dict[str, Any]]:
    """Every city with its pilots, by code; ``missing`` are the pilots not loaded."""
    loaded = set(session.exec(select(Program.code)).all())
    rows = []
    for city in session.exec(select(City).order_by(col(City.code))).all():
        codes = program_codes(session=session, city=city)
        rows.append(
            {
                "code": city.code,
                "name": city.name,
                "office": city.office,
                "programs": codes,
                "missing": [code for code in codes if code not in loaded],
            }
        )
    return rows


def cities_of(*, session: Session, program: str) -> list[str]:
    """The codes of the cities that oversee a program."""
    return list(
        session.exec(
            select(City.code)
            .join(CityProgram, col(CityProgram.city_id) == City.id)
            .where(CityProgram.program_code == program)
            .order_by(col(City.code))
        ).all()
    )
