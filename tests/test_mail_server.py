"""The demo's mail server (pilot_tracker.demo.mail_server) as the demo uses it: Debian's
Dovecot on 127.0.0.1 with one liaison's mailbox, a reply APPENDed and read back, and
nothing left behind once it stops, even when Ctrl-C ends the demo."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from imapclient import IMAPClient

from pilot_tracker.demo import mail_server
from pilot_tracker.demo.mail_server import live_in_group
from pilot_tracker.errors import DemoError

from . import processes
from .imap_fixtures import message

pytestmark = pytest.mark.usefixtures("dovecot_installed")

LIAISON = ("liaison@xiangshan.example.gov.cn", "demo-password-1")


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_the_demo_server_keeps_a_reply_and_leaves_nothing_once_stopped() -> None:
    reply = message(1, sender=LIAISON[0])
    at = datetime(2021, 3, 5, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    pid = 0
    try:
        with mail_server.dovecot([LIAISON]) as server:
            pid = server.pid
            assert server.imaps_port is None  # the demo reads plain IMAP, on 127.0.0.1 only
            assert not answers("127.0.0.2", server.imap_port)
            assert live_in_group(server.pid)
            uid = mail_server.append(server, *LIAISON, reply, at=at)

            client = IMAPClient("127.0.0.1", server.imap_port, ssl=False, timeout=10)
            client.normalise_times = False  # the date as the server keeps it, with its zone
            try:
                client.login(*LIAISON)
                client.select_folder("INBOX", readonly=True)
                fetched = client.fetch([uid], ["BODY.PEEK[]", "INTERNALDATE"])
            finally:
                client.logout()

        assert fetched[uid][b"BODY[]"] == reply
        assert fetched[uid][b"INTERNALDATE"] == at
        assert live_in_group(server.pid) == []
        assert not server.folder.exists()
        assert not answers("127.0.0.1", server.imap_port)
    finally:
        if pid and live_in_group(pid):  # the test failed: still leave no Dovecot running
            os.killpg(pid, signal.SIGKILL)


# The demo as a user runs it, cut short: it prints the server's group, folder and port once
# Dovecot answers, then plays on until Ctrl-C. SIGINT raises KeyboardInterrupt here however
# the suite was started (a background job starts its children with SIGINT ignored).
DEMO = f"""
import signal, time
signal.signal(signal.SIGINT, signal.default_int_handler)
from pilot_tracker.demo import mail_server
with mail_server.dovecot([{LIAISON!r}]) as server:
    print(server.pid, server.imap_port, server.folder, flush=True)
    time.sleep(60)
"""


def test_ctrl_c_in_the_demo_stops_dovecot_and_removes_its_folder() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-c", DEMO],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=processes.child_environment(),
        start_new_session=True,  # its own terminal group, which a Ctrl-C reaches whole
    )
    output = processes.Output(demo)
    pid = 0
    try:
        line = output.wait_for("pilot-tracker-imap-", timeout=30)
        pid, port, folder = int(line.split()[0]), int(line.split()[1]), Path(line.split()[2])
        assert live_in_group(pid) and folder.is_dir() and answers("127.0.0.1", port)

        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(timeout=30)

        assert "KeyboardInterrupt" in output.wait_ended(timeout=5)
        assert live_in_group(pid) == []
        assert not folder.exists()
        assert not answers("127.0.0.1", port)
    finally:
        processes.stop(demo)
        if pid and live_in_group(pid):  # the test failed: still leave no Dovecot running
            os.killpg(pid, signal.SIGKILL)


def test_a_dovecot_that_cannot_start_is_one_clear_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where its folder goes

    with (
        pytest.raises(DemoError) as raised,
        mail_server.dovecot([LIAISON], extra="no_such_setting = 1\n", deadline=10),
    ):
        pass

    assert str(raised.value).startswith("the mail server (Dovecot) ended at start with code")
    assert "no_such_setting" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("../../etc", "x"),  # a name is its maildir's folder
        ("a:b@example.org", "x"),  # and a line of the passwd-file
        ("", "x"),
        ("liaison@example.org", "pass:word"),
        ("liaison@example.org", "two\nlines"),
        ("liaison@example.org", ""),
    ],
)
def test_a_user_the_passwd_file_cannot_hold_is_refused_before_anything_starts(
    name: str, password: str
) -> None:
    with pytest.raises(ValueError, match="mail user"), mail_server.dovecot([(name, password)]):
        pass
