"""LibreOffice for the print tests: convert a workbook or a Word document to PDF as an office
prints it, and read the PDF back page by page (size, orientation, the words and where they
stand).

The conversion runs ``soffice --headless`` with a throwaway profile, under a deadline (its
whole process group is killed when it passes), inside a loopback-only network namespace
where the machine allows one (tests/netaudit.py), with no proxy in its environment.
Where LibreOffice is missing a test skips, and fails in CI (CI=true): scripts/setup --test
installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from .netaudit import isolated
from .processes import stop

# A4 in PDF points (1/72 in): 210 x 297 mm.
A4 = (595.3, 841.9)
TOLERANCE = 2.0  # points
CONVERT_SECONDS = 180


def soffice() -> str | None:
    """LibreOffice's command, where it is installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_office() -> str:
    """LibreOffice and poppler's tools, or a skip (a failure in CI) that says what to install."""
    command = soffice()
    missing = [
        name
        for name, found in (
            ("libreoffice-calc-nogui, libreoffice-writer-nogui", command),
            ("poppler-utils", shutil.which("pdftotext") and shutil.which("pdfinfo")),
        )
        if not found
    ]
    if missing:
        reason = f"the print tests need {' and '.join(missing)} (scripts/setup --test)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI needs LibreOffice: {reason}", pytrace=False)
        pytest.skip(reason)
    assert command is not None
    return command


class ConversionError(AssertionError):
    """LibreOffice did not make the PDF: what it said."""


def to_pdf(path: Path, folder: Path, *, timeout: float = CONVERT_SECONDS) -> Path:
    """``path`` (.xlsx, .docx) converted to PDF in ``folder`` by LibreOffice; the PDF's path."""
    command = require_office()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="soffice-profile-") as profile:
        environment = {
            name: value
            for name, value in os.environ.items()
            if "proxy" not in name.lower() and not name.startswith("PILOT_TRACKER_")
        }
        environment["HOME"] = profile  # nothing of the machine's own profile
        arguments = [
            command,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(path),
        ]
        process = subprocess.Popen(
            isolated(arguments),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,  # its own process group, killed whole on the deadline
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(process, group=True)
            raise ConversionError(f"LibreOffice took over {timeout} s on {path.name}") from None
        finally:
            if process.poll() is None:
                stop(process, group=True)
    pdf = folder / f"{path.stem}.pdf"
    said = output.decode(errors="replace")
    if process.returncode != 0 or not pdf.is_file():
        raise ConversionError(
            f"LibreOffice made no PDF of {path.name} ({process.returncode}): {said}"
        )
    return pdf


@dataclass(frozen=True)
class Word:
    """One word of a page, and its box in points from the page's top left."""

    text: str
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    words: list[Word]

    @property
    def text(self) -> str:
        """The page's words run together (Chinese has no spaces to keep)."""
        return "".join(word.text for word in self.words)

    @property
    def is_a4(self) -> bool:
        size = sorted((self.width, self.height))
        return all(abs(got - want) <= TOLERANCE for got, want in zip(size, A4, strict=True))

    @property
    def landscape(self) -> bool:
        return self.width > self.height


def pages(pdf: Path) -> list[Page]:
    """Every page of a PDF with its size and its words' boxes (``pdftotext -bbox``)."""
    done = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    xhtml = "{http://www.w3.org/1999/xhtml}"
    root = ET.fromstring(done.stdout)
    found = []
    for page in root.iter(f"{xhtml}page"):
        words = [
            Word(
                (word.text or "").strip(),
                float(word.attrib["xMin"]),
                float(word.attrib["yMin"]),
                float(word.attrib["xMax"]),
                float(word.attrib["yMax"]),
            )
            for word in page.iter(f"{xhtml}word")
        ]
        found.append(Page(float(page.attrib["width"]), float(page.attrib["height"]), words))
    return found


@dataclass(frozen=True)
class Box:
    """A rectangle of a page, in points from its top left."""

    left: float
    top: float
    right: float
    bottom: float


def mm(value: float) -> float:
    return value * 72 / 25.4


def paper(page: Page) -> Box:
    """The whole sheet of paper."""
    return Box(0, 0, page.width, page.height)


# The type area (版心) of an official document on A4 portrait (GB/T 9704-2012 5.2.2):
# 156 mm x 225 mm, 37 mm from the top edge and 28 mm from the binding edge (订口): the left
# of an odd page, the right of an even one (printed on both sides, the two sides' text
# blocks back to back).
BANXIN = Box(mm(28), mm(37), mm(28 + 156), mm(37 + 225))
EVEN_BANXIN = Box(mm(26), mm(37), mm(26 + 156), mm(37 + 225))


def banxin(number: int) -> Box:
    """The 版心 of page ``number`` (from 1)."""
    return BANXIN if number % 2 else EVEN_BANXIN


def beyond(page: Page, box: Box, *, tolerance: float = 1.0) -> list[Word]:
    """The words of a page that are not inside ``box`` (say, a table running outside the
    版心: ``beyond(page, BANXIN)`` less the page number under it)."""
    return [
        word
        for word in page.words
        if word.left < box.left - tolerance
        or word.right > box.right + tolerance
        or word.top < box.top - tolerance
        or word.bottom > box.bottom + tolerance
    ]
