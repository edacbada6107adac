"""The demo submissions: every behaviour a supervisor meets, the same for the same seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from pilot_tracker.collect.payload import read_payload
from pilot_tracker.demo.submissions import Behaviour, behaviours, deliver
from pilot_tracker.ledger.program_file import ProgramSpec, read_program_file

from .conftest import EXAMPLES


@pytest.fixture(scope="module")
def yinzhou() -> ProgramSpec:
    return read_program_file(EXAMPLES / "yinzhou.yaml")


def test_every_kind_of_unit_is_there(yinzhou: ProgramSpec) -> None:
    kinds = Counter(behaviours(yinzhou).values())
    assert kinds[Behaviour.SILENT] == 1
    assert kinds[Behaviour.HTTP] == 1
    for kind in (
        Behaviour.MESSY_WORKBOOK,
        Behaviour.GBK_CSV,
        Behaviour.BAD_ROW,
        Behaviour.LATE,
        Behaviour.BEHIND,
    ):
        assert kinds[kind] >= 1, kind
    assert kinds[Behaviour.ON_TRACK] > sum(kinds.values()) / 3  # most units are on track


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_example_program_has_its_share_of_each_kind_of_unit(path: Path) -> None:
    spec = read_program_file(path)
    kinds = Counter(behaviours(spec).values())
    for kind in (
        Behaviour.SILENT,
        Behaviour.MESSY_WORKBOOK,
        Behaviour.GBK_CSV,
        Behaviour.BAD_ROW,
        Behaviour.RECOVERING,
    ):
        assert kinds[kind] == 1, kind
    reporting = sum(kinds.values()) - kinds[Behaviour.HTTP]
    for kind in (Behaviour.LATE, Behaviour.BEHIND):
        assert kinds[kind] == max(1, (reporting - 2) // 7), kind  # one in seven, at least one
    assert kinds[Behaviour.ON_TRACK] > sum(kinds.values()) / 3
    # Only Yinzhou's big-data centre reports over HTTP.
    assert (kinds[Behaviour.HTTP] == 1) == (spec.code == "yinzhou")


def test_the_same_seed_gives_the_same_submissions(yinzhou: ProgramSpec, tmp_path: Path) -> None:
    first = deliver(spec=yinzhou, inbox=tmp_path / "a", since=None, until=date(2021, 2, 28))
    second = deliver(spec=yinzhou, inbox=tmp_path / "b", since=None, until=date(2021, 2, 28))
    assert [p.relative_to(tmp_path / "a") for p in first.written] == [
        p.relative_to(tmp_path / "b") for p in second.written
    ]
    for one, other in zip(first.written, second.written, strict=True):
        rows = [read_payload(path.read_bytes(), path.name).task_rows for path in (one, other)]
        assert [[c.value for c in r.cells.values()] for r in rows[0]] == [
            [c.value for c in r.cells.values()] for r in rows[1]
        ]
    assert first.http == second.http


def test_days_are_delivered_once(yinzhou: ProgramSpec, tmp_path: Path) -> None:
    whole = deliver(spec=yinzhou, inbox=tmp_path / "whole", since=None, until=date(2021, 3, 31))
    parts = [
        deliver(spec=yinzhou, inbox=tmp_path / "parts", since=since, until=until)
        for since, until in ((None, date(2021, 1, 31)), (date(2021, 1, 31), date(2021, 3, 31)))
    ]
    assert len(whole.written) == sum(len(part.written) for part in parts)


def test_late_units_report_after_the_deadline_and_others_before(
    yinzhou: ProgramSpec, tmp_path: Path
) -> None:
    plan = behaviours(yinzhou)
    delivery = deliver(spec=yinzhou, inbox=tmp_path, since=None, until=date(2021, 1, 31))
    for path in delivery.written:
        unit = path.parent.name
        read = read_payload(path.read_bytes(), path.name)
        dates = [row.value("reported_on") for row in read.task_rows if row.value("reported_on")]
        dates += [row.value("as_of") for row in read.indicator_rows if row.value("as_of")]
        day = dates[0]
        if isinstance(day, str):
            continue  # the messy workbook writes 2021年1月20日
        assert (day.day > 25) == (plan[unit] is Behaviour.LATE), (unit, day)


def test_messy_files_are_messy(yinzhou: ProgramSpec, tmp_path: Path) -> None:
    plan = behaviours(yinzhou)
    delivery = deliver(spec=yinzhou, inbox=tmp_path, since=None, until=date(2021, 1, 31))
    by_unit = {path.parent.name: path for path in delivery.written}
    gbk = by_unit[next(u for u, k in plan.items() if k is Behaviour.GBK_CSV)]
    assert gbk.suffix == ".csv" and "任务编号" in gbk.read_bytes().decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        gbk.read_bytes().decode("utf-8")
    messy = by_unit[next(u for u, k in plan.items() if k is Behaviour.MESSY_WORKBOOK)]
    sheet = openpyxl.load_workbook(messy)["任务进展"]
    assert sheet["A4"].value == "任务\n编号"  # re-typed, two rows lower than the template's
    percents = [cell.value for cell in sheet["G"][4:] if cell.value is not None]
    assert percents and all(str(value).endswith("%") for value in percents)  # as text
    http_unit = next(u for u, k in plan.items() if k is Behaviour.HTTP)
    body = json.loads(delivery.http[http_unit])
    assert body["meta"] == {"program": "yinzhou", "unit": http_unit} and body["tasks"]


def test_the_http_source_is_down_in_the_second_period(yinzhou: ProgramSpec, tmp_path: Path) -> None:
    january = deliver(spec=yinzhou, inbox=tmp_path, since=None, until=date(2021, 1, 31))
    february = deliver(
        spec=yinzhou, inbox=tmp_path, since=date(2021, 1, 31), until=date(2021, 2, 28)
    )
    assert january.down == [] and february.down == ["dsj"]
