"""Writing reports: self-contained HTML, PDF (WeasyPrint), XLSX and DOCX."""

from __future__ import annotations

import logging
import shutil
import subprocess
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pilot_tracker.errors import ReportError

log = logging.getLogger(__name__)

CJK_FONT_FAMILIES = ("Noto Serif CJK SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Source Han")

# The free fonts that stand for the 公文's own in the PDF (templates/reports/base.html.j2,
# docs/reports.md "Fonts"), with the Debian package of each: without them the PDF still
# prints, in whatever Chinese font there is, and the log says what to install.
STAND_INS = {
    "Noto Serif CJK SC": "fonts-noto-cjk",
    "Noto Sans CJK SC": "fonts-noto-cjk",
    "AR PL UKai CN": "fonts-arphic-ukai",
    "Liberation Serif": "fonts-liberation",
}


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


# The charts' own font (reports/charts.py), first where it is installed.
CHART_FONT = "Noto Sans CJK SC"


def cjk_font_file() -> tuple[str, int] | None:
    """The file of an installed font with Chinese glyphs, and the index of its simplified
    Chinese face in it (a Noto ``.ttc`` holds the Japanese, Korean and Chinese ones), for
    drawing pictures: the charts' font where it is installed; None where there is none."""
    family = cjk_font()
    return None if family is None else _font_file(family)


@lru_cache(maxsize=4)
def _font_file(family: str) -> tuple[str, int] | None:
    if shutil.which("fc-match") is None:
        return None
    for wanted in (CHART_FONT, family):
        found = subprocess.run(
            ["fc-match", "-f", "%{family}\t%{file}\t%{index}", f"{wanted}:lang=zh-cn"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        families, _, rest = found.partition("\t")
        path, _, index = rest.partition("\t")
        if wanted in families.split(",") and Path(path).is_file():
            return path, int(index or 0)
    return None


@lru_cache(maxsize=1)
def missing_stand_ins() -> tuple[str, ...]:
    """The Debian packages of the 公文 layout's free fonts that are not installed."""
    if shutil.which("fc-list") is None:
        return tuple(sorted(set(STAND_INS.values())))
    listed = subprocess.run(
        ["fc-list", ":", "family"], capture_output=True, text=True, check=False
    ).stdout
    families = {name.strip() for line in listed.splitlines() for name in line.split(",")}
    missing = {package for family, package in STAND_INS.items() if family not in families}
    return tuple(sorted(missing))


def _shown(url: str) -> str:
    """An address as the log may show it: no user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    where = f"{parts.scheme}://{host}{parts.path}" if parts.scheme != "data" else "data:…"
    return where[:120]


class _NoRefusedAddresses(logging.Filter):
    """WeasyPrint logs a refused address whole, credentials and all; ours is logged
    already, without them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _REFUSED not in record.getMessage()


_REFUSED = "is not bundled with the templates"
logging.getLogger("weasyprint").addFilter(_NoRefusedAddresses())


def _bundled_only(assets: Path | None) -> Any:
    """A WeasyPrint URL fetcher that loads ``data:`` URIs and the files under ``assets``
    (the templates folder) and refuses everything else before any connection is made:
    no http(s), no ftp, no file outside the folder (``..``, symlinks and hosts included).
    A refused address is logged; WeasyPrint leaves the image or stylesheet out."""
    from urllib.request import url2pathname

    from weasyprint.urls import URLFetcher  # imported here: it loads Pango

    root = assets.resolve() if assets is not None else None

    class BundledOnly(URLFetcher):
        def __init__(self) -> None:
            super().__init__(
                allowed_protocols={"data", "file"}, allow_redirects=False, fail_on_errors=False
            )

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and root is not None and parts.netloc in ("", "localhost"):
                local = Path(url2pathname(parts.path)).resolve()
                if local.is_relative_to(root) and local.is_file():
                    return super().fetch(local.as_uri(), headers)
            log.warning(
                "report PDF: refused to load %s; only data: URIs and files under %s may be loaded",
                _shown(url),
                root or "(no templates folder)",
            )
            raise ValueError(f"refused: {_shown(url)} {_REFUSED}")

    return BundledOnly()


_told = {"stand_ins": False}


def pdf(
    document: str, path: Path, sections: list[str] = (), assets: Path | None = None
) -> dict[str, tuple[int, int]]:
    """Print the HTML to PDF; refuse loudly when no Chinese font is installed.

    Relative addresses resolve against ``assets/reports/`` and may load only files under
    ``assets`` (the templates folder) or ``data:`` URIs; anything else is left out.

    Returns the page range of each element id in ``sections`` (a statement per unit), so
    the parts can be cut out without printing again.
    """
    if cjk_font() is None:
        raise ReportError(
            "no font with Chinese characters is installed, so the PDF would show empty boxes; "
            "run scripts/setup (it installs fonts-noto-cjk and fonts-arphic-ukai) or apt-get "
            "install fonts-noto-cjk fonts-arphic-ukai"
        )
    if missing_stand_ins() and not _told["stand_ins"]:
        _told["stand_ins"] = True
        log.warning(
            "report PDF: the fonts of the official-document layout are not all installed "
            "(apt-get install %s); the PDF uses the Chinese fonts there are",
            " ".join(missing_stand_ins()),
        )
    from weasyprint import HTML  # imported here: it loads Pango, which only PDFs need

    # Always a base: WeasyPrint stops on a relative address it cannot resolve.
    folder = assets.resolve() / "reports" if assets is not None else Path("/no-assets")
    base = folder.as_uri() + "/"
    rendered = HTML(string=document, base_url=base, url_fetcher=_bundled_only(assets)).render()
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


def split_pdf(source: Path, parts: dict[Path, tuple[int, int]]) -> None:
    """Pages ``[start, end)`` of a PDF as a PDF of their own, for each path in ``parts``.

    The source is read once for all of them: reading it is most of the work (eight times
    the cutting, for a quarter's statements), and what is cut is the same either way.
    """
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(source)
    for path, pages in parts.items():
        writer = PdfWriter()
        writer.append(reader, pages=pages)
        temporary = path.with_name(f".{path.name}.part")
        with temporary.open("wb") as stream:
            writer.write(stream)
        temporary.replace(path)


def stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+08:00"
