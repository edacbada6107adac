"""The PDF renderer loads nothing but the files bundled with the templates.

A template (or a value that slipped into one) naming an outside address must not make the
report fetch it: the PDF is still printed, the address refused, and no connection made.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pilot_tracker.reports import documents

from .test_reports import pdf_text

# A 1x1 transparent PNG, the one bundled asset of the test's templates folder.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)

pytestmark = pytest.mark.skipif(
    documents.cjk_font() is None, reason="no Chinese font: no PDF can be printed"
)


class Listener:
    """A loopback TCP port that records every connection made to it (HTTP or TLS alike)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.hits = 0
        self.stopped = threading.Event()

    def serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.hits += 1
            connection.close()


@contextmanager
def listener() -> Iterator[Listener]:
    box = Listener()
    thread = threading.Thread(target=box.serve, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        box.stopped.set()
        thread.join(timeout=5)
        box.socket.close()


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    (folder / "reports" / "assets").mkdir(parents=True)
    (folder / "reports" / "assets" / "pixel.png").write_bytes(PIXEL)
    (tmp_path / "secret.txt").write_text("不可外泄", encoding="utf-8")
    (folder / "reports" / "assets" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    return folder


def page(*references: str) -> str:
    images = "".join(f'<img src="{reference}" alt="">' for reference in references)
    return (
        '<html><head><meta charset="utf-8"><style>'
        + "".join(f'@import url("{reference}");' for reference in references)
        + "</style></head><body><h1>季度对账汇总</h1>"
        + images
        + "</body></html>"
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_outside_address_is_refused_without_a_connection_and_the_pdf_printed(
    templates: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    output = tmp_path / "report.pdf"
    with listener() as server:
        address = f"{scheme}://user:s3cret@127.0.0.1:{server.port}/logo.png?token=s3cret"
        with caplog.at_level(logging.WARNING):
            documents.pdf(page(address), output, assets=templates)

    assert server.hits == 0
    assert "季度对账汇总" in pdf_text(output)
    refused = [r.getMessage() for r in caplog.records if r.name == documents.__name__]
    assert refused and all(f"{scheme}://127.0.0.1:{server.port}/logo.png" in r for r in refused)
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize(
    "reference",
    [
        "file:///etc/passwd",
        "../secret.txt",
        "../../secret.txt",
        "assets/../../../secret.txt",
        "%2e%2e/%2e%2e/secret.txt",
        "file://127.0.0.1/etc/passwd",
        "assets/leak.txt",  # a symlink inside the folder, to a file outside it
    ],
)
def test_a_file_outside_the_templates_is_refused_and_the_pdf_printed(
    templates: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, reference: str
) -> None:
    output = tmp_path / "report.pdf"
    with caplog.at_level(logging.WARNING):
        documents.pdf(page(reference), output, assets=templates)

    assert "季度对账汇总" in pdf_text(output)
    assert "不可外泄" not in pdf_text(output)
    assert any(r.name == documents.__name__ for r in caplog.records), caplog.text


def test_a_bundled_asset_and_a_data_uri_are_used(
    templates: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "report.pdf"
    with caplog.at_level(logging.WARNING):
        documents.pdf(
            page("assets/pixel.png", "data:image/png;base64,iVBORw0KGgo="), output, assets=templates
        )

    assert "季度对账汇总" in pdf_text(output)
    assert not [r for r in caplog.records if r.name == documents.__name__], caplog.text


def test_without_a_templates_folder_only_data_uris_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "report.pdf"
    with listener() as server, caplog.at_level(logging.WARNING):
        documents.pdf(page(f"http://127.0.0.1:{server.port}/x.png", "pixel.png"), output)

    assert server.hits == 0
    assert "季度对账汇总" in pdf_text(output)
