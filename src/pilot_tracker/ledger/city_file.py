"""A city file: the city league's office (团市委) above several district pilots.

The city names its pilots by their program codes, in the order its reports list them, and
the people of the city league who get its roll-up (``role: city``, routed by the Apprise tags
``city:<code>, role:city``). Programs load on their own; a city may name a program that is
not loaded yet, and its reports say so.

    code: ningbo
    name: 宁波市
    office: 共青团宁波市委办公室
    programs: [haishu, yinzhou, fenghua, xiangshan]
    contacts:
      - {role: city, title: 团市委青年发展部}
    documents:            # optional: who issues its Word documents (公文), and to whom
      issuer: 共青团宁波市委员会
      prefix: 甬团
      send_to: [各区（县、市）团委]

The file is read with the program file's bounds and error places (``program_file``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, TypeAdapter, ValidationError

from pilot_tracker.errors import Problem, ProgramFileError
from pilot_tracker.ledger.program_file import (
    MAX_CONTACTS,
    Code,
    DocumentsSpec,
    MailAddress,
    Name,
    Short,
    _decoded,
    _Spec,
    describe_error,
    parse_yaml_file,
    read_bounded,
)

MAX_CITY_FILE_BYTES = 1024 * 1024
MAX_CITY_PROGRAMS = 500  # a province's pilots fit in one file


class CityContactSpec(_Spec):
    """Someone of the city league who gets the city's reports: ``city`` (the league's office
    over the pilots) or ``leader`` (who reads them)."""

    role: Literal["city", "leader"] = "city"
    name: Short = ""
    title: Short = ""
    email: MailAddress = ""


class CitySpec(_Spec):
    code: Code
    name: Name
    office: Name  # the issuing office, e.g. 共青团宁波市委办公室
    timezone: str = "Asia/Shanghai"
    programs: Annotated[list[Code], Field(min_length=1, max_length=MAX_CITY_PROGRAMS)]
    contacts: Annotated[list[CityContactSpec], Field(default_factory=list, max_length=MAX_CONTACTS)]
    documents: DocumentsSpec | None = None

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump(mode="json")
        if document["documents"] is None:
            del document["documents"]
        return document


def _known_zone(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def read_city_file(path: Path) -> CitySpec:
    """Read and validate a city file; raise ``ProgramFileError`` with every problem."""
    name = path.name
    text = _decoded(read_bounded(path, MAX_CITY_FILE_BYTES, name), name)
    return parse_city_text(text, name)


def parse_city_text(text: str, name: str) -> CitySpec:
    """Validate the YAML text of a city file."""
    raw, locate = parse_yaml_file(text, name, {"programs": (MAX_CITY_PROGRAMS, "programs")})
    if not isinstance(raw, dict):
        raise ProgramFileError(
            name,
            [Problem("", "the file must be a mapping of keys (code, name, office, programs)")],
        )
    problems: list[Problem] = []
    spec = None
    try:
        spec = TypeAdapter(CitySpec).validate_python(raw)
    except ValidationError as error:
        for detail in error.errors():
            loc = tuple(detail["loc"])
            problems.append(Problem(locate(loc), describe_error(detail, CitySpec, loc)))
    zone = raw.get("timezone", "Asia/Shanghai")
    if isinstance(zone, str) and not _known_zone(zone):
        problems.append(
            Problem(
                locate(("timezone",)),
                f'unknown time zone "{zone}"; write one such as Asia/Shanghai',
            )
        )
    programs = raw.get("programs")
    seen: dict[str, int] = {}
    for index, code in enumerate(programs if isinstance(programs, list) else []):
        if isinstance(code, str) and code in seen:
            problems.append(
                Problem(
                    locate(("programs", index)),
                    f'the program "{code}" is named twice (first at programs[{seen[code]}]); '
                    "name each pilot once",
                )
            )
        seen.setdefault(str(code), index)
    if problems or spec is None:
        raise ProgramFileError(name, problems)
    return spec
