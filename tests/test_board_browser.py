"""The office's board in a real browser (Debian's Chromium, tests/browser.py), on the
demo's first quarter (tests/board_fixtures.py): signing in, the battle map and its
filters, a cell's history and its archived original, an interview recorded, an extension
approved; a leader who cannot post, an office that cannot open another program."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .board_fixtures import PASSWORD, ServedBoard
from .browser import Console


def sign_in(page: Any, board: ServedBoard, name: str) -> None:
    """Sign in as a person does, on the login page an anonymous visitor of / lands on."""
    page.goto(f"{board.url}/")
    expect(page).to_have_url(f"{board.url}/login")
    expect(page.locator("h1")).to_have_text("试点工作台登录")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{board.url}/")


def test_a_wrong_password_is_told_plainly(board_server: ServedBoard, page: Any) -> None:
    page.goto(f"{board_server.url}/login")
    page.get_by_label("用户名").fill("office-xs")
    page.get_by_label("密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    expect(page.get_by_label("用户名")).to_have_value("office-xs")


def test_the_office_filters_the_map_and_opens_a_cells_history_and_its_original(
    board_server: ServedBoard, page: Any, console: Console, tmp_path: Path
) -> None:
    sign_in(page, board_server, "office-xs")
    page.get_by_role("link", name="象山县中长期青年发展规划省级试点").click()
    expect(page.get_by_role("link", name="挂图作战")).to_have_attribute("aria-current", "page")
    rows = page.locator("table.battle-map tbody tr")
    expect(rows).to_have_count(30)  # every unit of Xiangshan
    # The stylesheet loaded under the CSP: a cell on plan has the PDF's green.
    on_plan = page.locator("td.cell.band-on_plan").first
    expect(on_plan).to_have_css("background-color", "rgb(76, 175, 80)")

    # Only the units with a red flag, in one task list.
    page.locator("#filter-flag").select_option("red")
    page.locator("#filter-list").select_option("mechanism")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"/p/xiangshan\?.*flag=red"))
    filtered = rows.count()
    assert 0 < filtered < 30
    for header in page.locator("table.battle-map th.task-code").all_inner_texts():
        assert header.startswith("XS-JZ-"), header

    # A lead unit's cell with a report: its history, with the submission's sha256.
    page.locator("#filter-flag").select_option("")
    page.get_by_role("button", name="筛选").click()
    cell = page.locator("td.cell:not(.co) a", has_text=re.compile(r"^\d+$")).first
    cell.click()
    expect(page).to_have_url(re.compile(r"/p/xiangshan/tasks/XS-"))
    expect(page.locator("h1")).to_be_visible()
    download_link = page.get_by_role("link", name=re.compile("下载原始文件")).first
    expect(download_link).to_be_visible()
    shown = page.locator("code").filter(has_text=re.compile(r"^[0-9a-f]{64}$")).first
    sha256 = shown.inner_text()
    with page.expect_download() as waiting:
        download_link.click()
    saved = tmp_path / "original"
    waiting.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == sha256
    assert console.errors == []


def test_the_office_records_an_interviews_outcome(
    board_server: ServedBoard, page: Any, console: Console
) -> None:
    sign_in(page, board_server, "office-yz")
    page.get_by_role("link", name=re.compile("鄞州")).click()
    page.get_by_role("link", name="督办约谈").click()
    interviews = page.locator("#level-interview")
    expect(interviews.locator("h2")).to_contain_text("约谈")
    first = interviews.locator("tr[id^=escalation-]").first
    unit = first.locator("td").first.inner_text()
    more = first.locator("xpath=following-sibling::tr[1]")
    more.get_by_text("记录约谈结果").click()
    more.get_by_label("约谈日期").fill("2021-04-08")
    more.get_by_label("参加人员（职务、姓名）").fill("专班负责人、该单位主要负责人及联络员")
    more.get_by_label("商定事项", exact=True).fill("4月底前补报进展，<b>每周</b>报送一次")
    more.get_by_role("button", name="保存约谈记录").click()
    expect(page.locator("section.flash")).to_contain_text("的约谈结果")
    shown = page.locator("ul.interviews").first
    expect(shown).to_contain_text("2021-04-08 约谈")
    expect(shown).to_contain_text("4月底前补报进展，<b>每周</b>报送一次")  # text, not markup
    expect(shown).to_contain_text("office-yz 记录于")
    assert unit.split()[0] in page.locator("#level-interview").inner_text()
    # A reload says nothing again and records nothing again.
    page.reload()
    expect(page.locator("section.flash")).to_have_count(0)
    expect(page.locator("ul.interviews li")).to_have_count(1)
    assert console.errors == []


def test_the_office_approves_an_extension_and_the_unit_is_told(
    board_server: ServedBoard, page: Any, console: Console
) -> None:
    sign_in(page, board_server, "office-xs")
    page.goto(f"{board_server.url}/p/xiangshan/inbox")
    request = page.locator("li.request.pending").first
    expect(request).to_contain_text("需协调多部门联合推进")
    request.get_by_label("批准意见").fill("同意延期，请按新时限推进")
    request.get_by_role("button", name="批准延期").click()
    expect(page.locator("section.flash")).to_contain_text("批准")
    expect(page.locator("table.decided")).to_contain_text("同意延期，请按新时限推进")
    expect(page.locator("table.decided")).to_contain_text("office-xs")
    # A reload does not decide again.
    page.reload()
    expect(page.locator("li.request.pending")).to_have_count(0)
    assert console.errors == []


def test_a_leader_reads_the_board_and_cannot_post(board_server: ServedBoard, page: Any) -> None:
    sign_in(page, board_server, "leader-xs")
    for tab in ("inbox", "reports", "indicators", ""):
        answer = page.goto(f"{board_server.url}/p/xiangshan/{tab}".rstrip("/"))
        assert answer is not None and answer.status == 200
        expect(page.locator("form[method=post]:not([action='/logout'])")).to_have_count(0)
    # Posting by hand, with the browser's own session, is refused.
    answer = page.request.post(
        f"{board_server.url}/p/xiangshan/extensions/1",
        form={"action": "approve", "note": ""},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "领导账户只能查看" in answer.text()


def test_an_office_cannot_open_another_program(board_server: ServedBoard, page: Any) -> None:
    sign_in(page, board_server, "office-yz")
    expect(page.get_by_role("link", name=re.compile("象山"))).to_have_count(0)
    answer = page.goto(f"{board_server.url}/p/xiangshan")
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("页面不存在")


def test_signing_out_ends_the_session(board_server: ServedBoard, page: Any) -> None:
    sign_in(page, board_server, "city")
    expect(page.locator("h1")).to_have_text("全市试点总览")
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{board_server.url}/login")
    page.goto(f"{board_server.url}/p/yinzhou")
    expect(page).to_have_url(re.compile("/login"))
