"""The office's mailbox as a source, against a real IMAP server (Debian's Dovecot) on
loopback, and a faulty network in front of it (tests/imap_fixtures.py).

Every pull here has a network timeout of at most 5 s and a deadline of at most 30 s, so no
test waits without end.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from pilot_tracker.collect import mailbox
from pilot_tracker.collect.mailbox import MailboxSource
from pilot_tracker.errors import SourceRefused, SourceUnavailable
from pilot_tracker.ledger.program_file import MailboxSpec

from .imap_fixtures import OLD_SERVER_HOST, FaultProxy, MailUser, free_port, message

PASSWORD_ENV = "PT_MAIL_PASSWORD"


def source(
    user: MailUser,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    password: str | None = None,
    clock: Any = time.monotonic,
    **spec: Any,
) -> MailboxSource:
    """A source reading ``user``'s INBOX in clear on loopback, unless ``spec`` says else."""
    fields: dict[str, Any] = {
        "host": host,
        "port": port or user.server.imap_port,
        "security": "none",
        "user": user.name,
        "password_env": PASSWORD_ENV,
        "timeout": 5,
        "deadline": 30,
        **spec,
    }
    environ = {PASSWORD_ENV: user.password if password is None else password}
    return MailboxSource("xiangshan", MailboxSpec(**fields), environ=environ, clock=clock)


def refusal(call: Any) -> str:
    with pytest.raises(SourceUnavailable) as raised:
        call()
    return str(raised.value)


# --- pulling ---------------------------------------------------------------------------------


def test_a_pull_takes_the_messages_whole_oldest_first_and_leaves_them_unread(
    mail_user: MailUser,
) -> None:
    sent = [
        message(number, attachment=b"PK\x03\x04" + bytes(range(256)) * 40) for number in (1, 2, 3)
    ]
    uids = mail_user.deliver(*sent)

    pulled = source(mail_user).pull()

    assert [fetched.uid for fetched in pulled.fetched] == uids
    assert [fetched.raw for fetched in pulled.fetched] == sent
    assert [fetched.size for fetched in pulled.fetched] == [len(raw) for raw in sent]
    assert [fetched.message_id for fetched in pulled.fetched] == [
        f"reply-{number}@unit.example.org" for number in (1, 2, 3)
    ]
    assert not any(fetched.oversized for fetched in pulled.fetched)
    assert pulled.known == [] and pulled.more is False and pulled.uidvalidity > 0
    # Nothing read, nothing moved: the office's own mail client shows them as new.
    assert all(b"\\Seen" not in flags for flags in mail_user.flags().values())
    assert mail_user.uids() == uids


def test_a_message_on_record_is_not_fetched_and_is_listed_to_be_filed(
    mail_user: MailUser,
) -> None:
    uids = mail_user.deliver(message(1), message(2), message(3, message_id=""))
    asked: list[str] = []

    def known(message_id: str) -> bool:
        asked.append(message_id)
        return message_id == "reply-2@unit.example.org"

    pulled = source(mail_user).pull(known)

    assert [fetched.uid for fetched in pulled.fetched] == [uids[0], uids[2]]
    assert pulled.known == [uids[1]]
    assert pulled.fetched[1].message_id == ""  # none to look up: always fetched
    assert asked == ["reply-1@unit.example.org", "reply-2@unit.example.org"]


def test_filing_moves_the_messages_to_a_processed_folder_it_creates(mail_user: MailUser) -> None:
    uids = mail_user.deliver(message(1), message(2), message(3))
    reader = source(mail_user)
    pulled = reader.pull()

    assert reader.file(uids[:2], pulled.uidvalidity) == 2

    assert mail_user.uids() == [uids[2]]
    assert len(mail_user.uids("已处理")) == 2
    # Again (a run that failed after filing, retried): nothing left to move, no error.
    assert reader.file(uids[:2], pulled.uidvalidity) == 0
    assert reader.file([], pulled.uidvalidity) == 0
    assert len(mail_user.uids("已处理")) == 2 and mail_user.uids() == [uids[2]]


def test_filing_on_a_server_without_move_copies_and_expunges(
    imap_server: Any, mail_user: MailUser
) -> None:
    uids = mail_user.deliver(message(1), message(2))
    older = source(mail_user, host=OLD_SERVER_HOST, processed="done")
    pulled = older.pull()

    assert older.file(uids, pulled.uidvalidity) == 2

    assert mail_user.uids() == [] and len(mail_user.uids("done")) == 2


def test_nothing_is_filed_once_the_folder_was_recreated(mail_user: MailUser) -> None:
    uids = mail_user.deliver(message(1), message(2), folder="INBOX")
    with mail_user.client() as client:
        client.create_folder("报送")
    mail_user.deliver(message(1), message(2), folder="报送")
    reader = source(mail_user, folder="报送")
    pulled = reader.pull()
    with mail_user.client() as client:
        client.delete_folder("报送")
        client.create_folder("报送")
    again = mail_user.deliver(message(3), message(4), folder="报送")

    assert reader.file([fetched.uid for fetched in pulled.fetched], pulled.uidvalidity) == 0

    assert mail_user.uids("报送") == again and mail_user.uids("已处理") == []
    assert mail_user.uids() == uids
    assert reader.pull().uidvalidity != pulled.uidvalidity


def test_a_pull_takes_at_most_max_messages_and_leaves_the_rest(
    mail_user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    uids = mail_user.deliver(*(message(number) for number in range(1, 6)))
    monkeypatch.setattr(mailbox, "MAX_MESSAGES", 2)
    monkeypatch.setattr(mailbox, "UIDS_PER_COMMAND", 2)  # listing stops early too
    reader = source(mail_user)

    first = reader.pull()
    assert [fetched.uid for fetched in first.fetched] == uids[:2] and first.more is True
    reader.file(uids[:2], first.uidvalidity)
    second = reader.pull()
    assert [fetched.uid for fetched in second.fetched] == uids[2:4] and second.more is True
    reader.file(uids[2:4], second.uidvalidity)
    third = reader.pull()
    assert [fetched.uid for fetched in third.fetched] == uids[4:] and third.more is False


def test_a_pull_takes_at_most_max_run_bytes_but_always_one_message(
    mail_user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = [message(number, attachment=b"x" * 30_000) for number in (1, 2, 3)]
    uids = mail_user.deliver(*sent)
    monkeypatch.setattr(mailbox, "MAX_RUN_BYTES", len(sent[0]) + len(sent[1]) + 10)

    pulled = source(mail_user).pull()
    assert [fetched.uid for fetched in pulled.fetched] == uids[:2] and pulled.more is True

    monkeypatch.setattr(mailbox, "MAX_RUN_BYTES", 10)  # smaller than any message
    pulled = source(mail_user).pull()
    assert [fetched.uid for fetched in pulled.fetched] == uids[:1] and pulled.more is True


def test_an_oversized_message_is_fetched_only_up_to_its_head(mail_user: MailUser) -> None:
    big = message(1, attachment=b"\x00" * (50 * 1024 * 1024))
    small = message(2)
    uids = mail_user.deliver(big, small)

    pulled = source(mail_user).pull()

    head, whole = pulled.fetched
    assert (head.uid, head.oversized, head.size) == (uids[0], True, len(big))
    assert head.raw == big[: mailbox.HEAD_BYTES]
    assert head.message_id == "reply-1@unit.example.org"
    assert (whole.uid, whole.oversized, whole.raw) == (uids[1], False, small)
    assert "raw=<1048576 bytes>" in repr(head)  # no megabyte in a log line


def test_past_its_deadline_a_pull_returns_what_it_has_and_says_more(mail_user: MailUser) -> None:
    uids = mail_user.deliver(*(message(number) for number in range(1, 11)))
    ticks = iter(range(10_000))  # a clock that moves a second each time it is read

    pulled = source(mail_user, clock=lambda: float(next(ticks)), deadline=12).pull()

    assert 0 < len(pulled.fetched) < 10, len(pulled.fetched)
    assert [fetched.uid for fetched in pulled.fetched] == uids[: len(pulled.fetched)]
    assert pulled.more is True
    assert mail_user.uids() == uids  # nothing filed, nothing lost


# --- the set-up that must change ------------------------------------------------------------


@pytest.mark.parametrize("password", ["", None])
def test_the_password_variable_unset_is_refused(mail_user: MailUser, password: str | None) -> None:
    reader = source(mail_user)
    reader.environ = {} if password is None else {PASSWORD_ENV: password}

    with pytest.raises(SourceRefused) as raised:
        reader.pull()

    assert str(raised.value).startswith(
        f"{PASSWORD_ENV} is not set: the password of {mail_user.name}"
    )


def test_a_ca_file_that_cannot_be_read_is_refused(mail_user: MailUser, tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate", encoding="utf-8")
    for ca_file, says in ((tmp_path / "missing.pem", "cannot be read"), (not_pem, "no PEM")):
        reader = source(
            mail_user, port=mail_user.server.imaps_port, security="tls", ca_file=str(ca_file)
        )
        with pytest.raises(SourceRefused, match=says):
            reader.pull()


def test_an_ssl_context_that_does_not_verify_is_refused(mail_user: MailUser) -> None:
    import ssl

    careless = ssl.create_default_context()
    careless.check_hostname = False
    careless.verify_mode = ssl.CERT_NONE
    spec = MailboxSpec(
        host="127.0.0.1",
        port=mail_user.server.imaps_port,
        security="tls",
        user=mail_user.name,
        password_env=PASSWORD_ENV,
    )
    reader = MailboxSource(
        "xiangshan", spec, environ={PASSWORD_ENV: mail_user.password}, ssl_context=careless
    )

    with pytest.raises(SourceRefused, match="does not verify"):
        reader.pull()


# --- TLS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_with_the_office_ca_reads_the_mailbox(mail_user: MailUser, security: str) -> None:
    uids = mail_user.deliver(message(1))
    server = mail_user.server
    port = server.imaps_port if security == "tls" else server.imap_port
    reader = source(mail_user, port=port, security=security, ca_file=str(server.ca_file))

    pulled = reader.pull()

    assert [fetched.uid for fetched in pulled.fetched] == uids
    assert reader.file(uids, pulled.uidvalidity) == 1
    # Dovecot's log says the pull's and the filing's logins came over TLS (the test's own
    # plain one, to deliver, says "secured").
    logins = re.findall(rf"Login: user=<{re.escape(mail_user.name)}>.*", server.log.read_text())
    assert [", TLS, " in login for login in logins] == [False, True, True], logins


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_without_the_office_ca_fails_on_the_certificate(
    mail_user: MailUser, security: str
) -> None:
    server = mail_user.server
    port = server.imaps_port if security == "tls" else server.imap_port
    reader = source(mail_user, port=port, security=security)

    reason = refusal(reader.pull)

    assert reason.startswith(f"the certificate of the mail server 127.0.0.1:{port} could not")
    assert "mailbox.ca_file" in reason
    assert f"user=<{mail_user.name}>" not in server.log.read_text(encoding="utf-8")


# --- the network and the server failing ---------------------------------------------------


def test_a_wrong_password_names_the_user_and_never_the_password(
    mail_user: MailUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # imapclient's own log of the conversation too
    wrong = "Wr0ng-" + mail_user.password
    reader = source(mail_user, password=wrong)

    with pytest.raises(SourceUnavailable) as raised:
        reader.pull()

    reason = str(raised.value)
    assert reason == (
        f"the mail server 127.0.0.1:{mail_user.server.imap_port} refused the login of "
        f"{mail_user.name}: check the user in the program file and the password in "
        f"{PASSWORD_ENV}"
    )
    assert not isinstance(raised.value, SourceRefused)  # a password changed back works
    seen = [reason, repr(raised.value), repr(reader), reader.describe(), caplog.text]
    seen += [record.getMessage() for record in caplog.records]
    assert caplog.records  # the log was there to look at
    assert not [text for text in seen if wrong in text or mail_user.password in text]
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_server_that_is_down_is_unavailable(mail_user: MailUser) -> None:
    port = free_port()  # nothing listens there

    reason = refusal(source(mail_user, port=port).pull)

    assert reason == (
        f"the mail server 127.0.0.1:{port} refused the connection: is it running, and is the "
        "port right?"
    )


def test_a_connection_dropped_midway_fails_the_pull_and_leaves_the_mail(
    mail_user: MailUser,
) -> None:
    sent = [message(number, attachment=b"y" * 40_000) for number in range(1, 6)]
    uids = mail_user.deliver(*sent)
    # The greeting, login and listing are a few kB; the cut comes within the third message.
    proxy = FaultProxy(mail_user.server.imap_port, drop_after=2 * len(sent[0]) + 30_000)
    try:
        reason = refusal(source(mail_user, port=proxy.port).pull)
    finally:
        proxy.close()

    assert proxy.dropped.is_set()
    assert reason.startswith(f"the connection to 127.0.0.1:{proxy.port} was dropped while ")
    assert "fetching message 3 of 5" in reason
    assert mail_user.uids() == uids and mail_user.uids("已处理") == []
    assert all(b"\\Seen" not in flags for flags in mail_user.flags().values())


def test_a_server_that_never_answers_is_given_up_after_the_timeout(mail_user: MailUser) -> None:
    proxy = FaultProxy(mail_user.server.imap_port, silent=True)
    started = time.monotonic()
    try:
        reason = refusal(source(mail_user, port=proxy.port, timeout=0.5).pull)
    finally:
        proxy.close()

    assert time.monotonic() - started < 3
    assert reason == (
        f"the mail server 127.0.0.1:{proxy.port} did not answer within 0.5 s while connecting"
    )


def test_a_folder_that_does_not_exist_is_unavailable(mail_user: MailUser) -> None:
    reason = refusal(source(mail_user, folder="没有这个").pull)

    assert reason.startswith(
        f"the mail server 127.0.0.1:{mail_user.server.imap_port} answered an error while "
        "opening the folder 没有这个: "
    )


def test_describe_names_the_mailbox_but_not_the_password(mail_user: MailUser) -> None:
    reader = source(mail_user, folder="报送")

    assert reader.describe() == (
        f"imap://{mail_user.name}@127.0.0.1:{mail_user.server.imap_port}/报送"
    )
    assert mail_user.password not in repr(reader)


def test_the_fault_proxy_passes_a_conversation_through(mail_user: MailUser) -> None:
    """The proxy itself: without a fault, a pull through it is a pull."""
    uids = mail_user.deliver(message(1))
    proxy = FaultProxy(mail_user.server.imap_port)
    try:
        pulled = source(mail_user, port=proxy.port).pull()
    finally:
        proxy.close()
    assert [fetched.uid for fetched in pulled.fetched] == uids
    with socket.socket() as probe:  # closed with the proxy
        assert probe.connect_ex(("127.0.0.1", proxy.port)) != 0
