"""The PDF keeps the 公文 layout (GB/T 9704), set in the free fonts that stand for the
office's own: the small pilot's half-year evaluation printed once as it is and once with
a `gongwen` header and 版记, then read back as a reader's tools see it (pdftotext's word
boxes for where text sits, pypdf for which font and size each piece of text is set in).
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from pilot_tracker import db
from pilot_tracker.reports import charts, documents, figures

from .test_reports import TEMPLATES, build, snapshot

MM = 72 / 25.4
PAGE = (210 * MM, 297 * MM)  # A4, in points
# The 版心: 156 × 225 mm, 订口 28 mm (the left of an odd page, the right of an even one:
# printed on both sides), 天头 (top) 37 mm.
LEFT, TOP, RIGHT, BOTTOM = 28 * MM, 37 * MM, (28 + 156) * MM, (37 + 225) * MM
EVEN = 2 * MM  # how far left an even page's 版心 sits of an odd page's
SLACK = 1.0  # points: what a glyph's box may stand out of its line

GONGWEN = {
    "issuer": "演示县青年发展工作领导小组办公室",
    "number": "演青办〔2021〕5号",
    "recipients": ["县级各有关单位", "各乡镇（街道）"],
    "copies": ["团市委", "县委办公室", "县政府办公室"],
    "printer": "演示县青年发展工作领导小组办公室",
    "printed": date(2021, 7, 12),
}


@dataclass
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass
class Span:
    page: int
    text: str
    font: str
    size: float


@dataclass
class Printed:
    plain: Path
    official: Path
    grid: Path


def render(page: str, path: Path) -> Path:
    documents.pdf(page, path, assets=TEMPLATES)
    return path


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Printed]:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: run scripts/setup")
    if documents.missing_stand_ins():
        pytest.skip("the layout's free fonts are not installed: run scripts/setup")
    folder = tmp_path_factory.mktemp("gongwen")
    engine = db.make_engine(f"sqlite:///{folder / 'ledger.db'}")
    db.migrate(engine)
    build(engine)
    end = date(2021, 6, 30)
    data = figures.evaluation(snapshot(engine, end), "2021H1")
    context = {
        "e": data,
        "chart_lists": charts.completion_by_list(data),
        "chart_map": charts.battle_map(data),
        "generated": documents.stamp(end),
    }
    plain = documents.html(TEMPLATES, "reports/half_year.html.j2", **context)
    official = documents.html(TEMPLATES, "reports/half_year.html.j2", gongwen=GONGWEN, **context)
    # Two paragraphs of plain 3号 text: the line grid and the characters a line holds.
    grid = (
        documents.environment(TEMPLATES)
        .from_string(
            '{% extends "reports/base.html.j2" %}{% block body %}'
            "<p>{{ text }}</p><p>{{ text }}</p>{% endblock %}"
        )
        .render(text="青年发展规划试点工作推进" * 12, generated=documents.stamp(end))
    )
    yield Printed(
        render(plain, folder / "plain.pdf"),
        render(official, folder / "official.pdf"),
        render(grid, folder / "grid.pdf"),
    )
    engine.dispose()


def words(path: Path) -> list[Word]:
    """Every word pdftotext finds, with its box in points from the page's top left."""
    out = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for number, page in enumerate(out.split("<page ")[1:]):
        for x0, y0, x1, y1, text in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            page,
        ):
            found.append(Word(number, float(x0), float(y0), float(x1), float(y1), text))
    return found


def spans(path: Path) -> list[Span]:
    """Every piece of text with the font it is set in and its size in points."""
    found: list[Span] = []

    def seen_on(number: int) -> Any:
        def seen(text: str, cm: list, tm: list, font: dict | None, size: float) -> None:
            if text.strip() and font is not None:
                name = str(font["/BaseFont"]).split("+")[-1]
                found.append(Span(number, text.strip(), name, round(size * cm[0] * tm[0], 1)))

        return seen

    for number, page in enumerate(PdfReader(path).pages):
        page.extract_text(visitor_text=seen_on(number))
    return found


def line_of(found: list[Word], text: str) -> list[Word]:
    """The words on the line that holds ``text`` (the first such line), left to right.
    Boxes differ in height by font (Latin digits, Chinese), so a line is told by the
    middle of its boxes."""
    [first, *_] = [w for w in found if text in w.text]
    middle = (first.y0 + first.y1) / 2
    line = [w for w in found if w.page == first.page and abs((w.y0 + w.y1) / 2 - middle) < 3]
    return sorted(line, key=lambda w: w.x0)


def test_every_page_is_a4(printed: Printed) -> None:
    for path in (printed.plain, printed.official):
        pages = PdfReader(path).pages
        assert len(pages) >= 2, path.name  # so both page sides are seen below
        for page in pages:
            assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
                PAGE, abs=0.5
            )


def test_the_text_stays_inside_the_type_area(printed: Printed) -> None:
    """Every word but the page number inside the 版心, tables and charts included."""
    for path in (printed.plain, printed.official):
        found = words(path)
        numbers = [w for w in found if w.y0 > BOTTOM]
        body = [w for w in found if w.y0 <= BOTTOM]
        assert body and len(numbers) == 3 * len(PdfReader(path).pages)
        outside = [
            (w.page + 1, w.text)
            for w in body
            if w.x0 < LEFT - shift(w) - SLACK
            or w.x1 > RIGHT - shift(w) + SLACK
            or w.y0 < TOP - SLACK
            or w.y1 > BOTTOM + SLACK
        ]
        assert outside == [], path.name
        # The text reaches both sides of the 版心: it is the 版心, not a narrower column
        # (an even page's sits 2 mm to the left, its binding edge on the right).
        assert min(w.x0 + shift(w) for w in body) == pytest.approx(LEFT, abs=SLACK)
        assert max(w.x1 + shift(w) for w in body) == pytest.approx(RIGHT, abs=3 * 16 / 28 + SLACK)
        evens = [w.x0 for w in body if shift(w)]
        assert not evens or min(evens) == pytest.approx(LEFT - EVEN, abs=SLACK)


def shift(word: Word) -> float:
    """How far left of an odd page's the 版心 of the word's page is."""
    return EVEN if word.page % 2 == 1 else 0.0


def test_page_numbers_sit_under_the_type_area_right_on_odd_pages_left_on_even(
    printed: Printed,
) -> None:
    found = words(printed.plain)
    pages = len(PdfReader(printed.plain).pages)
    for page in range(pages):
        line = sorted((w for w in found if w.page == page and w.y0 > BOTTOM), key=lambda w: w.x0)
        assert [w.text for w in line] == ["—", str(page + 1), "—"]
        # 一字线 7 mm under the 版心; one 4号 character (14 pt) in from its edge.
        assert line[0].y0 == pytest.approx(BOTTOM + 7 * MM, abs=2)
        if page % 2 == 0:
            assert line[-1].x1 == pytest.approx(RIGHT - 14, abs=1.5)
        else:
            assert line[0].x0 == pytest.approx(LEFT - EVEN + 14, abs=1.5)
    numbers = [s for s in spans(printed.plain) if s.text in ("—", "— 1 —", "—1—")]
    assert numbers and {(s.font, s.size) for s in numbers} == {("Noto-Serif-CJK-SC", 14.0)}


def test_each_level_is_set_in_the_font_that_stands_for_the_office_s(printed: Printed) -> None:
    found = spans(printed.plain)

    def set_in(text: str) -> tuple[str, float]:
        """The font and size of a table cell's text, else of the first text holding it."""
        [span, *_] = [s for s in found if s.text == text] or [s for s in found if text in s.text]
        return span.font, span.size

    # Title 2号 方正小标宋简体; subtitle and （一） headings 楷体; 一、 headings 黑体; body 仿宋.
    assert set_in("演示县试点") == ("Noto-Serif-CJK-SC-Bold", 22.0)
    assert set_in("年上半年评估报告") == ("AR-PL-UKai-CN", 16.0)
    assert set_in("一、总体评价") == ("Noto-Sans-CJK-SC", 16.0)
    assert set_in("三、主要发展指标完成情况") == ("Noto-Sans-CJK-SC", 16.0)
    assert set_in("指标（") == ("AR-PL-UKai-CN", 16.0)
    assert set_in("综合评分最高的是团县委") == ("Noto-Serif-CJK-SC", 16.0)
    # Digits and Latin text in Times New Roman's metric twin.
    assert set_in("92.8") == ("Liberation-Serif", 16.0)
    # Tables in 五号: headers 黑体, cells 仿宋.
    assert set_in("排名 成员单位") == ("Noto-Sans-CJK-SC", 10.5)
    assert set_in("县人力社保局") == ("Noto-Serif-CJK-SC", 10.5)
    # Nothing in a font that stands for none of them (a fallback would look different).
    assert {s.font for s in found} == {
        "Noto-Serif-CJK-SC-Bold",
        "Noto-Serif-CJK-SC",
        "Noto-Sans-CJK-SC",
        "AR-PL-UKai-CN",
        "Liberation-Serif",
    }


def test_lines_keep_the_grid_of_22_lines_of_28_characters(printed: Printed) -> None:
    found = words(printed.grid)
    lines = sorted(w.y0 for w in found if w.y0 <= BOTTOM)
    assert len(lines) >= 8
    # Fixed line spacing: 28.9 pt, so 22 lines fill the 版心's 225 mm and no more fit.
    assert {round(b - a, 1) for a, b in itertools.pairwise(lines)} == {28.9}
    assert 22 * 28.9 <= 225 * MM < 23 * 28.9
    text = [w.text for w in sorted(found, key=lambda w: w.y0) if w.y0 <= BOTTOM]
    # The first line is indented two characters; the others hold 28 each.
    assert [len(line) for line in text[:7]] == [26, 28, 28, 28, 28, 6, 26]


def test_a_unit_name_in_a_table_is_never_broken(printed: Printed) -> None:
    found = words(printed.plain)
    assert any(w.text == "县人力社保局" for w in found)


def test_the_header_block_and_the_imprint_come_from_gongwen(printed: Printed) -> None:
    found = words(printed.official)
    first = [w for w in found if w.page == 0]
    # 发文机关标志 35 mm below the 版心's top, then the 文号, the title, the 主送机关.
    assert first[0].text == GONGWEN["issuer"]
    assert first[0].y0 == pytest.approx(TOP + 35 * MM, abs=6)
    assert [w.text for w in first[1:4]] == [
        "演青办〔2021〕5号",
        "演示县试点",
        "2021年上半年评估报告（1月1日—6月30日）",
    ]
    recipients = line_of(found, "县级各有关单位")
    assert "".join(w.text for w in recipients) == "县级各有关单位、各乡镇（街道）："
    assert recipients[0].x0 == pytest.approx(LEFT, abs=SLACK)  # flush left
    # The 版记 closes the last page: 抄送, then 印发机关 left and 印发日期 right, each one
    # 4号 character in from the 版心's edges.
    last = len(PdfReader(printed.official).pages) - 1
    copies = line_of(found, "抄送")
    assert "".join(w.text for w in copies) == "抄送：团市委，县委办公室，县政府办公室。"
    printer = line_of(found, "印发")
    assert [w.text for w in printer] == [GONGWEN["printer"], "2021年7月12日印发"]
    assert {w.page for w in copies + printer} == {last}
    assert printer[0].x0 == pytest.approx(LEFT + 14, abs=SLACK)
    assert printer[1].x1 == pytest.approx(RIGHT - 14, abs=SLACK)
    assert copies[0].y0 < printer[0].y0
    [issuer, *_, printer_span] = [s for s in spans(printed.official) if s.text == GONGWEN["issuer"]]
    assert (issuer.page, issuer.font) == (0, "Noto-Serif-CJK-SC-Bold")
    assert (printer_span.page, printer_span.font, printer_span.size) == (
        last,
        "Noto-Serif-CJK-SC",
        14.0,
    )


def test_without_gongwen_the_imprint_names_the_office_and_the_report_s_date(
    printed: Printed,
) -> None:
    found = words(printed.plain)
    assert found[0].text == "演示县试点"  # no header block
    assert not [w for w in found if "抄送" in w.text]
    assert [w.text for w in line_of(found, "印发")] == ["演示县试点工作专班", "2021年6月30日印发"]


def test_without_the_free_fonts_the_log_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if documents.cjk_font() is None:
        pytest.skip("no Chinese font: no PDF can be printed")
    monkeypatch.setattr(documents, "missing_stand_ins", lambda: ("fonts-arphic-ukai",))
    monkeypatch.setitem(documents._told, "stand_ins", False)
    for name in ("a.pdf", "b.pdf"):
        documents.pdf("<p>试点工作</p>", tmp_path / name)
        assert (tmp_path / name).stat().st_size > 0  # printed all the same
    told = [r.getMessage() for r in caplog.records if "official-document layout" in r.getMessage()]
    assert len(told) == 1  # once a process, not once a PDF
    assert "apt-get install fonts-arphic-ukai" in told[0]
