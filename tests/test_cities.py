"""Cities over the pilots: the city file, the city in the database, `city load` and `city list`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app
from pilot_tracker.errors import NotFoundError, ProgramFileError
from pilot_tracker.ledger import cities
from pilot_tracker.ledger.city_file import parse_city_text, read_city_file
from pilot_tracker.models import City, CityProgram

from .conftest import ROOT, load_examples

NINGBO = ROOT / "examples" / "cities" / "ningbo.yaml"
NOW = datetime(2021, 1, 1, tzinfo=UTC)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ProgramFileError) as caught:
        parse_city_text(text, "city.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_the_example_city_names_the_four_pilots_of_the_bulletin() -> None:
    city = read_city_file(NINGBO)
    assert (city.code, city.name, city.office) == ("ningbo", "宁波市", "共青团宁波市委办公室")
    assert city.programs == ["haishu", "yinzhou", "fenghua", "xiangshan"]
    assert [contact.role for contact in city.contacts] == ["city", "leader"]


def test_every_problem_of_a_city_file_is_named_with_its_line() -> None:
    found = problems_of(
        "code: x y\n"
        "name: 某市\n"
        "office: 某市团委办公室\n"
        "timezone: Mars/Olympus\n"
        "programs: [a, b, a]\n"
        "contacts:\n"
        "  - {role: head, email: not-an-address}\n"
    )
    text = "\n".join(found)
    assert "code (line 1)" in text
    assert 'timezone (line 4): unknown time zone "Mars/Olympus"' in text
    assert 'programs[2] (line 5): the program "a" is named twice (first at programs[0])' in text
    assert "contacts[0].role (line 7)" in text
    assert "contacts[0].email (line 7)" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "mapping"),
        ("- a\n- b\n", "mapping"),
        ("code: a\nname: A\noffice: B\n", "programs"),
        ("code: a\nname: A\noffice: B\nprograms: []\n", "programs"),
        ("code: a\ncode: b\nname: A\noffice: B\nprograms: [a]\n", "written twice"),
        ("code: &c a\nname: *c\noffice: B\nprograms: [a]\n", "aliases"),
        ("code: a\nname: A\noffice: B\nprograms: [a\n", "YAML syntax error"),
        ("code: a\nname: A\noffice: B\nprograms: [a]\nprovince: zj\n", "province"),
    ],
)
def test_a_broken_city_file_is_refused_with_a_reason(text: str, expected: str) -> None:
    assert expected in "\n".join(problems_of(text))


def test_a_city_file_is_bounded(tmp_path: Path) -> None:
    many = "\n".join(f"  - p{n}" for n in range(600))
    found = problems_of(f"code: a\nname: A\noffice: B\nprograms:\n{many}\n")
    assert "500" in "\n".join(found)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(ProgramFileError) as caught:
        read_city_file(huge)
    assert "more than the 1,048,576 (1 MB) allowed" in str(caught.value.problems[0])


def test_a_city_loads_before_or_after_its_programs_and_says_which_are_missing(
    engine: sa.Engine,
) -> None:
    spec = read_city_file(NINGBO)
    with db.session(engine) as session:
        load_examples(session, "xiangshan")
        first = cities.load_city(
            session=session, spec=spec, source_name="ningbo.yaml", source_sha256="", now=NOW
        )
    assert first.created and not first.unchanged
    assert first.missing == ["haishu", "yinzhou", "fenghua"]
    with db.session(engine) as session:
        load_examples(session, "yinzhou")
        again = cities.load_city(
            session=session, spec=spec, source_name="ningbo.yaml", source_sha256="", now=NOW
        )
        assert again.unchanged and again.missing == ["haishu", "fenghua"]
        assert cities.read_city(session=session, code="ningbo") == spec
        assert cities.cities_of(session=session, program="yinzhou") == ["ningbo"]
        assert cities.cities_of(session=session, program="nowhere") == []


def test_reloading_a_city_replaces_its_pilots_in_the_new_order(engine: sa.Engine) -> None:
    spec = read_city_file(NINGBO)
    changed = spec.model_copy(update={"programs": ["xiangshan", "yinzhou"], "name": "宁波"})
    with db.session(engine) as session:
        cities.load_city(session=session, spec=spec, source_name="a", source_sha256="", now=NOW)
    with db.session(engine) as session:
        result = cities.load_city(
            session=session, spec=changed, source_name="b", source_sha256="", now=NOW
        )
        assert not result.created and not result.unchanged
        city = session.exec(select(City)).one()
        assert city.name == "宁波"
        rows = session.exec(select(CityProgram).order_by(CityProgram.position)).all()
        assert [row.program_code for row in rows] == ["xiangshan", "yinzhou"]


def test_an_unknown_city_says_which_exist(engine: sa.Engine) -> None:
    with db.session(engine) as session:
        with pytest.raises(NotFoundError, match="no city is loaded yet"):
            cities.get_city(session=session, code="ningbo")
        cities.load_city(
            session=session,
            spec=read_city_file(NINGBO),
            source_name="n",
            source_sha256="",
            now=NOW,
        )
        with pytest.raises(NotFoundError, match="loaded cities: ningbo"):
            cities.get_city(session=session, code="hangzhou")


def test_city_load_and_list_on_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    loaded = runner.invoke(app, ["city", "load", str(NINGBO)])
    assert loaded.exit_code == 0, loaded.output
    assert "ningbo: created, 4 pilots (haishu, yinzhou, fenghua, xiangshan)" in loaded.stdout
    assert "not loaded yet: haishu, yinzhou, fenghua, xiangshan" in loaded.stdout
    again = runner.invoke(app, ["city", "load", str(NINGBO)])
    assert "ningbo: unchanged" in again.stdout

    listed = json.loads(runner.invoke(app, ["city", "list", "--json"]).stdout)
    assert [(row["code"], row["programs"]) for row in listed] == [
        ("ningbo", ["haishu", "yinzhou", "fenghua", "xiangshan"])
    ]


def test_a_bad_city_file_writes_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: x\nname: X\noffice: Y\nprograms: [a, a]\n", encoding="utf-8")
    result = runner.invoke(app, ["city", "load", str(NINGBO), str(bad)])
    assert result.exit_code != 0
    assert 'programs[1] (line 4): the program "a" is named twice' in result.stderr
    assert "nothing was written" in result.stderr
    assert "no city is loaded yet" in runner.invoke(app, ["city", "list"]).stdout


def test_the_example_city_loads_over_the_four_example_pilots() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    programs = sorted((ROOT / "examples" / "programs").glob("*.yaml"))
    assert [path.stem for path in programs] == ["fenghua", "haishu", "xiangshan", "yinzhou"]
    loaded = runner.invoke(app, ["program", "load", *map(str, programs)])
    assert loaded.exit_code == 0, loaded.output
    assert "haishu: created with 28 units, 3 task lists, 23 tasks, 4 indicators" in loaded.stdout
    assert "fenghua: created with 28 units, 3 task lists, 19 tasks, 4 indicators" in loaded.stdout
    city = runner.invoke(app, ["city", "load", str(NINGBO)])
    assert city.exit_code == 0, city.output
    assert "ningbo: created, 4 pilots (haishu, yinzhou, fenghua, xiangshan)" in city.stdout
    assert "not loaded yet" not in city.stdout
    listed = json.loads(runner.invoke(app, ["city", "list", "--json"]).stdout)
    assert [(row["code"], row["missing"]) for row in listed] == [("ningbo", [])]
    shown = json.loads(runner.invoke(app, ["program", "list", "--json"]).stdout)
    assert {row["code"]: row["level"] for row in shown} == {
        "fenghua": "provincial",
        "haishu": "municipal",
        "xiangshan": "provincial",
        "yinzhou": "national",
    }
