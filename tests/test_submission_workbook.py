"""The submission workbook a unit's liaison fills in."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from pilot_tracker.collect.submission_workbook import STATUS_CHOICES, write_submission_template
from pilot_tracker.errors import NotFoundError
from pilot_tracker.ledger.program_file import read_program_file

from .conftest import EXAMPLES


@pytest.fixture(scope="module")
def yinzhou():
    return read_program_file(EXAMPLES / "yinzhou.yaml")


def test_a_unit_gets_the_tasks_it_leads_or_co_leads(tmp_path: Path, yinzhou) -> None:
    unit = "rsj"
    path = tmp_path / "rsj.xlsx"
    count = write_submission_template(yinzhou, unit, path, generated_on=date(2021, 3, 1))

    leads = [task.code for task in yinzhou.tasks if task.lead_unit == unit]
    co_leads = [task.code for task in yinzhou.tasks if unit in task.co_units]
    assert count == len(leads) + len(co_leads) > 0

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["任务进展", "指标数据", "填报说明", "_meta"]
    sheet = workbook["任务进展"]
    assert "区人力社保局" in sheet["A1"].value
    headers = [cell.value for cell in sheet[2]]
    for header in (
        "任务编号",
        "任务名称",
        "进展状态",
        "完成进度",
        "进展情况",
        "存在问题",
        "下步计划",
        "佐证材料",
        "填报日期",
    ):
        assert header in headers
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=3)]
    assert {row[0] for row in rows} == set(leads + co_leads)
    roles = {row[0]: row[3] for row in rows}
    assert all(roles[code] == "牵头" for code in leads)
    assert all(roles[code] == "配合" for code in co_leads)
    first = next(task for task in yinzhou.tasks if task.code == rows[0][0])
    assert rows[0][4] == datetime.combine(first.due, datetime.min.time())
    assert all(value is None for value in rows[0][5:])  # left for the liaison


def test_status_is_a_drop_down_and_percent_is_bounded(tmp_path: Path, yinzhou) -> None:
    path = tmp_path / "rsj.xlsx"
    write_submission_template(yinzhou, "rsj", path, generated_on=date(2021, 3, 1))
    sheet = openpyxl.load_workbook(path)["任务进展"]
    validations = {str(v.sqref).split(":")[0][0]: v for v in sheet.data_validations.dataValidation}
    status = validations["F"]
    assert status.type == "list"
    assert status.formula1 == '"' + ",".join(STATUS_CHOICES) + '"'
    assert STATUS_CHOICES == ["未启动", "推进中", "已完成", "滞后", "暂停"]
    percent = validations["G"]
    assert (percent.type, percent.formula1, percent.formula2) == ("decimal", "0", "100")
    assert validations["L"].type == "date"


def test_indicators_go_to_the_unit_that_owns_them(tmp_path: Path, yinzhou) -> None:
    owner = yinzhou.indicators[0].owner
    path = tmp_path / "owner.xlsx"
    write_submission_template(yinzhou, owner, path, generated_on=date(2021, 3, 1))
    sheet = openpyxl.load_workbook(path)["指标数据"]
    assert [cell.value for cell in sheet[2]] == [
        "指标编号",
        "指标名称",
        "计量单位",
        "基期值",
        "目标值",
        "当前值",
        "统计时点",
    ]
    codes = [row[0].value for row in sheet.iter_rows(min_row=3)]
    assert codes == [i.code for i in yinzhou.indicators if i.owner == owner]


def test_a_unit_without_indicators_is_told_so(tmp_path: Path, yinzhou) -> None:
    owners = {indicator.owner for indicator in yinzhou.indicators}
    unit = next(unit.code for unit in yinzhou.units if unit.code not in owners)
    path = tmp_path / "none.xlsx"
    write_submission_template(yinzhou, unit, path, generated_on=date(2021, 3, 1))
    sheet = openpyxl.load_workbook(path)["指标数据"]
    assert sheet["A1"].value.endswith("（本单位无需报送指标数据）")
    assert sheet["A3"].value is None


def test_hidden_metadata_names_program_unit_and_version(tmp_path: Path, yinzhou) -> None:
    path = tmp_path / "rsj.xlsx"
    write_submission_template(yinzhou, "rsj", path, generated_on=date(2021, 3, 1))
    meta = openpyxl.load_workbook(path)["_meta"]
    assert meta.sheet_state == "hidden"
    assert {row[0].value: row[1].value for row in meta.iter_rows()} == {
        "program": "yinzhou",
        "unit": "rsj",
        "template_version": "1",
        "generated_on": "2021-03-01",
    }


def test_an_unknown_unit(tmp_path: Path, yinzhou) -> None:
    with pytest.raises(NotFoundError, match='no unit "xyz" in program yinzhou'):
        write_submission_template(
            yinzhou, "xyz", tmp_path / "x.xlsx", generated_on=date(2021, 3, 1)
        )
    assert not (tmp_path / "x.xlsx").exists()
