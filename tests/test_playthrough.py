"""The demo's set-up around the domain calls: its loopback addresses and its HTTP source
(tests/test_demo.py plays the whole half-year)."""

from __future__ import annotations

import email
from datetime import date
from pathlib import Path

import pytest
import yaml

from pilot_tracker.demo.playthrough import (
    HTTP_PORT,
    _shares,
    apprise_config,
    loopback_targets,
    play,
    served_here,
)
from pilot_tracker.ledger.city_file import read_city_file
from pilot_tracker.ledger.links import Links
from pilot_tracker.ledger.program_file import HttpSourceSpec, ProgramSpec, read_program_file

from .conftest import EXAMPLES, ROOT

SPECS = [read_program_file(path) for path in sorted(EXAMPLES.glob("*.yaml"))]
NINGBO = read_city_file(ROOT / "examples" / "cities" / "ningbo.yaml")


def http_urls(spec: ProgramSpec) -> dict[str, str]:
    return {
        unit.code: source.url
        for unit in spec.units
        for source in unit.sources
        if isinstance(source, HttpSourceSpec)
    }


def test_the_http_source_moves_to_the_port_the_demo_serves_it_on() -> None:
    yinzhou = next(spec for spec in SPECS if spec.code == "yinzhou")
    assert http_urls(yinzhou) == {"dsj": f"http://127.0.0.1:{HTTP_PORT}/yinzhou/dsj/progress.json"}
    moved = served_here(yinzhou, 40123)
    assert http_urls(moved) == {"dsj": "http://127.0.0.1:40123/yinzhou/dsj/progress.json"}
    assert moved.model_copy(update={"units": yinzhou.units}) == yinzhou  # nothing else
    for spec in SPECS:
        if spec.code != "yinzhou":
            assert served_here(spec, 40123) == spec


def test_the_demos_addresses_reach_every_unit_office_and_the_city(tmp_path: Path) -> None:
    path = apprise_config(SPECS, 2525, tmp_path / "apprise.yml", [NINGBO])
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["urls"]
    urls = [next(iter(entry)) for entry in entries]
    assert all(url.startswith("mailto://127.0.0.1:2525?") for url in urls)
    units = sum(len(spec.units) for spec in SPECS)
    assert len(entries) == 2 * units + 2 * len(SPECS) + 2  # liaison, head; office, leader

    targets = loopback_targets(path)
    assert len(targets) == len(entries)
    # Read once for the whole half-year, so no address waits between two mails.
    assert {server.request_rate_per_sec for server in targets} == {0}
    [city] = targets.find(tag=[("city:ningbo", "role:city")], match_always=False)
    assert "/ningbo-city%40demo.example.gov.cn?" in city.url(privacy=False)
    [leader] = targets.find(tag=[("city:ningbo", "role:leader")], match_always=False)
    assert "/ningbo-leader%40demo.example.gov.cn?" in leader.url(privacy=False)
    [liaison] = targets.find(
        tag=[("program:haishu", "unit:tqw", "role:liaison")], match_always=False
    )
    assert "haishu-tqw-liaison" in liaison.url(privacy=False)


def test_the_programs_are_shared_by_their_units_and_keep_their_order() -> None:
    by_code = {spec.code: spec for spec in SPECS}
    sizes = {code: len(spec.units) for code, spec in by_code.items()}

    two = _shares(SPECS, 2)
    four = _shares(SPECS, 4)

    assert sorted(spec.code for group in two for spec in group) == sorted(by_code)
    loads = [sum(sizes[spec.code] for spec in group) for group in two]
    assert max(loads) - min(loads) <= max(sizes.values()), loads
    for group in two:  # each group plays its programs in the order given
        assert [spec.code for spec in group] == [s.code for s in SPECS if s in group]
    assert sorted(len(group) for group in four) == [1, 1, 1, 1]
    assert _shares(SPECS[:1], 2) == [SPECS[:1]]


@pytest.mark.slow  # a week played twice, about 30 s
def test_two_players_play_what_one_plays(tmp_path: Path) -> None:
    """A week of the demo played in two processes: the same figures, reports and mails as
    in one, every program's messages sent once (the servers stay in this one)."""
    played = {}
    for workers in (1, 2):
        result = play(
            folder=tmp_path / f"demo-{workers}",
            examples=sorted(EXAMPLES.glob("*.yaml")),
            templates=ROOT / "templates",
            start=date(2021, 1, 15),
            end=date(2021, 1, 21),
            links=lambda home: Links("k" * 40, "http://127.0.0.1:8000"),
            city_files=[ROOT / "examples" / "cities" / "ningbo.yaml"],
            workers=workers,
        )
        assert result.problems == []
        mails = sorted((result.folder / "mail").glob("*.eml"))
        played[workers] = (
            result.days,
            result.flagged_units,
            result.escalations,
            result.messages,
            result.mails,
            result.replies,
            sorted(Path(path).name for path in result.reports),
            sorted(
                (str(m["To"]), str(m["Subject"]))
                for m in (email.message_from_bytes(path.read_bytes()) for path in mails)
            ),
        )
    assert played[1] == played[2]
    assert played[2][3] == played[2][4] > 0  # every message sent is a mail kept, once


@pytest.mark.slow  # two processes started, a few seconds
def test_a_players_error_reaches_the_demo_and_stops_the_others(tmp_path: Path) -> None:
    """A player that cannot open the database says why; the demo raises it, not a hang."""
    import multiprocessing

    from pilot_tracker.demo.playthrough import _Group, _play_apart
    from pilot_tracker.errors import DatabaseError

    def group(code: str) -> _Group:
        return _Group(
            programs=[spec for spec in SPECS if spec.code == code],
            home=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'missing' / 'pilot-tracker.db'}",
            apprise_config=tmp_path / "apprise.yml",
            templates=ROOT / "templates",
            links=None,
            days=[date(2021, 1, 4)],
            total=1,
            due={},
            answers={},
            reminders={},
            post=None,
        )

    with (
        multiprocessing.get_context("spawn").Manager() as shared,
        pytest.raises(DatabaseError, match="no folder"),
    ):
        _play_apart([group("haishu"), group("yinzhou")], shared, lambda *_: None)
