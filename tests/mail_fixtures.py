"""Mail as liaisons' clients really write it, built byte by byte: attachment names in
RFC 2231, RFC 2047 (GBK, GB2312, UTF-8) or raw GBK bytes (Outlook, Foxmail), GBK headers
and bodies, forwarded mail, zips of workbooks. For the tests of the mail reader, the
mailbox and the intake of mail.

``letter(...)`` composes one message from ``File`` parts; ``forwarded``, ``zipped`` and
``workbook_bytes`` make what goes inside.
"""

from __future__ import annotations

import base64
import io
import itertools
import zipfile
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from urllib.parse import quote

from .conftest import EXAMPLES

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LIAISON = "liaison@rsj.yinzhou.gov.cn"
OFFICE = "zhuanban@yinzhou.gov.cn"
REMINDER_ID = "reminder-2021-03-01-rsj@pilot-tracker.yinzhou.gov.cn"


def filled(workbook: bytes, *, percent: object, progress: str, reported_on: date) -> bytes:
    """A submission workbook as a liaison fills it in: every task row of it reported."""
    import openpyxl

    from pilot_tracker.collect.submission_workbook import HEADER_ROW, TASK_COLUMNS, TASK_SHEET

    book = openpyxl.load_workbook(io.BytesIO(workbook))
    sheet = book[TASK_SHEET]
    headers = [header for header, _, _ in TASK_COLUMNS]
    for number in range(HEADER_ROW + 1, sheet.max_row + 1):
        if sheet.cell(row=number, column=1).value:
            for header, value in (
                ("进展状态", "推进中"),
                ("完成进度", percent),
                ("进展情况", progress),
                ("填报日期", reported_on),
            ):
                sheet.cell(row=number, column=headers.index(header) + 1, value=value)
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()


def template(spec: object, unit: str, generated_on: date) -> bytes:
    """The unit's submission workbook as ``pilot-tracker template`` writes it."""
    from pilot_tracker.collect.submission_workbook import build_submission_template

    stream = io.BytesIO()
    build_submission_template(spec, unit, generated_on=generated_on).save(stream)  # type: ignore[arg-type]
    return stream.getvalue()


@cache
def workbook_bytes(program: str = "yinzhou", unit: str = "rsj") -> bytes:
    """A unit's real submission workbook, as pilot-tracker sends it out."""
    from pilot_tracker.collect.submission_workbook import build_submission_template
    from pilot_tracker.ledger.program_file import read_program_file

    spec = read_program_file(EXAMPLES / f"{program}.yaml")
    workbook = build_submission_template(spec, unit, generated_on=date(2021, 3, 1))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def encoded_word(text: str, charset: str = "utf-8", kind: str = "B") -> str:
    """One RFC 2047 encoded word (``gb2312`` and ``gbk`` labels encode as GBK)."""
    codec = "gbk" if charset.lower() in ("gb2312", "gbk") else charset
    data = text.encode(codec)
    if kind.upper() == "B":
        body = base64.b64encode(data).decode()
    else:
        body = "".join(
            chr(byte)
            if byte < 128 and (chr(byte).isalnum() or chr(byte) in ".-")
            else f"={byte:02X}"
            for byte in data
        )
    return f"=?{charset}?{kind}?{body}?="


def header_text(text: str, style: str) -> bytes:
    """A header value (a subject, a display name, a file name) written in ``style``:

    ``ascii`` as is; ``utf-8``/``gbk`` raw 8-bit bytes; ``rfc2047-<charset>-<b|q>`` one
    encoded word; ``rfc2047-utf-8-split`` two B words splitting a character's bytes.
    """
    if style == "ascii":
        return text.encode("ascii")
    if style in ("utf-8", "gbk"):
        return text.encode(style)
    if style == "rfc2047-utf-8-split":
        data = text.encode("utf-8")
        half = len(data) // 2 + 1  # inside a three-byte character
        words = [base64.b64encode(piece).decode() for piece in (data[:half], data[half:])]
        return " ".join(f"=?UTF-8?B?{word}?=" for word in words).encode()
    _, charset, kind = style.rsplit("-", 2) if style.count("-") >= 2 else (None, "utf-8", "b")
    if style.startswith("rfc2047-utf-8"):
        charset, kind = "UTF-8", style[-1]
    return encoded_word(text, charset, kind.upper()).encode()


def name_parameters(name: str, style: str) -> tuple[bytes, bytes]:
    """(Content-Type parameter, Content-Disposition parameter) naming a file in ``style``:
    ``rfc2231``, ``rfc2231-continued``, ``none``, or a ``header_text`` style."""
    if style == "none":
        return b"", b""
    if style == "rfc2231":
        value = f"filename*=UTF-8''{quote(name, safe='')}".encode()
        return b"", b"; " + value
    if style == "rfc2231-continued":
        encoded = quote(name, safe="")
        # a character split across the two pieces, after its first byte
        half = len(encoded) // 2
        cut = encoded.find("%", half) + 3 if "%" in encoded[half:] else half
        value = f"filename*0*=UTF-8''{encoded[:cut]};\r\n filename*1*={encoded[cut:]}".encode()
        return b"", b";\r\n " + value
    text = header_text(name, style)
    return b'; name="' + text + b'"', b'; filename="' + text + b'"'


@dataclass
class File:
    """One part of a mail: a file, an inline image, or raw bytes of a whole part."""

    name: str
    data: bytes
    content_type: str = XLSX
    name_style: str = "rfc2231"
    disposition: str = "attachment"
    encoding: str = "base64"  # or 8bit, quoted-printable, raw (data is the whole part)
    headers: list[bytes] = field(default_factory=list)

    def part(self) -> bytes:
        if self.encoding == "raw":
            return self.data
        type_name, disposition_name = name_parameters(self.name, self.name_style)
        lines = [b"Content-Type: " + self.content_type.encode() + type_name]
        if self.disposition:
            lines.append(b"Content-Disposition: " + self.disposition.encode() + disposition_name)
        lines.append(b"Content-Transfer-Encoding: " + self.encoding.encode())
        lines += self.headers
        if self.encoding == "base64":
            body = base64.encodebytes(self.data).replace(b"\n", b"\r\n")
        else:
            body = self.data
        return b"\r\n".join(lines) + b"\r\n\r\n" + body


def text_part(text: str, *, subtype: str = "plain", charset: str | None = "utf-8") -> File:
    """A body part; ``charset=None`` leaves GBK bytes undeclared, as old clients do."""
    codec = charset or "gbk"
    declared = f"; charset={charset}" if charset else ""
    data = (
        f"Content-Type: text/{subtype}{declared}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + text.encode("gbk" if codec.lower() in ("gb2312", "gbk") else codec)
    return File("", data, encoding="raw")


_BOUNDARIES = itertools.count(1)  # a forwarded mail's boundary must not be its wrapper's


def multipart(parts: list[File | bytes], subtype: str = "mixed", boundary: str = "") -> File:
    """A multipart part holding ``parts`` (each a File or a whole part's bytes)."""
    boundary = boundary or f"=_part_{subtype}_{next(_BOUNDARIES)}"
    body = b"".join(
        b"--" + boundary.encode() + b"\r\n" + (p.part() if isinstance(p, File) else p) + b"\r\n"
        for p in parts
    )
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    return File("", head + body + b"--" + boundary.encode() + b"--\r\n", encoding="raw")


def letter(
    *files: File,
    subject: str = "回复：关于报送试点任务进展情况的提醒",
    subject_style: str = "rfc2047-utf-8-b",
    sender: str = LIAISON,
    sender_name: str = "区人社局联络员",
    name_style: str = "rfc2047-utf-8-b",
    body: File | None = None,
    headers: list[bytes] | None = None,
    message_id: str = "20210305093000.1234@rsj.yinzhou.gov.cn",
    content_type: str = "multipart/mixed",
) -> bytes:
    """A whole message: the liaison's reply with ``files`` attached, after a body."""
    from_line = b"From: " + header_text(sender_name, name_style) + f" <{sender}>".encode()
    top = [
        from_line,
        f"To: {OFFICE}".encode(),
        b"Subject: " + header_text(subject, subject_style),
        b"Date: Fri, 05 Mar 2021 09:30:00 +0800",
        f"Message-ID: <{message_id}>".encode(),
        f"In-Reply-To: <{REMINDER_ID}>".encode(),
        f"References: <{REMINDER_ID}>".encode(),
        b"MIME-Version: 1.0",
        *(headers or []),
    ]
    parts = [body or text_part("您好，附件是我单位本月的填报表，请查收。"), *list(files)]
    inner = multipart(parts, content_type.split("/", 1)[1])
    return b"\r\n".join(top) + b"\r\n" + inner.data


def forwarded(inner: bytes, *, subject: str = "转发：填报表", name: str = "") -> File:
    """A forwarded mail: ``inner`` whole, as a ``message/rfc822`` part."""
    disposition = b"Content-Disposition: attachment" + (
        b'; filename="' + header_text(name, "rfc2047-utf-8-b") + b'"' if name else b""
    )
    head = b"Content-Type: message/rfc822\r\n" + disposition + b"\r\n\r\n"
    return File(subject, head + inner, encoding="raw")


def zipped(members: dict[str, bytes], *, names: str = "utf-8") -> bytes:
    """A zip of ``members``; ``names="gbk"`` writes names in CP936 without the UTF-8 flag,
    as Windows' own "send to compressed folder" and older WinRAR do."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = _GbkName(name) if names == "gbk" else zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


class _GbkName(zipfile.ZipInfo):
    """A member whose name is stored in CP936 bytes, without the UTF-8 flag."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits & ~0x800
