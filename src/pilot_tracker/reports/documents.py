"""Writing reports: self-contained HTML, PDF (WeasyPrint), XLSX and DOCX."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pilot_tracker.reports.figures import ReportError

CJK_FONT_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han")


def environment(templates: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html(templates: Path, name: str, **context: Any) -> str:
    return environment(templates).get_template(name).render(**context)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family of an installed font that has Chinese glyphs, if there is one."""
    if shutil.which("fc-list") is None:
        return None
    listed = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    for family in CJK_FONT_FAMILIES:
        if family in listed:
            return family
    return listed.splitlines()[0].split(",")[0] if listed.strip() else None


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> Any:
    """Reports carry everything inline: WeasyPrint may fetch nothing, no file:// either."""
    raise ReportError(f"a report may not load {url[:60]}; everything it needs is inline")


def pdf(document: str, path: Path, sections: list[str] = ()) -> dict[str, tuple[int, int]]:
    """Print the HTML to PDF; refuse loudly when no Chinese font is installed.

    Returns the page range of each element id in ``sections`` (a statement per unit), so
    the parts can be cut out without printing again.
    """
    if cjk_font() is None:
        raise ReportError(
            "no font with Chinese characters is installed, so the PDF would show empty boxes; "
            "run scripts/setup (it installs fonts-wqy-microhei) or apt-get install "
            "fonts-wqy-microhei"
        )
    from weasyprint import HTML  # imported here: it loads Pango, which only PDFs need

    rendered = HTML(string=document, url_fetcher=_no_fetching).render()
    temporary = path.with_name(f".{path.name}.part")
    rendered.write_pdf(temporary)
    temporary.replace(path)
    starts: dict[str, int] = {}
    for number, page in enumerate(rendered.pages):
        for anchor in page.anchors:
            if anchor in sections:
                starts.setdefault(anchor, number)
    ordered = sorted(starts.items(), key=lambda item: item[1])
    ends = [start for _, start in ordered[1:]] + [len(rendered.pages)]
    return {anchor: (start, end) for (anchor, start), end in zip(ordered, ends, strict=False)}


def split_pdf(source: Path, pages: tuple[int, int], path: Path) -> None:
    """Pages ``[start, end)`` of a PDF as a PDF of their own."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(source), pages=pages)
    temporary = path.with_name(f".{path.name}.part")
    with temporary.open("wb") as stream:
        writer.write(stream)
    temporary.replace(path)


def stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+08:00"
