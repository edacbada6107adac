"""The official-document layout (公文格式, GB/T 9704-2012) every Word document of the
project is set in: the half-year evaluation, the quarterly reconciliation's summary and its
units' statements, the blue book and a city's roll-up.

One ``Official`` document holds the whole layout, so the documents differ only in what they
say:

- A4, a text block (版心) of 156 × 225 mm, 37 mm from the top (天头) and 28 mm from the
  binding edge (订口), margins mirrored for printing on both sides; 22 lines of 28
  characters, held by the line grid with a fixed line spacing of 28.95 pt and by the
  body's type condensed 0.25 pt.
- The title in 2号 方正小标宋简体 (22 pt), the body in 3号 仿宋_GB2312 (16 pt); headings
  一、 in 黑体, （一） in 楷体_GB2312, 1. and （1） in 仿宋_GB2312; digits and Latin text in
  Times New Roman.
- Page numbers "— 1 —" in 4号 宋体 7 mm under the text block, odd pages on the right and
  even pages on the left, one character in from the edge.
- Where the office gave its particulars (``Issuer``: the ``documents:`` section of the
  program or city file), the issuing office's mark and the 文号 above a red line at the top,
  and the addressees (主送) under the title; always the 版记 at the end: 抄送, the printing
  office (印发机关) and the printing date (印发日期).
- Tables fit the text block, repeat their header row on each page, never break a unit's
  name across lines (its column is as wide as the longest name) and right-align numbers.

Fonts are named as official documents name them; Word falls back to a font it has where
one is missing.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_LINE_SPACING
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt

from pilot_tracker.spreadsheet import ILLEGAL_CHARACTERS_RE

# --- the page --------------------------------------------------------------------------------
PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210, 297
TEXT_WIDTH_MM, TEXT_HEIGHT_MM = 156, 225  # 版心
TOP_MM, LEFT_MM = 37, 28  # 天头, 订口
RIGHT_MM = PAGE_WIDTH_MM - LEFT_MM - TEXT_WIDTH_MM  # 26
BOTTOM_MM = PAGE_HEIGHT_MM - TOP_MM - TEXT_HEIGHT_MM  # 35
LINES, CHARACTERS = 22, 28
# 22 lines in 225 mm (637.8 pt) at a fixed 28.95 pt (579 twips) each.
LINE_PITCH_TWIPS = 579
LINE_SPACING = Pt(LINE_PITCH_TWIPS / 20)
# 28 characters of 16 pt in 156 mm (442.2 pt): each condensed by 0.25 pt (in twentieths
# of a point), 15.75 pt a character. Set on the type, not by the document grid's character
# pitch (linesAndChars), which LibreOffice lays out at twice the pitch Word does.
CHARACTER_SPACING = -5
# The page number's line (4号, 14 pt ≈ 4.9 mm) sits 7 mm under the text block.
FOOTER_DISTANCE_MM = BOTTOM_MM - 7 - 5  # 23

# --- the type --------------------------------------------------------------------------------
TITLE_FONT = "方正小标宋简体"
HEI = "黑体"
KAI = "楷体_GB2312"
FANGSONG = "仿宋_GB2312"
SONG = "宋体"
LATIN_FONT = "Times New Roman"
TITLE_SIZE = 22  # 2号
BODY_SIZE = 16  # 3号
PAGE_NUMBER_SIZE = 14  # 4号
IMPRINT_SIZE = 14  # 4号
TABLE_SIZE = 10.5  # 5号
# Heading levels: 一、 （一） 1. （1）
HEADING_FONTS = {1: HEI, 2: KAI, 3: FANGSONG, 4: FANGSONG}
BODY_FONT = FANGSONG
RED = "FF0000"

# A column no wider than this many characters gets exactly its width; a long text column
# gets at least MIN_LONG_COLUMN.
SHORT_COLUMN = 12
MIN_LONG_COLUMN = 6
# Columns whose cells are a unit's (or a pilot's) name: never broken across lines.
NAME_HEADERS = frozenset({"成员单位", "牵头单位", "责任单位", "试点"})
_NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?%?$")
_TWIPS_PER_MM = 1440 / 25.4
TEXT_WIDTH_TWIPS = round(TEXT_WIDTH_MM * _TWIPS_PER_MM)  # 8844
CELL_MARGIN_TWIPS = 85  # 1.5 mm each side


def clean(text: Any) -> str:
    """A value as text Word can hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", "" if text is None else str(text))


@dataclass(frozen=True)
class Issuer:
    """Who issues a document and to whom (the ``documents:`` section of a program or city
    file): the issuing office (发文机关), the 文号's prefix, the addressees (主送), the copies
    (抄送) and the printing office (印发机关, the issuer's where not given)."""

    issuer: str = ""
    prefix: str = ""
    send_to: tuple[str, ...] = ()
    copy_to: tuple[str, ...] = ()
    printed_by: str = ""

    @classmethod
    def of(cls, section: dict[str, Any] | None, default_printer: str) -> Issuer:
        """From a stored ``documents`` section (None where the file had none); the printing
        office falls back to the issuer, then to ``default_printer``."""
        section = section or {}
        issuer = section.get("issuer") or ""
        return cls(
            issuer=issuer,
            prefix=section.get("prefix") or "",
            send_to=tuple(section.get("send_to") or ()),
            copy_to=tuple(section.get("copy_to") or ()),
            printed_by=section.get("printed_by") or issuer or default_printer,
        )

    def page(self, year: int) -> dict[str, Any]:
        """The same particulars for the page and its PDF (the ``gongwen`` the report
        templates read): the mark, the 文号, 主送, 抄送 and the printing office."""
        return {
            "issuer": self.issuer,
            "number": self.number(year),
            "recipients": list(self.send_to),
            "copies": list(self.copy_to),
            "printer": self.printed_by,
        }

    def number(self, year: int) -> str:
        """The 文号 with its number left blank for the office to fill in: no register of
        numbers is kept here (海共青发〔2021〕　号)."""
        return f"{self.prefix}〔{year}〕\u3000\u3000号" if self.prefix else ""


def _run_properties(font: str, size: float, *, bold: bool = False, colour: str = "") -> str:
    half_points = round(size * 2)
    latin = SONG if font == SONG else LATIN_FONT
    return (
        f'<w:rPr><w:rFonts w:ascii="{latin}" w:hAnsi="{latin}" w:eastAsia="{font}" '
        f'w:cs="{latin}"/>'
        + ("<w:b/><w:bCs/>" if bold else "")
        + (f'<w:color w:val="{colour}"/>' if colour else "")
        + f'<w:sz w:val="{half_points}"/><w:szCs w:val="{half_points}"/></w:rPr>'
    )


def _runs(text: str, font: str, size: float, **kwargs: Any) -> str:
    """Runs of ``text``, a line break for each newline."""
    properties = _run_properties(font, size, **kwargs)
    lines = clean(text).split("\n")
    return (
        "<w:r>"
        + properties
        + "<w:br/>".join(f'<w:t xml:space="preserve">{escape(line)}</w:t>' for line in lines)
        + "</w:r>"
    )


def display_width(text: str) -> float:
    """How many Chinese characters' width ``text`` takes (Latin letters and digits: half)."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.55 for c in text) or 1.0


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_NUMBER.match(value.strip()))


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return clean(value)


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Widths (twips) that fill the text block exactly: a unit's name column as wide as its
    longest name (up to 16 characters); a short column (a code, a date, a number) as wide
    as its longest line; the long texts share what is left. A header may take two lines."""
    char = TABLE_SIZE * 20  # twips per Chinese character
    pad = 2 * CELL_MARGIN_TWIPS + 30
    needs: list[float] = []
    for index, header in enumerate(headers):
        cells = [display_width(row[index]) for row in rows]
        longest = max([max(display_width(header) / 2, 2.0), *cells])
        needs.append(longest)
    fixed: dict[int, float] = {}
    for index, (header, longest) in enumerate(zip(headers, needs, strict=True)):
        if header in NAME_HEADERS:
            fixed[index] = min(longest, 16) * char + pad
        elif longest <= SHORT_COLUMN:
            fixed[index] = longest * char + pad
    long = [index for index in range(len(headers)) if index not in fixed]
    room = TEXT_WIDTH_TWIPS - sum(fixed.values())
    if not long and room >= 0:
        # Only short columns: each widened in proportion, to fill the block.
        fixed = {
            index: width * TEXT_WIDTH_TWIPS / sum(fixed.values()) for index, width in fixed.items()
        }
        room = 0
    if room < len(long) * MIN_LONG_COLUMN * char or (not long and room < 0):
        # Too many columns to give each what it needs: all in proportion to their need.
        fixed, long = {}, list(range(len(headers)))
        room = TEXT_WIDTH_TWIPS
    shares = {index: min(needs[index], 40) for index in long}
    total = sum(shares.values()) or 1
    widths = [
        int(fixed[index]) if index in fixed else int(room * shares[index] / total)
        for index in range(len(headers))
    ]
    # What is left over goes to the widest long column (or the last): the table is exactly
    # the block.
    spare = max(long, key=lambda index: widths[index]) if long else len(widths) - 1
    widths[spare] += TEXT_WIDTH_TWIPS - sum(widths)
    return widths


def _cell(text: str, width: int, *, header: bool, number: bool, name: bool) -> str:
    align = "center" if header else ("right" if number else "left")
    font = HEI if header else BODY_FONT
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>'
        + ("<w:noWrap/>" if name else "")
        + '<w:vAlign w:val="center"/></w:tcPr>'
        f'<w:p><w:pPr><w:pStyle w:val="TableText"/><w:jc w:val="{align}"/></w:pPr>'
        + _runs(text, font, TABLE_SIZE)
        + "</w:p></w:tc>"
    )


def table_markup(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table as markup: a quarter's statements hold hundreds of rows, and python-docx's
    cell by cell API takes a hundred times longer than parsing them."""
    rows = list(rows)
    shown = [[_shown(value) for value in row] for row in rows]
    widths = column_widths(headers, shown)
    names = [header in NAME_HEADERS for header in headers]
    border = '<w:{0} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
    parts = [
        "<w:tbl><w:tblPr>"
        f'<w:tblW w:w="{TEXT_WIDTH_TWIPS}" w:type="dxa"/><w:jc w:val="center"/>'
        "<w:tblBorders>"
        + "".join(border.format(side) for side in ("top", "left", "bottom", "right"))
        + border.format("insideH")
        + border.format("insideV")
        + '</w:tblBorders><w:tblLayout w:type="fixed"/><w:tblCellMar>'
        f'<w:left w:w="{CELL_MARGIN_TWIPS}" w:type="dxa"/>'
        f'<w:right w:w="{CELL_MARGIN_TWIPS}" w:type="dxa"/>'
        '</w:tblCellMar><w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" '
        'w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>',
        "".join(f'<w:gridCol w:w="{width}"/>' for width in widths),
        "</w:tblGrid><w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>",
    ]
    parts += [
        _cell(header, width, header=True, number=False, name=False)
        for header, width in zip(headers, widths, strict=True)
    ]
    parts.append("</w:tr>")
    for values, texts in zip(rows, shown, strict=True):
        parts.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>")
        parts += [
            _cell(text, width, header=False, number=_is_number(value), name=name)
            for value, text, width, name in zip(values, texts, widths, names, strict=True)
        ]
        parts.append("</w:tr>")
    parts.append("</w:tbl>")
    return "".join(parts)


def _page_number_footer(footer: Any, side: str) -> None:
    """ "— 1 —" in 4号 宋体, one character in from ``side`` (right on odd pages, left on even)."""
    properties = _run_properties(SONG, PAGE_NUMBER_SIZE)
    indent = round(PAGE_NUMBER_SIZE * 20)
    paragraph = footer.paragraphs[0]._p
    pPr = parse_xml(
        f'<w:pPr {nsdecls("w")}><w:pStyle w:val="Footer"/><w:snapToGrid w:val="0"/>'
        f'<w:spacing w:before="0" w:after="0" w:line="{PAGE_NUMBER_SIZE * 20}" '
        'w:lineRule="exact"/>'
        f'<w:ind w:{side}="{indent}"/><w:jc w:val="{side}"/></w:pPr>'
    )
    for old in paragraph.findall(qn("w:pPr")):
        paragraph.remove(old)
    paragraph.insert(0, pPr)

    def run(inner: str) -> Any:
        return parse_xml(f"<w:r {nsdecls('w')}>{properties}{inner}</w:r>")

    for inner in (
        '<w:t xml:space="preserve">— </w:t>',
        '<w:fldChar w:fldCharType="begin"/>',
        '<w:instrText xml:space="preserve"> PAGE </w:instrText>',
        '<w:fldChar w:fldCharType="separate"/>',
        "<w:t>1</w:t>",
        '<w:fldChar w:fldCharType="end"/>',
        '<w:t xml:space="preserve"> —</w:t>',
    ):
        paragraph.append(run(inner))


# What follows a run's character spacing in its properties (the schema fixes the order).
_AFTER_SPACING = ("w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:lang")
# What may follow w:mirrorMargins in w:settings, of what a new document's settings hold.
_AFTER_MIRROR = (
    "w:alignBordersAndEdges",
    "w:gutterAtTop",
    "w:proofState",
    "w:defaultTabStop",
    "w:evenAndOddHeaders",
    "w:characterSpacingControl",
    "w:compat",
)


def _before(parent: Any, markup: str, following: Sequence[str]) -> None:
    """Put an element into ``parent`` where the schema wants it: before the first of the
    ``following`` elements it has (Word refuses elements out of order)."""
    element = parse_xml(markup)
    for child in parent:
        if child.tag in {qn(tag) for tag in following}:
            child.addprevious(element)
            return
    parent.append(element)


def _style_fonts(style: Any, font: str, size: float, bold: bool = False) -> None:
    """A style in ``font`` and Times New Roman, ``size``, black: no theme fonts, no colour."""
    rPr = style.element.get_or_add_rPr()
    for old in rPr.findall(qn("w:rFonts")) + rPr.findall(qn("w:color")):
        rPr.remove(old)
    style.font.name = LATIN_FONT
    rPr.get_or_add_rFonts().set(qn("w:eastAsia"), font)
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = False


def _fixed_lines(paragraph_format: Any) -> None:
    paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    paragraph_format.line_spacing = LINE_SPACING
    paragraph_format.space_before = Pt(0)
    paragraph_format.space_after = Pt(0)


class Official:
    """A Word document in the 公文 layout: title, headings, body, tables, pictures and the
    版记, written the same, byte for byte, for the same content and day."""

    def __init__(self, *, title: str, day: date, issuer: Issuer) -> None:
        self.day = day
        self.issuer = issuer
        document = Document()
        self.document = document
        moment = datetime(day.year, day.month, day.day)
        document.core_properties.created = moment
        document.core_properties.modified = moment
        document.core_properties.author = "pilot-tracker"
        document.core_properties.title = title
        self._page()
        self._styles()
        self._body = document.element.body
        self._pending: list[str] = []
        if issuer.issuer:
            self._masthead()

    # -- set-up --

    def _page(self) -> None:
        section = self.document.sections[0]
        section.start_type = WD_SECTION.NEW_PAGE
        section.page_width, section.page_height = Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM)
        section.top_margin, section.bottom_margin = Mm(TOP_MM), Mm(BOTTOM_MM)
        section.left_margin, section.right_margin = Mm(LEFT_MM), Mm(RIGHT_MM)
        section.gutter = Mm(0)
        section.header_distance = Mm(15)
        section.footer_distance = Mm(FOOTER_DISTANCE_MM)
        sectPr = section._sectPr
        for old in sectPr.findall(qn("w:docGrid")):
            sectPr.remove(old)
        sectPr.append(
            parse_xml(
                f'<w:docGrid {nsdecls("w")} w:type="lines" w:linePitch="{LINE_PITCH_TWIPS}"/>'
            )
        )
        self.document.settings.odd_and_even_pages_header_footer = True
        # Printed on both sides (GB/T 9704 6): the binding edge (订口) of an even page is on
        # its right, so that the text blocks of a sheet's two sides are back to back.
        settings = self.document.settings.element
        if settings.find(qn("w:mirrorMargins")) is None:
            _before(settings, f"<w:mirrorMargins {nsdecls('w')}/>", _AFTER_MIRROR)
        _page_number_footer(section.footer, "right")
        _page_number_footer(section.even_page_footer, "left")

    def _styles(self) -> None:
        styles = self.document.styles
        defaults = styles.element.find(qn("w:docDefaults"))
        if defaults is not None:
            for fonts in defaults.iter(qn("w:rFonts")):
                for key in list(fonts.attrib):
                    del fonts.attrib[key]
                for key in ("w:ascii", "w:hAnsi", "w:cs"):
                    fonts.set(qn(key), LATIN_FONT)
                fonts.set(qn("w:eastAsia"), BODY_FONT)
            # The grid's character pitch is reckoned from the default size: 3号.
            for tag in ("w:sz", "w:szCs"):
                for size in defaults.iter(qn(tag)):
                    size.set(qn("w:val"), str(BODY_SIZE * 2))
            for language in defaults.iter(qn("w:lang")):
                language.set(qn("w:eastAsia"), "zh-CN")
            for spacing in defaults.iter(qn("w:spacing")):
                spacing.set(qn("w:after"), "0")
        normal = styles["Normal"]
        _style_fonts(normal, BODY_FONT, BODY_SIZE)
        _before(
            normal.element.get_or_add_rPr(),
            f'<w:spacing {nsdecls("w")} w:val="{CHARACTER_SPACING}"/>',
            _AFTER_SPACING,
        )
        _fixed_lines(normal.paragraph_format)
        normal.paragraph_format.widow_control = True
        for level, font in HEADING_FONTS.items():
            heading = styles[f"Heading {level}"]
            _style_fonts(heading, font, BODY_SIZE)
            _fixed_lines(heading.paragraph_format)
            heading.paragraph_format.first_line_indent = Pt(BODY_SIZE * 2)
            heading.paragraph_format.keep_with_next = True
        imprint = styles.add_style("Imprint", WD_STYLE_TYPE.PARAGRAPH)
        imprint.base_style = normal
        _style_fonts(imprint, FANGSONG, IMPRINT_SIZE)
        imprint.paragraph_format.first_line_indent = Pt(0)
        table_text = styles.add_style("Table Text", WD_STYLE_TYPE.PARAGRAPH)
        table_text.base_style = normal
        _style_fonts(table_text, BODY_FONT, TABLE_SIZE)
        _before(
            table_text.element.get_or_add_rPr(),
            f'<w:spacing {nsdecls("w")} w:val="0"/>',
            _AFTER_SPACING,
        )
        table_text.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        table_text.paragraph_format.first_line_indent = Pt(0)
        _before(
            table_text.element.get_or_add_pPr(),
            f'<w:snapToGrid {nsdecls("w")} w:val="0"/>',
            ("w:spacing", "w:ind", "w:jc"),
        )

    def _masthead(self) -> None:
        """The issuing office's mark in red, the 文号, and the red line under them."""
        mark = f"{self.issuer.issuer}文件"
        # As large as fits on one line, and no larger than 36 pt.
        size = min(36.0, round(TEXT_WIDTH_MM / 25.4 * 72 / (display_width(mark) + 1), 1))
        self._add(
            _runs(mark, TITLE_FONT, size, colour=RED),
            align="center",
            grid=False,
            spacing='<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>',
        )
        self._add("")
        self._add(
            _runs(self.issuer.number(self.day.year), BODY_FONT, BODY_SIZE),
            align="center",
            borders=f'<w:bottom w:val="single" w:sz="12" w:space="8" w:color="{RED}"/>',
        )
        self._add("")

    # -- content --
    #
    # Paragraphs and tables are kept as markup and parsed into the body in one go: a
    # quarter's statements are hundreds of paragraphs, and python-docx's API spends ten
    # times as long on each as its markup takes to parse.

    def _add(
        self,
        runs: str,
        *,
        style: str = "",
        align: str = "",
        indent: bool = False,
        new_page: bool = False,
        keep: bool = False,
        borders: str = "",
        tabs: str = "",
        spacing: str = "",
        grid: bool = True,
    ) -> None:
        """A paragraph of ``runs``; off the character grid (``grid``) where its type is not
        3号: a title's characters would each take two of the grid's cells."""
        self._pending.append(
            "<w:p><w:pPr>"
            + (f'<w:pStyle w:val="{style}"/>' if style else "")
            + ("<w:keepNext/>" if keep else "")
            + ("<w:pageBreakBefore/>" if new_page else "")
            + (f"<w:pBdr>{borders}</w:pBdr>" if borders else "")
            + (f"<w:tabs>{tabs}</w:tabs>" if tabs else "")
            + ("" if grid else '<w:snapToGrid w:val="0"/>')
            + spacing
            + (f'<w:ind w:firstLine="{BODY_SIZE * 40}"/>' if indent else "")
            + (f'<w:jc w:val="{align}"/>' if align else "")
            + f"</w:pPr>{runs}</w:p>"
        )

    def _flush(self) -> None:
        if not self._pending:
            return
        body = parse_xml(f"<w:body {nsdecls('w')}>{''.join(self._pending)}</w:body>")
        self._pending = []
        end = self._body.sectPr
        for element in list(body):
            end.addprevious(element)

    def paragraph(
        self,
        text: str,
        *,
        font: str = BODY_FONT,
        size: float = BODY_SIZE,
        indent: bool = True,
        center: bool = False,
        new_page: bool = False,
        lead: str = "",
    ) -> None:
        """A body paragraph: 仿宋 3号, its first line indented two characters; ``lead``, a
        lead-in sentence before the text, in bold."""
        self._add(
            (_runs(lead, font, size, bold=True) if lead else "")
            + (_runs(text, font, size) if text else ""),
            align="center" if center else "",
            indent=indent,
            new_page=new_page,
            grid=size == BODY_SIZE,
        )

    def title(self, *lines: str, new_page: bool = False) -> None:
        """The title: 2号 方正小标宋简体, centred, a line to itself for each of ``lines``."""
        for number, line in enumerate(lines):
            self._add(
                _runs(line, TITLE_FONT, TITLE_SIZE),
                align="center",
                new_page=new_page and number == 0,
                keep=True,
                grid=False,
            )

    def addressees(self) -> None:
        """The addressees (主送) under the title, on a line of their own: 各成员单位："""
        if self.issuer.send_to:
            self._add("")
            self.paragraph("、".join(self.issuer.send_to) + "：", indent=False)

    def blank(self) -> None:
        """An empty line."""
        self._add("")

    def centred(self, text: str) -> None:
        """A line under the title (the period, the source): 楷体 3号, centred."""
        self.paragraph(text, font=KAI, indent=False, center=True)

    def heading(self, text: str, level: int = 1) -> None:
        """A heading of ``level`` 1 (一、 黑体), 2 (（一） 楷体), 3 (1. 仿宋) or 4 (（1） 仿宋)."""
        self._add(_runs(text, HEADING_FONTS[level], BODY_SIZE), style=f"Heading{level}")

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A table across the text block (see ``table_markup``)."""
        self._pending.append(table_markup(headers, rows))

    def picture(self, png: bytes, width_mm: float = TEXT_WIDTH_MM) -> None:
        """A picture, centred, no wider than the text block; its line is as tall as it is."""
        self._flush()
        self.document.add_picture(io.BytesIO(png), width=Mm(min(width_mm, TEXT_WIDTH_MM)))
        paragraph = self._body.findall(qn("w:p"))[-1]
        paragraph.insert(
            0,
            parse_xml(
                f'<w:pPr {nsdecls("w")}><w:snapToGrid w:val="0"/>'
                '<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>'
                '<w:jc w:val="center"/></w:pPr>'
            ),
        )

    def caption(self, text: str) -> None:
        """A note under a table or a picture: 仿宋 5号, not indented."""
        self.paragraph(text, size=TABLE_SIZE, indent=False)

    def imprint(self) -> None:
        """The 版记 at the end: 抄送 (where any), then the printing office and the printing
        date, one character in from each side, between a heavy line above and below and a
        thin one between (paragraph borders: the document's tables are its figures)."""
        copies = (
            "\u3000抄送：" + "，".join(self.issuer.copy_to) + "。" if self.issuer.copy_to else ""
        )
        self._ruled_end(copies, f"\u3000{self.issuer.printed_by}")

    def _ruled_end(self, first: str, left: str) -> None:
        """The lines at a document's end, in 4号 仿宋 between rules: ``first`` (where any)
        over a line with ``left`` on the left and the printing date (印发) on the right."""
        self._add("")
        space = IMPRINT_SIZE * 20
        lines = [_runs(first, FANGSONG, IMPRINT_SIZE)] if first else []
        printed = f"{self.day.year}年{self.day.month}月{self.day.day}日印发"
        lines.append(
            (_runs(left, FANGSONG, IMPRINT_SIZE) if left else "")
            + f"<w:r>{_run_properties(FANGSONG, IMPRINT_SIZE)}<w:tab/></w:r>"
            + _runs(printed, FANGSONG, IMPRINT_SIZE)
        )
        line = '<w:{0} w:val="single" w:sz="{1}" w:space="1" w:color="000000"/>'
        for number, runs in enumerate(lines):
            last = number == len(lines) - 1
            self._add(
                runs,
                style="Imprint",
                keep=not last,
                borders=(line.format("top", 8) if number == 0 else "")
                + line.format("bottom", 8 if last else 6),
                tabs=f'<w:tab w:val="right" w:pos="{TEXT_WIDTH_TWIPS - space}"/>',
                grid=False,
            )

    # -- a work bulletin (工作简报) --

    def bulletin_masthead(
        self, *, name: str, column: str, number: int, total: int, office: str
    ) -> None:
        """A work bulletin's masthead (报头): its name in red, as large as fits on a line
        (at most 1号 bold, 42 pt), the column in brackets, 第N期 and （总第M期）, then the
        issuing office on the left and the date on the right over a heavy red line."""
        size = min(42.0, round(TEXT_WIDTH_MM / 25.4 * 72 / (display_width(name) + 0.5), 1))
        auto = '<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>'
        self._add("")
        self._add(
            _runs(name, TITLE_FONT, size, colour=RED), align="center", grid=False, spacing=auto
        )
        if column:
            self._add(_runs(f"（{column}）", KAI, BODY_SIZE), align="center")
        self._add("")
        self._add(_runs(f"第{number}期", BODY_FONT, BODY_SIZE), align="center")
        self._add(_runs(f"（总第{total}期）", BODY_FONT, BODY_SIZE), align="center")
        self._add("")
        day = f"{self.day.year}年{self.day.month}月{self.day.day}日"
        self._add(
            _runs(office, BODY_FONT, BODY_SIZE)
            + f"<w:r>{_run_properties(BODY_FONT, BODY_SIZE)}<w:tab/></w:r>"
            + _runs(day, BODY_FONT, BODY_SIZE),
            tabs=f'<w:tab w:val="right" w:pos="{TEXT_WIDTH_TWIPS}"/>',
            borders=f'<w:bottom w:val="thickThinSmallGap" w:sz="24" w:space="4" w:color="{RED}"/>',
        )
        self._add("")

    def contents(self, titles: Sequence[str]) -> None:
        """The issue's contents: a line for each article, in 楷体."""
        for title in titles:
            self.paragraph(f"◆ {title}", font=KAI, indent=False)
        self._add("", borders='<w:bottom w:val="single" w:sz="6" w:space="1" w:color="000000"/>')
        self._add("")

    def bulletin_end(self, *, distribution: Sequence[str], editor: str) -> None:
        """The end of a bulletin: 分送, then 责任编辑 on the left and the 印发 date on the
        right, between a heavy rule above and below and a thin one between."""
        self._ruled_end(
            "分送：" + "、".join(distribution) if distribution else "",
            f"责任编辑：{editor}" if editor else "",
        )

    def save(self, path: Path) -> Path:
        """Save whole or not at all, every part dated the document's day: the same content
        gives the same bytes, run after run."""
        self._flush()
        buffer = io.BytesIO()
        self.document.save(buffer)
        day = self.day
        stamp = (day.year, day.month, day.day, 0, 0, 0)
        temporary = path.with_name(f".{path.name}.part")
        with (
            zipfile.ZipFile(buffer) as source,
            zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for item in source.infolist():
                part = zipfile.ZipInfo(item.filename, date_time=stamp)
                part.compress_type = zipfile.ZIP_DEFLATED
                part.external_attr = item.external_attr
                target.writestr(part, source.read(item.filename))
        temporary.replace(path)
        return path
