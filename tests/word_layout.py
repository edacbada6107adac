"""What every Word document the project writes must show, read back with python-docx: the
公文 layout of GB/T 9704-2012 (reports/gongwen.py). The report tests call
``assert_official_layout`` on each document they write."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Length, Pt

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
HEADING_FONTS = {1: "黑体", 2: "楷体_GB2312", 3: "仿宋_GB2312", 4: "仿宋_GB2312"}
NAME_HEADERS = {"成员单位", "牵头单位", "责任单位", "试点"}
NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?%?$")
TEXT_WIDTH_TWIPS = 156 / 25.4 * 1440


def mm(length: Length | None) -> float:
    assert length is not None
    return round(length.mm, 1)


def fonts(run: Any) -> tuple[str | None, str | None, float | None]:
    """A run's East Asian font, Latin font and size (pt), as Word reads them."""
    rPr = run._element.rPr
    fonts = rPr.rFonts if rPr is not None else None
    east = fonts.get(qn("w:eastAsia")) if fonts is not None else None
    latin = fonts.get(qn("w:ascii")) if fonts is not None else None
    return east, latin, run.font.size.pt if run.font.size else None


def run_fonts(paragraph: Any) -> set[tuple[str | None, str | None, float | None]]:
    return {fonts(run) for run in paragraph.runs if run.text.strip()}


def assert_official_layout(
    path: Path,
    *,
    title: list[str],
    levels: set[int],
    printed_by: str,
    last_line: str = "",
) -> Any:
    """Assert the layout of the Word document at ``path``: its ``title`` lines, the heading
    ``levels`` it uses, and the 版记 naming ``printed_by`` (or a last line matching the
    pattern ``last_line``: a bulletin's 责任编辑 and date); return the document."""
    document = docx.Document(str(path))
    # A4; the text block 156 × 225 mm, 37 mm from the top and 28 mm from the binding edge.
    for section in document.sections:
        assert (mm(section.page_width), mm(section.page_height)) == (210, 297)
        assert (mm(section.top_margin), mm(section.left_margin)) == (37, 28)
        assert mm(section.page_width) - mm(section.left_margin) - mm(section.right_margin) == 156
        assert mm(section.page_height) - mm(section.top_margin) - mm(section.bottom_margin) == 225
        grid = section._sectPr.find(qn("w:docGrid"))
        assert grid.get(qn("w:type")) == "lines"
        assert grid.get(qn("w:linePitch")) == "579"
    # Printed on both sides: margins mirrored, the 订口 on the right of an even page.
    assert document.settings.element.find(qn("w:mirrorMargins")) is not None
    # 28 characters of 3号 in the 156 mm line: the body's type a little condensed.
    normal = document.styles["Normal"]
    assert normal.font.size == Pt(16)
    condensed = int(normal.element.rPr.find(qn("w:spacing")).get(qn("w:val"))) / 20
    pitch = 16 + condensed
    assert 28 * pitch <= 156 / 25.4 * 72 < 29 * pitch

    # 22 lines of a fixed spacing in the 225 mm of the block.
    normal = normal.paragraph_format
    assert normal.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    block = 225 / 25.4 * 72
    assert 22 * normal.line_spacing.pt <= block < 23 * normal.line_spacing.pt

    # The title: 2号 方正小标宋简体, digits and Latin letters in Times New Roman.
    shown = [p for p in document.paragraphs if p.text.strip()]
    start = next(i for i, p in enumerate(shown) if p.text == title[0])
    for paragraph in shown[start : start + len(title)]:
        assert paragraph.alignment == WD_ALIGN_PARAGRAPH.CENTER
        assert run_fonts(paragraph) == {("方正小标宋简体", "Times New Roman", 22)}
    assert [p.text for p in shown[start : start + len(title)]] == title

    # Headings by level: 一、 黑体, （一） 楷体, 1. and （1） 仿宋; all 3号.
    found: set[int] = set()
    for paragraph in document.paragraphs:
        if paragraph.style.name.startswith("Heading"):
            level = int(paragraph.style.name.split()[-1])
            found.add(level)
            assert run_fonts(paragraph) == {(HEADING_FONTS[level], "Times New Roman", 16)}, (
                paragraph.text
            )
    assert found == levels
    for level, font in HEADING_FONTS.items():
        style = document.styles[f"Heading {level}"]
        assert style.element.rPr.rFonts.get(qn("w:eastAsia")) == font
        assert style.font.size == Pt(16) and not style.font.bold
        assert style.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY

    # The body: 3号 仿宋_GB2312, its first line indented two characters.
    body = [
        p
        for p in shown
        if p.style.name == "Normal" and p.paragraph_format.first_line_indent == Pt(32)
    ]
    assert body
    for paragraph in body:
        assert run_fonts(paragraph) == {("仿宋_GB2312", "Times New Roman", 16)}, paragraph.text

    # Page numbers: — 1 — in 4号 宋体, odd pages right and even pages left.
    assert document.settings.odd_and_even_pages_header_footer
    section = document.sections[0]
    for footer, side in ((section.footer, "right"), (section.even_page_footer, "left")):
        (paragraph,) = footer.paragraphs
        assert paragraph.text == "— 1 —"
        assert paragraph._p.pPr.find(qn("w:jc")).get(qn("w:val")) == side
        instructions = [i.text.strip() for i in paragraph._p.iter(qn("w:instrText"))]
        assert instructions == ["PAGE"]
        assert {fonts(run) for run in paragraph.runs if run.text} == {("宋体", "宋体", 14)}

    # The 版记 at the end: the printing office and the printing date, ruled above and below.
    last = shown[-1]
    assert last.style.name == "Imprint"
    pattern = last_line or rf"\u3000{re.escape(printed_by)}\t\d{{4}}年\d{{1,2}}月\d{{1,2}}日印发"
    assert re.fullmatch(pattern, last.text), last.text
    borders = last._p.pPr.find(qn("w:pBdr"))
    assert borders.find(qn("w:bottom")) is not None
    imprint = [p for p in shown if p.style.name == "Imprint"]
    assert imprint[0]._p.pPr.find(qn("w:pBdr")).find(qn("w:top")) is not None
    assert run_fonts(last) == {("仿宋_GB2312", "Times New Roman", 14)}

    for table in document.tables:
        assert_table_layout(table)
    return document


def assert_table_layout(table: Any) -> None:
    """Inside the text block, the header row repeated on each page, a unit's name on one
    line, numbers to the right."""
    tbl = table._tbl
    width = int(tbl.tblPr.find(qn("w:tblW")).get(qn("w:w")))
    columns = [int(c.get(qn("w:w"))) for c in tbl.tblGrid.findall(qn("w:gridCol"))]
    assert width <= TEXT_WIDTH_TWIPS and sum(columns) <= TEXT_WIDTH_TWIPS
    assert tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
    header, *rows = table.rows
    assert header._tr.trPr.find(qn("w:tblHeader")) is not None
    headers = [cell.text for cell in header.cells]
    for row in rows:
        assert row._tr.trPr.find(qn("w:tblHeader")) is None
        for name, cell in zip(headers, row.cells, strict=True):
            tcPr = cell._tc.tcPr
            if name in NAME_HEADERS:
                assert tcPr.find(qn("w:noWrap")) is not None, (name, cell.text)
            (paragraph,) = cell.paragraphs
            if NUMBER.match(cell.text):
                assert paragraph.alignment == WD_ALIGN_PARAGRAPH.RIGHT, (name, cell.text)
