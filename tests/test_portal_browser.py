"""The unit portal in a real browser (Debian's Chromium, tests/browser.py): what a liaison
sees when opening the personal link, on a desktop and on a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from pilot_tracker.ledger.program_file import read_program_file

from .browser import PHONE, Console, png_size
from .conftest import EXAMPLES
from .portal_fixtures import ServedPortal


def task_codes(program: str, unit: str) -> list[str]:
    """The tasks a unit leads or shares, from the example program file."""
    spec = read_program_file(EXAMPLES / f"{program}.yaml")
    return [task.code for task in spec.tasks if unit in (task.lead_unit, *task.co_units)]


def test_a_liaison_opens_the_link_and_sees_the_units_tasks(
    portal_server: ServedPortal, page: Any, console: Console, tmp_path: Path
) -> None:
    answer = page.goto(portal_server.link("xiangshan", "tw"))
    assert answer is not None and answer.status == 200
    expect(page).to_have_title("团县委 · 象山县中长期青年发展规划省级试点")
    expect(page.locator("h1")).to_have_text("团县委")
    codes = task_codes("xiangshan", "tw")
    expect(page.locator("#tasks h2")).to_have_text(f"本单位任务（{len(codes)}项）")
    expect(page.locator("li.task")).to_have_count(len(codes))
    for code in codes:
        task = page.locator(f"#task-{code}")
        expect(task).to_be_visible()
        expect(task).to_contain_text("计划进度")
        expect(task).to_contain_text("尚未报送")
    # The stylesheet loaded under the CSP (style-src 'self'): the header has its colour.
    header = page.locator("header.top")
    expect(header).to_have_css("background-color", "rgb(159, 28, 28)")
    assert console.errors == []

    shot = tmp_path / "unit-desktop.png"
    page.screenshot(path=shot, full_page=True)
    width, height = png_size(shot)
    assert width == 1280 and height >= 800


def test_a_revoked_link_shows_the_gone_page_and_a_new_link_works(
    portal_server: ServedPortal, page: Any
) -> None:
    old = portal_server.link("xiangshan", "jyj")
    portal_server.revoke("xiangshan", "jyj")

    answer = page.goto(old)
    assert answer is not None and answer.status == 410
    expect(page.locator("h1")).to_have_text("链接已失效")
    expect(page.get_by_role("alert")).to_contain_text("该链接已停用，请使用最新通知中的链接")
    token = old.rsplit("/", 1)[1]
    assert token not in page.content()
    expect(page.locator("#tasks")).to_have_count(0)

    answer = page.goto(portal_server.link("xiangshan", "jyj"))
    assert answer is not None and answer.status == 200
    expect(page.locator("h1")).to_have_text("县教育局")


@pytest.mark.parametrize(
    ("program", "unit"),
    [("xiangshan", "tw"), ("yinzhou", "tqw")],
    ids=["most-tasks", "with-indicators"],
)
def test_the_page_fits_a_phones_screen(
    portal_server: ServedPortal, phone_page: Any, tmp_path: Path, program: str, unit: str
) -> None:
    answer = phone_page.goto(portal_server.link(program, unit))
    assert answer is not None and answer.status == 200
    screen = PHONE["viewport"]["width"]
    # No horizontal scroll: nothing is wider than the screen (a phone's browser would zoom
    # out to show a wider page, and its text would be too small to read).
    document = phone_page.evaluate("document.documentElement.scrollWidth")
    assert document <= screen, f"the page is {document} px wide on a {screen} px screen"
    assert phone_page.evaluate("window.innerWidth") == screen
    # Every task is shown whole, within the screen's width (one look at all of them).
    shown = phone_page.evaluate(
        """(screen) => Object.fromEntries([...document.querySelectorAll("li.task, #indicators tr")]
            .map((line) => { const box = line.getBoundingClientRect();
              return [line.id || line.parentElement.tagName, line.checkVisibility()
                && box.width > 0 && box.height > 0 && box.left >= 0 && box.right <= screen]; }))""",
        screen,
    )
    codes = task_codes(program, unit)
    assert codes and {f"task-{code}" for code in codes} <= set(shown)
    assert all(shown.values()), [line for line, whole in shown.items() if not whole]

    shot = tmp_path / "unit-phone.png"
    phone_page.screenshot(path=shot, full_page=True)
    width, height = png_size(shot)
    assert (width, height >= 844 * 2) == (screen * 2, True)  # twice the pixels of 390 × 844


def test_the_csp_refuses_a_script_written_into_the_page(
    portal_server: ServedPortal, page: Any, console: Console
) -> None:
    """What the console check of every browser test relies on: an inline script, as an
    injected ``<script>`` would be, is refused, and the refusal shows on the console."""
    page.goto(portal_server.link("yinzhou", "rsj"))
    page.evaluate(
        """() => { const s = document.createElement("script");
        s.textContent = "document.title = 'injected'"; document.body.append(s); }"""
    )
    expect(page).not_to_have_title("injected")
    assert any("script-src 'self'" in line for line in console.blocked), console.messages
    console.messages.clear()
