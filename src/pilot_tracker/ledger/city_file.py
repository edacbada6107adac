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
    bulletin:             # optional: its work bulletin (工作简报)
      name: 宁波市共青团工作简报
      column: 经验交流
      distribution: [各区县（市）团委, 市直属单位团组织]   # 分送
      editor: 团市委办公室            # 责任编辑, a role
      first_number: 1                 # 第N期 and 总第M期 of the first issue written here
      first_total: 166

The file is read with the program file's bounds and error places (``program_file``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, TypeAdapter, ValidationError

from pilot_tracker.errors import Problem, ProgramFileError
from pilot_tracker.ledger.program_file import (
    MAX_ADDRESSEES,
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
MAX_BULLETIN_NUMBER = 999  # 第N期 in a year
MAX_BULLETIN_TOTAL = 99_999  # 总第M期


class CityContactSpec(_Spec):
    """Someone of the city league who gets the city's reports: ``city`` (the league's office
    over the pilots) or ``leader`` (who reads them)."""

    role: Literal["city", "leader"] = "city"
    name: Short = ""
    title: Short = ""
    email: MailAddress = ""


class BulletinSpec(_Spec):
    """The city's work bulletin (工作简报): its name and column on the masthead, whom it is
    sent to (分送), who edits it (责任编辑, a role), and the numbers the first issue
    written here takes (a bulletin's run is older than the tool): 第``first_number``期 of
    its year, 总第``first_total``期."""

    name: Name
    column: Short = ""
    distribution: Annotated[list[Name], Field(default_factory=list, max_length=MAX_ADDRESSEES)]
    editor: Short = ""
    first_number: Annotated[int, Field(ge=1, le=MAX_BULLETIN_NUMBER)] = 1
    first_total: Annotated[int, Field(ge=1, le=MAX_BULLETIN_TOTAL)] = 1


class CitySpec(_Spec):
    code: Code
    name: Name
    office: Name  # the issuing office, e.g. 共青团宁波市委办公室
    timezone: str = "Asia/Shanghai"
    programs: Annotated[list[Code], Field(min_length=1, max_length=MAX_CITY_PROGRAMS)]
    contacts: Annotated[list[CityContactSpec], Field(default_factory=list, max_length=MAX_CONTACTS)]
    documents: DocumentsSpec | None = None
    bulletin: BulletinSpec | None = None

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump(mode="json")
        for key in ("documents", "bulletin"):
            if document[key] is None:
                del document[key]
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
