"""Sources against real files and a real HTTP server on loopback."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pilot_tracker.collect import collection
from pilot_tracker.collect.http import HttpSource
from pilot_tracker.collect.inbox import FolderSource, inbox_folder
from pilot_tracker.collect.sources import redact_url
from pilot_tracker.errors import SourceUnavailable
from pilot_tracker.ledger.program_file import HttpSourceSpec

from .http_fixtures import Answer, http_server, no_sleep

DATA = json.dumps({"tasks": [{"任务编号": "T-01", "进展状态": "推进中", "完成进度": 50}]}).encode()


def source(
    url: str, *, environ: dict[str, str] | None = None, **spec: object
) -> tuple[HttpSource, list[float]]:
    slept, sleep = no_sleep()
    http = HttpSource(
        "jyj",
        HttpSourceSpec(kind="http", url=url, **{"internal": True, **spec}),  # on loopback
        environ=environ or {},
        attempts=3,
        sleep=sleep,
    )
    return http, slept


def test_a_json_answer_becomes_a_payload() -> None:
    with http_server() as server:
        http, _ = source(server.answer("/jyj/progress", Answer(body=DATA)), format="json")
        pull = http.pull()
    assert pull.error is None
    (pulled,) = pull.pulled
    assert pulled.payload.data == DATA
    assert pulled.payload.name == "progress.json"
    assert pulled.payload.source == "http"


def test_tokens_come_from_the_environment_and_never_show() -> None:
    with http_server() as server:
        url = server.answer("/p", Answer(body=DATA))
        http, _ = source(
            url, environ={"JYJ_TOKEN": "s3cret"}, headers={"Authorization": "Bearer ${JYJ_TOKEN}"}
        )
        http.pull()
        assert server.requests[0][1]["Authorization"] == "Bearer s3cret"

        missing, _ = source(url, headers={"Authorization": "Bearer ${OTHER_TOKEN}"})
        pull = missing.pull()
    assert pull.error == "environment variable OTHER_TOKEN (header Authorization) is not set"


def test_5xx_and_429_are_retried_with_backoff() -> None:
    with http_server() as server:
        url = server.answer(
            "/p",
            Answer(500, b"oops", "text/plain"),
            Answer(429, b"slow down", "text/plain", headers={"Retry-After": "7"}),
            Answer(body=DATA),
        )
        http, slept = source(url)
        pull = http.pull()
    assert pull.error is None and pull.pulled[0].payload.data == DATA
    assert len(slept) == 2
    assert 0 <= slept[0] <= 1.0  # a jittered backoff
    assert slept[1] == 7.0  # the second wait honours Retry-After


def test_a_source_that_stays_down_is_unavailable_with_a_clear_reason() -> None:
    with http_server() as server:
        http, slept = source(server.answer("/p", Answer(500, b"oops", "text/plain")))
        pull = http.pull()
    assert pull.pulled == []
    assert pull.error is not None
    assert pull.error.endswith("/p answered HTTP 500 after 3 attempts")
    assert len(slept) == 2


def test_a_client_error_is_not_retried() -> None:
    with http_server() as server:
        http, slept = source(server.answer("/p", Answer(403, b"no", "text/plain")))
        assert http.pull().error.endswith("answered HTTP 403")
    assert slept == []


def test_a_timeout() -> None:
    with http_server() as server:
        http, _ = source(server.answer("/p", Answer(body=DATA, delay=1.0)), timeout=0.2)
        http.attempts = 1
        pull = http.pull()
    assert pull.error is not None and pull.error.endswith("did not answer within 0.2 s")


def test_an_unreachable_server() -> None:
    http, _ = source("http://127.0.0.1:9/nothing.json")
    http.attempts = 1
    assert "could not be reached" in http.pull().error


def test_a_50_mb_body_is_refused_without_reading_it_all() -> None:
    with http_server() as server:
        http, _ = source(server.answer("/big", Answer(stream_bytes=50 * 1024 * 1024)))
        http.attempts = 1
        pull = http.pull()
    assert pull.error is not None and "more than the 10 MB allowed" in pull.error


def test_credentials_never_appear_in_messages() -> None:
    assert redact_url("https://user:pw@host.example:8443/a/b.json?token=abc") == (
        "https://host.example:8443/a/b.json"
    )
    http, _ = source("http://127.0.0.1:9/p.json?access_token=abc123")
    http.attempts = 1
    with pytest.raises(SourceUnavailable) as caught:
        http.fetch()
    assert "abc123" not in str(caught.value)


def test_a_folder_gives_its_files_and_skips_what_is_not_a_submission(tmp_path: Path) -> None:
    folder = inbox_folder(tmp_path / "inbox", "xiangshan", "jyj")
    folder.mkdir(parents=True)
    (folder / "进展.xlsx").write_bytes(b"x")
    (folder / "数据.csv").write_bytes(b"y")
    (folder / "~$进展.xlsx").write_bytes(b"lock file")
    (folder / ".hidden.csv").write_bytes(b"hidden")
    (folder / "copying.xlsx.part").write_bytes(b"partial")
    (folder / "sub").mkdir()
    os.symlink("/etc/passwd", folder / "link.csv")
    pull = FolderSource("jyj", folder).pull()
    assert sorted(p.payload.name for p in pull.pulled) == ["数据.csv", "进展.xlsx"]
    assert all(p.inbox_file.folder == folder for p in pull.pulled)
    assert pull.waiting == {}


def test_a_file_still_being_written_is_left_for_the_next_run(tmp_path: Path) -> None:
    folder = tmp_path / "jyj"
    folder.mkdir()
    growing = folder / "进展.xlsx"
    growing.write_bytes(b"first half")
    (folder / "done.csv").write_bytes(b"complete")

    def writer_still_busy(seconds: float) -> None:
        with growing.open("ab") as stream:
            stream.write(b" and more")

    (pull,) = collection.pull_folders(
        [FolderSource("jyj", folder)],
        settle_seconds=0.5,
        sleep=writer_still_busy,  # written just now: the run waits, and it grows meanwhile
        now=datetime.now(UTC),
    )
    assert [p.payload.name for p in pull.pulled] == ["done.csv"]
    assert list(pull.waiting) == ["进展.xlsx"]
    assert growing.exists()


def test_a_missing_inbox_is_just_empty(tmp_path: Path) -> None:
    pull = FolderSource("jyj", tmp_path / "nowhere").pull()
    assert pull.pulled == [] and pull.error is None
