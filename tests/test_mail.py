"""Reading one raw mail into the files it carries (collect/mail.py).

Every message is built here as a liaison's client writes it (tests/mail_fixtures.py); the
assertions are on what the office and the liaison would see: the decoded names, where a
file was found, the reason a file was skipped or a mail refused. Hostile mail that could
eat memory or time on a broken reader is read in a child with hard limits.
"""

from __future__ import annotations

import base64
import io
import json
import random
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pilot_tracker.collect import mail
from pilot_tracker.collect.mail import Letter, authentication, read_letter
from pilot_tracker.collect.payload import read_payload
from pilot_tracker.errors import MailRefused, PayloadError

from .mail_fixtures import (
    LIAISON,
    REMINDER_ID,
    XLSX,
    File,
    encoded_word,
    forwarded,
    letter,
    multipart,
    text_part,
    workbook_bytes,
    zipped,
)

NAME = "区人力社保局填报表.xlsx"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def workbook() -> bytes:
    return workbook_bytes()


def names(read: Letter) -> list[str]:
    return [attachment.name for attachment in read.attachments]


def refused(raw: bytes) -> str:
    """The reason a mail is refused; a refusal by the safety net is a bug here."""
    with pytest.raises(MailRefused) as caught:
        read_letter(raw)
    assert caught.value.__cause__ is None, f"refused by the safety net: {caught.value.__cause__!r}"
    return caught.value.reason


# --- names as clients write them ----------------------------------------------------------------


@pytest.mark.parametrize(
    "style",
    [
        "rfc2231",
        "rfc2231-continued",
        "rfc2047-gbk-b",
        "rfc2047-gb2312-q",
        "rfc2047-utf-8-b",
        "rfc2047-utf-8-q",
        "rfc2047-utf-8-split",
        "gbk",  # Outlook, Foxmail: raw GBK bytes in the header
        "utf-8",
    ],
)
def test_a_chinese_file_name_decodes_however_it_is_written(workbook: bytes, style: str) -> None:
    read = read_letter(letter(File(NAME, workbook, name_style=style)))
    [attachment] = read.attachments
    assert attachment.name == NAME
    assert attachment.data == workbook
    assert attachment.content_type == XLSX
    assert attachment.within == ""
    assert read.skipped == []


@pytest.mark.parametrize("kind", ["B", "Q"])
def test_a_gb2312_label_reads_as_gb18030(workbook: bytes, kind: str) -> None:
    # 堃 is GBK, not GB2312: clients label GBK bytes "gb2312" all the same
    word = encoded_word("王堃的填报表.xlsx", "gb2312", kind).encode()
    part = (
        b'Content-Type: application/octet-stream; name="' + word + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(workbook)
    )
    read = read_letter(letter(File("", part, encoding="raw")))
    assert names(read) == ["王堃的填报表.xlsx"]


def test_rfc2231_in_gbk_and_a_name_only_in_content_type() -> None:
    encoded = "".join(f"%{byte:02X}" for byte in "民政局.xls".encode("gbk"))
    part = (
        f"Content-Type: application/vnd.ms-excel; name*=gbk''{encoded}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    read = read_letter(letter(File("", part, encoding="raw")))
    assert names(read) == ["民政局.xls"]  # old .xls is returned: intake refuses it in words


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../人社局.xlsx", "人社局.xlsx"),
        ("C:\\Users\\liaison\\Desktop\\人社局.xlsx", "人社局.xlsx"),
        ("/etc/人社局.xlsx", "人社局.xlsx"),
        ("人社\x07局\x00.xlsx", "人社 局.xlsx"),
        ("..", "附件1.xlsx"),
        ("", "附件1.xlsx"),
    ],
)
def test_a_name_never_carries_a_path(workbook: bytes, given: str, shown: str) -> None:
    style = "rfc2231" if given else "none"
    read = read_letter(letter(File(given, workbook, name_style=style)))
    assert names(read) == [shown]


def test_a_very_long_name_keeps_its_extension(workbook: bytes) -> None:
    read = read_letter(letter(File("很长" * 200 + ".xlsx", workbook)))
    [name] = names(read)
    assert len(name) <= 120 and name.endswith("….xlsx")


# --- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject_style", ["gbk", "rfc2047-gbk-b", "rfc2047-gb2312-q"])
@pytest.mark.parametrize("body_charset", ["gbk", None])
def test_gbk_headers_and_bodies_declared_or_not(
    workbook: bytes, subject_style: str, body_charset: str | None
) -> None:
    raw = letter(
        File(NAME, workbook),
        subject="回复：关于报送试点任务进展情况的提醒",
        subject_style=subject_style,
        sender_name="联络员（区人社局）",
        name_style="gbk" if subject_style == "gbk" else "rfc2047-gbk-b",
        body=text_part("您好，附件是本月填报表。", charset=body_charset),
    )
    read = read_letter(raw)
    assert read.subject == "回复：关于报送试点任务进展情况的提醒"
    assert read.sender_name == "联络员（区人社局）"
    assert read.sender == LIAISON
    assert names(read) == [NAME]


def test_what_the_headers_say(workbook: bytes) -> None:
    references = " ".join(f"<ref{number}@example.cn>" for number in range(25))
    raw = letter(File(NAME, workbook), sender="Liaison@RSJ.Yinzhou.GOV.cn", message_id="  abc@x ")
    raw = raw.replace(f"References: <{REMINDER_ID}>".encode(), f"References: {references}".encode())
    read = read_letter(raw)
    assert read.sender == "liaison@rsj.yinzhou.gov.cn"
    assert read.message_id == "abc@x"
    assert read.in_reply_to == REMINDER_ID
    assert read.references == [f"ref{number}@example.cn" for number in range(5, 25)]
    assert read.sent_at == datetime(2021, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert read.automatic == ""
    assert read.headers["To"] == "zhuanban@yinzhou.gov.cn"
    assert read.headers.get_payload() is None  # the headers alone


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Fri, 05 Mar 2021 09:30:00 -0000", datetime(2021, 3, 5, 9, 30, tzinfo=UTC)),
        ("5 Mar 2021 09:30:00", datetime(2021, 3, 5, 9, 30, tzinfo=UTC)),
        ("2021年3月5日", None),
        ("Fri, 99 Foo 20222 99:99:99 +9999", None),
        ("", None),
    ],
)
def test_the_date_is_aware_or_none(date: str, expected: datetime | None) -> None:
    raw = letter().replace(b"Date: Fri, 05 Mar 2021 09:30:00 +0800", f"Date: {date}".encode())
    assert read_letter(raw).sent_at == expected


@pytest.mark.parametrize(
    "from_line",
    [
        b"From: a@rsj.gov.cn, b@mzj.gov.cn",
        b"From: undisclosed-recipients:;",
        b"From: <>",
        b'From: "unterminated <a@b.c>',
        b"From: not an address",
        b"From: " + b"x" * 5000 + b"@example.cn",
    ],
)
def test_no_sender_is_guessed(from_line: bytes) -> None:
    raw = letter().replace(b"From: ", b"X-Old-From: ", 1)
    read = read_letter(from_line + b"\r\n" + raw)
    assert read.sender == ""


def test_two_from_headers_name_no_sender() -> None:
    raw = b"From: boss@rsj.yinzhou.gov.cn\r\n" + letter()
    assert read_letter(raw).sender == ""


def test_an_encoded_display_name_cannot_add_an_address() -> None:
    name = encoded_word("boss@rsj.yinzhou.gov.cn, 主要负责人", "utf-8", "B")
    raw = letter().replace(b"From: ", b"X-Old-From: ", 1)
    read = read_letter(f"From: {name} <attacker@evil.example>\r\n".encode() + raw)
    assert read.sender == "attacker@evil.example"
    assert read.sender_name == "boss@rsj.yinzhou.gov.cn, 主要负责人"


def test_the_subject_is_cleaned_and_bounded() -> None:
    subject = "报送\x00进展\x1b[31m" + "很长" * 300
    read = read_letter(letter(subject=subject, subject_style="utf-8"))
    assert read.subject.startswith("报送进展[31m很长")
    assert len(read.subject) == 300 and read.subject.endswith("…")


# --- where workbooks hide -----------------------------------------------------------------------


def test_a_workbook_in_a_forwarded_mail(workbook: bytes) -> None:
    original = letter(File(NAME, workbook), subject="区人社局3月填报表", subject_style="gbk")
    read = read_letter(letter(forwarded(original), subject="转发：区人社局3月填报表"))
    [attachment] = read.attachments
    assert (attachment.name, attachment.within) == (NAME, "转发的邮件“区人社局3月填报表”")
    assert attachment.data == workbook


@pytest.mark.parametrize(
    ("content_type", "zip_name"),
    [
        ("application/zip", "各单位填报表.zip"),
        ("application/x-zip-compressed", "各单位填报表.zip"),
        ("application/octet-stream", "各单位填报表.zip"),
        ("application/zip", ""),
    ],
)
@pytest.mark.parametrize("member_names", ["gbk", "utf-8"])
def test_a_zip_of_workbooks(
    workbook: bytes, content_type: str, zip_name: str, member_names: str
) -> None:
    csv = "任务编号,完成进度\nT-01,80\n".encode("gbk")
    archive = zipped(
        {
            "3月/人社局.xlsx": workbook,
            "3月/民政局.csv": csv,
            "3月/说明.pdf": b"%PDF-1.4",
            "3月/旧的.zip": zipped({"a.xlsx": workbook}),
            "__MACOSX/3月/._人社局.xlsx": b"\0\5\26\7",
            "3月/~$人社局.xlsx": b"owner",
        },
        names=member_names,
    )
    style = "rfc2231" if zip_name else "none"
    read = read_letter(letter(File(zip_name, archive, content_type, name_style=style)))
    shown = zip_name or "附件1.zip"
    where = f"压缩包“{shown}”"
    assert [(a.name, a.within) for a in read.attachments] == [
        ("人社局.xlsx", where),
        ("民政局.csv", where),
    ]
    assert read.attachments[0].data == workbook and read.attachments[1].data == csv
    assert read.attachments[0].content_type == XLSX
    assert read.attachments[1].content_type == "text/csv"
    assert read.skipped == [
        mail.Skipped("说明.pdf", f"不是填报表格式（PDF 文件，.pdf），未读取（位于{where}）"),
        mail.Skipped(
            "旧的.zip", f"压缩包中的压缩包未打开。请解压后直接将填报表作为附件发送（位于{where}）"
        ),
    ]


def test_an_xlsx_is_never_expanded(workbook: bytes) -> None:
    read = read_letter(
        letter(
            File("填报表.zip", workbook, "application/zip"),
            File("填报表", workbook, "application/octet-stream"),
            File("", workbook, "application/octet-stream", name_style="none"),
        )
    )
    assert names(read) == ["填报表.zip", "填报表.xlsx", "附件3.xlsx"]
    assert all(attachment.data == workbook for attachment in read.attachments)


def test_a_dated_name_without_an_extension_goes_by_its_type(workbook: bytes) -> None:
    read = read_letter(
        letter(
            File("填报表3.5", workbook), File("民政局2021.3", workbook, "application/octet-stream")
        )
    )
    assert names(read) == ["填报表3.5", "民政局2021.3.xlsx"]


def test_a_zipped_word_document_is_not_expanded(tmp_path: Path) -> None:
    document = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    read = read_letter(letter(File("方案", document, "application/octet-stream")))
    assert read.attachments == []
    assert [s.reason for s in read.skipped] == ["不是填报表格式（Word 或 PowerPoint 文档），未读取"]


@pytest.mark.parametrize(
    ("name", "content_type", "encoding"),
    [
        ("民政局.csv", "text/csv", "base64"),
        ("民政局.csv", "application/octet-stream", "base64"),
        ("民政局.csv", "text/csv; charset=gbk", "8bit"),
        ("民政局", "text/csv", "base64"),
        ("民政局.json", "application/json", "base64"),
        ("民政局.json", "application/octet-stream", "quoted-printable"),
    ],
)
def test_csv_and_json_attachments(name: str, content_type: str, encoding: str) -> None:
    if name.endswith(".json"):
        data = '{"tasks": [{"任务编号": "T-01", "完成进度": 80}]}'.encode()
    else:
        data = "任务编号,完成进度\r\nT-01,80\r\n".encode("gbk")
    body = data if encoding != "quoted-printable" else _quoted_printable(data)
    read = read_letter(letter(File(name, body, content_type, encoding=encoding)))
    [attachment] = read.attachments
    assert attachment.name == name
    assert attachment.data == data
    assert attachment.content_type == content_type.split(";")[0]
    assert read_payload(attachment.data, attachment.name, attachment.content_type).task_rows


def _quoted_printable(data: bytes) -> bytes:
    import quopri

    return quopri.encodestring(data)


def test_several_units_workbooks_in_one_mail_in_order(workbook: bytes) -> None:
    other = workbook_bytes("yinzhou", "mzj")
    files = [File(f"{unit}.xlsx", data) for unit, data in (("人社局", workbook), ("民政局", other))]
    read = read_letter(letter(*files, File("教育局.csv", b"x,y\r\n", "text/csv")))
    assert names(read) == ["人社局.xlsx", "民政局.xlsx", "教育局.csv"]
    assert [a.data for a in read.attachments[:2]] == [workbook, other]


def test_a_reply_quoting_the_reminder_returns_both_workbooks(workbook: bytes) -> None:
    reminder = (
        f"From: {mail_office()}\r\nSubject: 关于报送试点任务进展情况的提醒\r\n"
        f"Message-ID: <{REMINDER_ID}>\r\n"
    ).encode() + letter(File("填报表（区人社局）.xlsx", workbook)).split(b"\r\n", 7)[-1]
    filled = workbook + b""  # the liaison's own, sent alongside the quoted original
    read = read_letter(letter(File("填报表（已填）.xlsx", filled), forwarded(reminder)))
    assert [(a.name, a.within) for a in read.attachments] == [
        ("填报表（已填）.xlsx", ""),
        ("填报表（区人社局）.xlsx", "转发的邮件“关于报送试点任务进展情况的提醒”"),
    ]
    assert read.in_reply_to == REMINDER_ID


def mail_office() -> str:
    return "专班 <zhuanban@yinzhou.gov.cn>"


def test_html_only_mail_with_the_workbook(workbook: bytes) -> None:
    body = text_part("<p>您好，附件为填报表。</p>", subtype="html")
    read = read_letter(letter(File(NAME, workbook), body=body))
    assert names(read) == [NAME]


def test_html_and_text_alternatives_with_the_workbook(workbook: bytes) -> None:
    body = multipart([text_part("您好"), text_part("<p>您好</p>", subtype="html")], "alternative")
    read = read_letter(letter(File(NAME, workbook), body=body))
    assert names(read) == [NAME] and read.skipped == []


# --- what is not data ---------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


@pytest.mark.parametrize(
    ("name", "content_type", "words"),
    [
        ("截图.png", "image/png", "不是填报表格式（图片（.png））"),
        ("说明.pdf", "application/pdf", "不是填报表格式（PDF 文件，.pdf），未读取"),
        ("方案.docx", "application/octet-stream", "Word 文档，.docx"),
        ("方案.doc", "application/msword", "Word 文档，.doc"),
        ("winmail.dat", "application/ms-tnef", "winmail.dat"),
        ("材料.rar", "application/x-rar-compressed", "请改用 .zip 压缩"),
        ("smime.p7m", "application/pkcs7-mime", "邮件已加密"),
        ("", "application/pdf", "不是填报表格式（PDF 文件，.pdf）"),
    ],
)
def test_what_is_not_a_data_file_is_skipped_with_a_reason(
    workbook: bytes, name: str, content_type: str, words: str
) -> None:
    style = "rfc2231" if name else "none"
    read = read_letter(letter(File(name, b"x" * 100, content_type, name_style=style)))
    assert read.attachments == []
    [skipped] = read.skipped
    assert skipped.name == (name or "附件1.pdf")
    assert words in skipped.reason


def test_a_logo_in_the_signature_is_skipped_silently_a_screenshot_is_not(workbook: bytes) -> None:
    logo = File("logo.png", PNG, "image/png", disposition="inline", headers=[b"Content-ID: <l>"])
    screenshot = File(
        "截图.png", PNG * 500, "image/png", disposition="inline", headers=[b"Content-ID: <s>"]
    )
    related = multipart([text_part("<img src=cid:l>", subtype="html"), logo, screenshot], "related")
    read = read_letter(letter(File(NAME, workbook), body=related))
    assert names(read) == [NAME]
    assert [skipped.name for skipped in read.skipped] == ["截图.png"]


def test_a_signature_of_a_signed_mail_is_not_a_file(workbook: bytes) -> None:
    signature = File("smime.p7s", b"sig", "application/pkcs7-signature")
    read = read_letter(letter(File(NAME, workbook), signature))
    assert names(read) == [NAME] and read.skipped == []


# --- automatic messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "subject"),
    [
        (b"Auto-Submitted: auto-replied", ""),
        (b"Auto-Submitted: auto-generated", ""),
        (b"X-Autoreply: yes", ""),
        (b"X-Autorespond: yes", ""),
        (b"Precedence: bulk", ""),
        (b"Precedence: auto_reply", ""),
        (b"Precedence: junk", ""),
        (b"Precedence: list", ""),
        (b"Return-Path: <>", ""),
        (b"", "自动回复：关于报送试点任务进展情况的提醒"),
        (b"", "Re: 自动答复: 关于报送"),
        (b"", "回复：Auto-Reply: 关于报送"),
        (b"", "Automatic reply: 关于报送"),
        (b"", "Out of Office: 关于报送"),
        (b"", "休假：关于报送"),
        (b"", "答复: 不在办公室"),
    ],
)
def test_automatic_messages_are_marked(header: bytes, subject: str) -> None:
    raw = letter(subject=subject or "回复：提醒", headers=[header] if header else [])
    assert read_letter(raw).automatic


@pytest.mark.parametrize(
    "header", [b"X-Auto-Response-Suppress: All", b"Auto-Submitted: no", b"Precedence: first-class"]
)
def test_a_person_s_mail_is_not_automatic(header: bytes) -> None:
    assert read_letter(letter(headers=[header])).automatic == ""


def test_a_delivery_report_is_automatic(workbook: bytes) -> None:
    returned = letter(File(NAME, workbook))
    status = File(
        "",
        b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.cn\r\n\r\n"
        b"Final-Recipient: rfc822; x@y.cn\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        encoding="raw",
    )
    report = multipart([text_part("退信"), status, forwarded(returned)], "report")
    raw = (
        b"From: MAILER-DAEMON@mx.example.cn\r\nSubject: Undelivered Mail\r\n"
        + report.data.replace(b"multipart/report;", b"multipart/report; report-type=x;")
    )
    read = read_letter(raw)
    assert "multipart/report" in read.automatic
    read = read_letter(raw.replace(b"multipart/report", b"multipart/mixed"))
    assert read.automatic == "from mailer-daemon@mx.example.cn"


# --- malformed MIME ---------------------------------------------------------------------------------


def test_a_boundary_never_closed_still_gives_the_workbook(workbook: bytes) -> None:
    raw = letter(File(NAME, workbook))
    raw = raw[: raw.rindex(b"--=_part")]
    assert names(read_letter(raw)) == [NAME]


def test_bad_base64_decodes_what_can_be() -> None:
    good = base64.encodebytes(b"task,percent\r\nT-01,80\r\n")
    part = (
        b"Content-Type: text/csv; name=a.csv\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + good[:12]
        + b"!!*\x00"
        + good[12:]
        + b"===x"
    )
    [attachment] = read_letter(letter(File("", part, encoding="raw"))).attachments
    assert attachment.data.startswith(b"task,percent")


MALFORMED = {
    "boundary-missing": b"Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Type: text/csv\r\n\r\na",
    "empty-boundary": b'Content-Type: multipart/mixed; boundary=""\r\n\r\n--\r\n\r\nx\r\n----\r\n',
    "part-without-headers": b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--",
    "no-headers": b"\r\n\r\njust a body",
    "empty": b"",
    "only-garbage": bytes(range(256)) * 20,
    "nul-bytes": b'Subject: a\x00b\r\nFrom: \x00<a@b.c>\r\nContent-Type: text/csv; name="\x00"\r\n\r\n\0',
    "broken-encoded-words": (
        b"Subject: =?utf-8?b?5bel?= =?gbk?q?=ZZ?= =?x-unknown?b?YWJj?= =?utf-8?b?@@@?=\r\n"
        b"From: =?utf-8?q?=E5=?= <a@b.c>\r\n"
        b"Content-Type: application/octet-stream; name==?utf-8?b?\r\n\r\nx"
    ),
    "rfc2231-mixed": (
        b"Content-Type: application/zip\r\nContent-Disposition: attachment; "
        b"filename*0*=utf-8''%E5; filename*1*=%ZZ; filename*=bad''; filename*9=x\r\n\r\nPK"
    ),
    "long-lines": b"Subject: " + b"a" * 100_000 + b"\r\n\r\n" + (b"b" * 100_000 + b"\r\n") * 5,
    "long-from": b"From: " + b"<a@b.c>" * 20_000 + b"\r\n\r\nx",
    "unterminated-quotes": b"Content-Type: text/csv; name=" + b'"\\"' * 5000 + b"\r\n\r\nx",
    "cte-garbage": b"Content-Type: text/csv; name=a.csv\r\nContent-Transfer-Encoding: x-uue\r\n\r\nbegin",
    "rfc822-empty": b"Content-Type: message/rfc822\r\n\r\n",
    "delivery-status-garbage": b"Content-Type: message/delivery-status\r\n\r\n:\r\n\r\n::::\r\n",
    "bare-cr": b"Subject: x\rContent-Type: multipart/mixed; boundary=b\r\r--b\rContent-Type: text/csv; name=a.csv\r\rx\r--b--",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_mime_gives_a_letter_or_a_refusal(raw: bytes) -> None:
    started = time.perf_counter()
    try:
        read = read_letter(raw)
    except MailRefused as refusal:
        assert refusal.__cause__ is None, repr(refusal.__cause__)
    else:
        assert isinstance(read, Letter)
        assert all(attachment.name for attachment in read.attachments)
    assert time.perf_counter() - started < 2


def test_too_many_parts_is_refused() -> None:
    raw = letter(*(File("", b"Content-Type: text/plain\r\n\r\nx", encoding="raw"),) * 120)
    assert refused(raw) == mail.TOO_MANY_PARTS
    assert "超过 100 个" in mail.TOO_MANY_PARTS and "分几封邮件发送" in mail.TOO_MANY_PARTS


def test_nesting_too_deep_is_refused(workbook: bytes) -> None:
    raw = letter(File(NAME, workbook))
    for level in range(5):  # each forward nests twice: the message, and its multipart
        raw = letter(forwarded(raw), subject=f"转发{level}")
    reason = refused(raw)
    assert "嵌套层次过多" in reason and "直接作为附件发送" in reason


def test_many_header_lines_are_refused() -> None:
    raw = b"".join(b"X-Spam-%d: y\r\n" % number for number in range(2000)) + letter()
    assert "邮件头超过 1000 行" in refused(raw)


# --- hostile mail, read in a cage ------------------------------------------------------------------

CAGE = """
import json, sys, time
from email.message import Message
from pilot_tracker.collect.mail import read_letter
from pilot_tracker.collect.payload import read_payload
from pilot_tracker.errors import MailRefused, PayloadError

decoded = 0
get_payload = Message.get_payload

def counting(self, i=None, decode=False):
    global decoded
    decoded += bool(decode)
    return get_payload(self, i, decode)

Message.get_payload = counting  # observes: how many payloads were decoded
raw = open(sys.argv[1], "rb").read()
started = time.perf_counter()
outcome = {}
try:
    read = read_letter(raw)
except MailRefused as refusal:
    outcome["refused"] = refusal.reason
    outcome["cause"] = repr(refusal.__cause__) if refusal.__cause__ else ""
else:
    outcome["attachments"] = [[a.name, a.within, len(a.data)] for a in read.attachments]
    outcome["skipped"] = [[s.name, s.reason] for s in read.skipped]
    outcome["payloads"] = []
    for attachment in read.attachments:
        try:
            read_payload(attachment.data, attachment.name, attachment.content_type)
            outcome["payloads"].append("read")
        except PayloadError as error:
            outcome["payloads"].append(str(error))
outcome["seconds"] = time.perf_counter() - started
outcome["decoded"] = decoded
print(json.dumps(outcome, ensure_ascii=False))
"""
CAGE_SECONDS = 90


def caged(tmp_path: Path, raw: bytes) -> dict:
    """Read ``raw`` in a child with 2 GB of address space and 60 s of CPU."""
    path = tmp_path / "message.eml"
    path.write_bytes(raw)
    command = ["prlimit", "--as=2147483648", "--cpu=60", "timeout", "80"]
    try:
        done = subprocess.run(
            [*command, sys.executable, "-c", CAGE, str(path)],
            capture_output=True,
            text=True,
            timeout=CAGE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child ran for more than {CAGE_SECONDS} s")
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout)
    assert not outcome.get("cause"), outcome["cause"]
    return outcome


def test_500_attachments_are_refused_before_one_is_decoded(tmp_path: Path) -> None:
    files = [File(f"单位{number}.csv", b"x" * 2000, "text/csv") for number in range(500)]
    outcome = caged(tmp_path, letter(*files))
    assert outcome["refused"].startswith("附件过多（超过 50 个）")
    assert "请分批发送" in outcome["refused"]
    assert outcome["decoded"] == 0


def test_51_files_in_zips_are_refused(workbook: bytes) -> None:
    archive = zipped({f"单位{number}.csv": b"x,y\r\n" for number in range(30)})
    raw = letter(
        File("一.zip", archive, "application/zip"), File("二.zip", archive, "application/zip")
    )
    assert refused(raw) == mail.TOO_MANY_ATTACHMENTS


def test_a_zip_of_too_many_files_is_skipped(workbook: bytes) -> None:
    archive = zipped({f"单位{number}.csv": b"x,y\r\n" for number in range(51)})
    read = read_letter(letter(File("全部.zip", archive, "application/zip")))
    assert read.attachments == []
    assert [s.reason for s in read.skipped] == [
        "压缩包中的文件过多（超过 50 个），未读取。请分批发送"
    ]


def test_a_message_over_40_mb_is_refused_unread(tmp_path: Path) -> None:
    raw = letter(File("大.csv", b"x", "text/csv")) + b"x" * mail.MAX_MESSAGE_BYTES
    outcome = caged(tmp_path, raw)
    assert outcome["refused"].startswith("邮件过大（约 40 MB，超过 40 MB）")
    assert outcome["seconds"] < 1


def test_a_million_tiny_lines_are_refused_unparsed(tmp_path: Path) -> None:
    raw = b"X: y\r\n" * 1_200_000 + b"\r\nbody"
    outcome = caged(tmp_path, raw)
    assert outcome["refused"] == mail.TOO_MANY_LINES
    assert outcome["seconds"] < 2


def test_a_mail_of_endless_empty_parts_stops_parsing_early(tmp_path: Path) -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\n\r\nx\r\n" * 300_000
        + b"--b--\r\n"
    )
    outcome = caged(tmp_path, raw)
    assert outcome["refused"] == mail.TOO_MANY_PARTS
    assert outcome["seconds"] < 5


def test_nesting_ten_thousand_deep_is_refused(tmp_path: Path) -> None:
    raw = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
        for level in range(10_000)
    )
    outcome = caged(tmp_path, raw)
    assert outcome["refused"] in (mail.TOO_DEEP, mail.TOO_MANY_PARTS)


def zeros_zip(name: str, size: int) -> bytes:
    """A zip of one member of ``size`` zero bytes, written in pieces."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(name, "w", force_zip64=True) as member,
    ):
        for _ in range(size // MB):
            member.write(bytes(MB))
    return buffer.getvalue()


def test_a_zip_bomb_is_skipped_not_inflated(tmp_path: Path, workbook: bytes) -> None:
    raw = letter(
        File("小炸弹.zip", zeros_zip("人社局.csv", 2 * MB), "application/zip"),
        File("大炸弹.zip", zeros_zip("民政局.csv", 120 * MB), "application/zip"),
        File(NAME, workbook),
    )
    assert len(raw) < MB
    outcome = caged(tmp_path, raw)
    assert outcome["attachments"] == [[NAME, "", len(workbook)]]
    assert outcome["skipped"] == [
        ["小炸弹.zip", "压缩包压缩比异常，疑似恶意文件，已拒收"],
        ["大炸弹.zip", "压缩包解压后过大（超过 100 MB），已拒收。请只压缩填报表后重新发送"],
    ]
    assert outcome["seconds"] < 2


def test_a_zipped_file_over_20_mb_is_skipped_unread() -> None:
    rng = random.Random(13)
    text = bytes(rng.choice(b"0123456789,\n") for _ in range(MB)) * 21  # compresses ~100x
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("人社局.csv", text)
    read = read_letter(letter(File("表.zip", buffer.getvalue(), "application/zip")))
    assert read.attachments == []
    assert [s.reason for s in read.skipped] == [
        "文件过大（21 MB），单个文件不得超过 20 MB（位于压缩包“表.zip”）"
    ]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "member"])
def test_a_broken_zip_is_skipped_with_a_reason(workbook: bytes, damage: str) -> None:
    archive = zipped({"人社局.csv": b"task,percent\r\n" * 100})
    if damage == "truncated":
        archive = archive[: len(archive) // 2]
    elif damage == "garbage":
        archive = b"PK\x03\x04" + bytes(200)
    else:  # the member's deflated bytes, overwritten
        at = archive.index(b"\xe4\xba\xba") + 20  # after the local header's name
        archive = archive[:at] + b"\xff" * 8 + archive[at + 8 :]
    read = read_letter(letter(File("表.zip", archive, "application/zip")))
    assert read.attachments == []
    [skipped] = read.skipped
    assert "已损坏" in skipped.reason


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">'
        % (level, (b"&lol%s;" % (b"%d" % (level - 1) if level > 1 else b"")) * 10)
        for level in range(1, 10)
    )
    + b"]>"
)


def test_an_entity_bomb_is_carried_untouched_and_refused_by_intake(
    tmp_path: Path, workbook: bytes
) -> None:
    source = zipfile.ZipFile(io.BytesIO(workbook))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"?>", b"?>" + LAUGHS[LAUGHS.index(b"<!DOCTYPE") :], 1)
                data = data.replace(b"<sheetData>", b"<sheetData>&lol9;", 1)
            archive.writestr(info, data)
    bomb = buffer.getvalue()
    raw = letter(
        File("炸弹.xlsx", bomb), File("包.zip", zipped({"炸弹.xlsx": bomb}), "application/zip")
    )
    outcome = caged(tmp_path, raw)
    assert outcome["attachments"] == [
        ["炸弹.xlsx", "", len(bomb)],
        ["炸弹.xlsx", "压缩包“包.zip”", len(bomb)],
    ]
    assert all("工作簿无法读取" in reason for reason in outcome["payloads"])
    assert outcome["seconds"] < 10


# --- authentication -----------------------------------------------------------------------------

OURS = "mx.yinzhou.gov.cn"


@pytest.mark.parametrize(
    ("results", "verdict"),
    [
        ([f"{OURS}; dmarc=pass header.from=rsj.yinzhou.gov.cn"], "pass"),
        ([f"{OURS} 1; spf=fail smtp.mailfrom=rsj.yinzhou.gov.cn; dmarc=pass (p=none)"], "pass"),
        ([f"{OURS}; dkim=pass header.d=rsj.yinzhou.gov.cn; dmarc=fail"], "fail"),
        ([f"{OURS}; spf=pass smtp.mailfrom=liaison@rsj.yinzhou.gov.cn"], "pass"),
        ([f"{OURS}; dkim=pass (2048-bit key) header.d=yinzhou.gov.cn header.b=ab"], "pass"),
        ([f"{OURS}; spf=fail smtp.mailfrom=a@rsj.yinzhou.gov.cn; dkim=fail header.d=x"], "fail"),
        ([f"{OURS}; spf=softfail smtp.mailfrom=rsj.yinzhou.gov.cn"], "fail"),
        ([f"{OURS}; none"], "fail"),
        # a pass for the sender's own domain says nothing of the From: a forger's mail
        ([f"{OURS}; spf=pass smtp.mailfrom=evil.example; dkim=pass header.d=evil.example"], "fail"),
        ([f"{OURS}; dmarc=pass header.from=evil.example"], "fail"),
        # anyone can write a header of another server, or one below the office's
        (["evil.example; dmarc=pass header.from=rsj.yinzhou.gov.cn"], "none"),
        (
            [
                f"{OURS}; dmarc=fail header.from=rsj.yinzhou.gov.cn",
                f"{OURS}; dmarc=pass header.from=rsj.yinzhou.gov.cn",
            ],
            "fail",
        ),
        ([f"{OURS.upper()} (comment; dmarc=fail); dmarc=pass"], "pass"),
        ([f'{OURS}; dkim=pass reason="a; dmarc=fail" header.d=rsj.yinzhou.gov.cn'], "pass"),
        ([], "none"),
    ],
)
def test_the_office_s_own_server_decides(results: list[str], verdict: str) -> None:
    headers = [f"Authentication-Results: {value}".encode() for value in results]
    raw = b"\r\n".join([*headers, letter()]) if headers else letter()
    assert authentication(read_letter(raw), OURS) == verdict


# --- total, whatever the bytes ------------------------------------------------------------------


def mutations(raw: bytes, rng: random.Random) -> bytes:
    """One mutation: cut, flip bytes, duplicate or drop a boundary line, splice a header."""
    choice = rng.randrange(6)
    at = rng.randrange(len(raw))
    if choice == 0:
        return raw[:at]
    if choice == 1:
        data = bytearray(raw)
        for _ in range(rng.randrange(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    lines = raw.split(b"\r\n")
    if choice == 2:
        boundaries = [line for line in lines if line.startswith(b"--")] or [b"--x"]
        line = rng.choice(boundaries)
        lines.insert(rng.randrange(len(lines)), line)
    elif choice == 3:
        del lines[rng.randrange(len(lines))]
    elif choice == 4:
        line = rng.choice(lines)
        lines.insert(rng.randrange(len(lines)), line * rng.randrange(1, 50))
    else:
        lines.insert(
            rng.randrange(len(lines)),
            rng.choice(
                [
                    b"Content-Type: multipart/mixed; boundary=",
                    b"Content-Type: message/rfc822",
                    b"Content-Transfer-Encoding: base64",
                    b"Content-Disposition: attachment; filename*0*=gbk''%D6; filename*1=x",
                    b"\x00\xff\xfe",
                    b"=?gbk?b?zt7Qpz?=",
                ]
            ),
        )
    return b"\r\n".join(lines)


def test_read_letter_is_total(workbook: bytes) -> None:
    seed = letter(
        File(NAME, workbook[:3000], name_style="gbk"),
        File("包.zip", zipped({"人社局.csv": b"a,b\r\n"}, names="gbk"), "application/zip"),
        forwarded(letter(File("表.csv", b"a,b", "text/csv"), subject="原")),
        subject_style="gbk",
    )
    rng = random.Random(20210305)
    deadline = time.monotonic() + 60
    outcomes = {"letter": 0, "refused": 0}
    for _ in range(1500):
        raw = seed
        for _ in range(rng.randrange(1, 4)):
            raw = mutations(raw, rng) or raw
        try:
            read = read_letter(raw)
        except MailRefused as refusal:
            assert refusal.__cause__ is None, (raw[:2000], repr(refusal.__cause__))
            outcomes["refused"] += 1
        else:
            assert all(a.name and "/" not in a.name for a in read.attachments)
            outcomes["letter"] += 1
        assert time.monotonic() < deadline
    assert outcomes["letter"] > 1000


def test_read_payload_refuses_what_mail_skips_nothing_of(workbook: bytes) -> None:
    # an attachment is data as sent: intake reads it, or refuses it in its own words
    read = read_letter(letter(File("旧表.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))))
    [attachment] = read.attachments
    with pytest.raises(PayloadError, match=r"旧版 \.xls"):
        read_payload(attachment.data, attachment.name, attachment.content_type)


def test_reading_mail_loads_no_database_and_no_openpyxl() -> None:
    probe = "import sys, pilot_tracker.collect.mail as m; print(sorted(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = {name.split(".")[0] for name in done.stdout.strip("[]\n").replace("'", "").split(", ")}
    assert not loaded & {"sqlalchemy", "sqlmodel", "openpyxl", "prefect"}


def test_zip_leftovers_are_the_inbox_s() -> None:
    from pilot_tracker.collect.inbox import SKIPPED_NAMES

    assert mail.LEFTOVER_NAMES.pattern == SKIPPED_NAMES.pattern
