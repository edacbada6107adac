"""A mail: the bytes of one RFC 5322 message read into the files it carries (a ``Letter``).

Liaisons answer the reminder with their filled workbook attached, from whatever client
their office runs: Outlook and Foxmail write Chinese file names as raw GBK bytes or as
GBK encoded words, others as RFC 2231; workbooks come forwarded inside a ``message/rfc822``
part or zipped several at once. Reading is tolerant of all of that and strict about what
could hurt: a message too large, with too many parts or attachments or nested too deep is
refused whole (``MailRefused``) before its payloads are decoded; a zip is bounded by what
it declares (``spreadsheet.check_zip``) before anything in it is inflated.

The parser runs with ``email.policy.compat32`` and every header is decoded here, from its
raw value: the default policy's header objects raise on malformed address lists
(``IndexError``) and take seconds on a long ``From``, and compat32's own ``get_filename``
raises on a mix of RFC 2231 continuations. Reading here is total: a ``Letter`` or a
``MailRefused``, whatever the bytes.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import unquote_to_bytes

from pilot_tracker.collect.payload import (
    MAX_COMPRESSION_RATIO,
    MAX_PAYLOAD_BYTES,
    MAX_UNCOMPRESSED_BYTES,
    MAX_ZIP_ENTRIES,
    OLE2_MAGIC,
    ZIP_MAGIC,
    clean_text,
    display_name,
)
from pilot_tracker.errors import MailRefused, ZipRefused
from pilot_tracker.spreadsheet import ZipBounds, check_zip

MAX_MESSAGE_BYTES = (
    40 * 1024 * 1024
)  # a message larger is never parsed (mailbox.py fetches its head)
MAX_PARTS = 100  # MIME parts walked in one message, all levels; more: refused whole
MAX_DEPTH = 8  # nesting of multiparts / message/rfc822
MAX_ATTACHMENTS = 50  # data files in one message (after expanding zips); more: refused whole
MAX_ZIP_FILES = 50  # files taken from one attached zip
# The parser's cost is per line and per part: a 40 MB message of six-byte header lines or
# of empty parts takes seconds and a gigabyte to parse. Lines are counted before parsing;
# parsing stops at PARSED_PARTS, well above MAX_PARTS, so that a mail of 500 attachments
# is told it has too many attachments, not too many parts.
MAX_LINES = 1_000_000
PARSED_PARTS = 10 * MAX_PARTS
MAX_HEADER_CHARS = 16 * 1024  # of one header's raw value; a longer one is read cut short
MAX_HEADERS = 1_000  # header fields of one part; a long delivery path has a hundred
MAX_EXPANDED_BYTES = MAX_UNCOMPRESSED_BYTES  # inflated from all the zips of one mail
INLINE_IMAGE_BYTES = 32 * 1024  # an inline image this small is a logo, skipped silently

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM_TYPE = "application/vnd.ms-excel.sheet.macroenabled.12"
XLS_TYPE = "application/vnd.ms-excel"
DATA_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".csv", ".json")
ZIP_EXTENSION = ".zip"
# Declared type → extension, for a file whose name has none (or that has no name).
DATA_TYPES = {
    XLSX_TYPE: ".xlsx",
    XLSM_TYPE: ".xlsm",
    XLS_TYPE: ".xls",
    "application/excel": ".xls",
    "application/x-excel": ".xls",
    "application/x-msexcel": ".xls",
    "text/csv": ".csv",
    "application/csv": ".csv",
    "text/comma-separated-values": ".csv",
    "application/json": ".json",
    "text/json": ".json",
}
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}
# What a zip member is declared as: it has no type of its own.
EXTENSION_TYPES = {
    ".xlsx": XLSX_TYPE,
    ".xlsm": XLSM_TYPE,
    ".xls": XLS_TYPE,
    ".csv": "text/csv",
    ".json": "application/json",
}
# Names made up for files that came without one: the type's usual extension.
OTHER_TYPES = {
    "application/pdf": ".pdf",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/ms-tnef": ".dat",
    "application/vnd.ms-tnef": ".dat",
    "message/rfc822": ".eml",
    "text/plain": ".txt",
    "text/html": ".html",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
}
# Parts that are part of the mail, not of what was sent: signatures and their keys.
SIGNATURE_TYPES = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
    "application/pgp-keys",
}
ENCRYPTED_TYPES = {
    "application/pkcs7-mime",
    "application/x-pkcs7-mime",
    "application/pgp-encrypted",
}
ARCHIVE_EXTENSIONS = (".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz")
# What a kind of file is called, for the reason a liaison reads.
KINDS = {
    ".pdf": "PDF 文件",
    ".doc": "Word 文档",
    ".docx": "Word 文档",
    ".wps": "WPS 文字文档",
    ".et": "WPS 表格文档",
    ".ppt": "演示文稿",
    ".pptx": "演示文稿",
    ".txt": "文本文件",
    ".eml": "邮件文件",
    ".html": "网页",
    ".htm": "网页",
}
GB_CHARSETS = {"gb2312", "gbk", "cp936", "x-gbk", "gb_2312-80", "euc-cn", "x-gb2312", "gb18030"}

# Why a mail is refused whole (Chinese: the receipt and the office read it).
TOO_LARGE = "邮件过大（约 {size} MB，超过 40 MB），未读取。请将附件压缩为 .zip，或分几封邮件发送"
TOO_MANY_LINES = (
    "邮件格式异常（超过 100 万行），未读取。请重新发送，或将填报表作为附件单独发送一封邮件"
)
TOO_MANY_PARTS = (
    f"邮件包含的部分过多（超过 {MAX_PARTS} 个），未读取。"
    f"请分几封邮件发送，每封邮件的附件不超过 {MAX_ATTACHMENTS} 个"
)
TOO_DEEP = (
    f"邮件嵌套层次过多（超过 {MAX_DEPTH} 层，如多次转发），未读取。"
    "请将填报表直接作为附件发送，不要层层转发"
)
TOO_MANY_ATTACHMENTS = (
    f"附件过多（超过 {MAX_ATTACHMENTS} 个），未读取。"
    f"请分批发送，每封邮件的附件（含压缩包内的文件）不超过 {MAX_ATTACHMENTS} 个"
)
TOO_MANY_HEADERS = (
    f"邮件格式异常（邮件头超过 {MAX_HEADERS} 行），未读取。"
    "请重新发送，或将填报表作为附件单独发送一封邮件"
)
MALFORMED = "邮件格式异常，无法读取。请重新发送，或将填报表作为附件单独发送一封邮件"

# Why one file in a mail was not read (Chinese, for the receipt).
ZIP_REFUSALS = {
    "broken": "压缩包已损坏，无法打开。请重新压缩后发送，或直接将填报表作为附件发送",
    "entries": "压缩包内的文件过多，疑似恶意文件，已拒收",
    "uncompressed": "压缩包解压后过大（超过 100 MB），已拒收。请只压缩填报表后重新发送",
    "ratio": "压缩包压缩比异常，疑似恶意文件，已拒收",
}
# What desktops and archivers leave in a zip beside the files (Office's ~$ owner files,
# macOS's ._ forks and .DS_Store, temporary files): inbox.SKIPPED_NAMES's rule, written
# again because importing the inbox brings the database models with it.
LEFTOVER_NAMES = re.compile(r"^(~\$|\.|~)|\.(tmp|part|crdownload|swp)$", re.IGNORECASE)
BROKEN_MEMBER = "文件已损坏，无法从压缩包中取出。请重新压缩，或直接将填报表作为附件发送"
ZIP_BOUNDS = ZipBounds(
    entries=MAX_ZIP_ENTRIES, uncompressed=MAX_UNCOMPRESSED_BYTES, ratio=MAX_COMPRESSION_RATIO
)


@dataclass(frozen=True)
class Attachment:
    """A data file found in a mail.

    ``content_type`` is as declared, lower case (a zip member's, by its extension);
    ``within`` says where it was found, for a person: "" (attached to the mail),
    转发的邮件“…” or 压缩包“….zip”.
    """

    name: str
    data: bytes
    content_type: str
    within: str


@dataclass(frozen=True)
class Skipped:
    """A file in a mail that was not read, and why (Chinese, for the receipt)."""

    name: str
    reason: str


@dataclass
class Letter:
    """What one mail says about itself, and the files it carries.

    ``automatic`` says why this is an automatic message (an auto-reply, a bounce) that must
    never be answered (English, for the log); "" when a person wrote it. ``headers`` are the
    top-level headers alone, as received (for ``authentication``).
    """

    message_id: str
    sender: str
    sender_name: str
    subject: str
    sent_at: datetime | None
    in_reply_to: str
    references: list[str]
    automatic: str
    attachments: list[Attachment] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    headers: Message = field(default_factory=Message)


def read_letter(raw: bytes) -> Letter:
    """Total: a Letter, or MailRefused; never another exception, whatever the bytes."""
    try:
        return _read(bytes(raw))
    except MailRefused:
        raise
    except Exception as error:  # a fault of ours on hostile bytes: refused, with its cause
        raise MailRefused(MALFORMED) from error


def _read(raw: bytes) -> Letter:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MailRefused(TOO_LARGE.format(size=len(raw) // 1024 // 1024))
    if raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n") > MAX_LINES:
        raise MailRefused(TOO_MANY_LINES)
    message = _parse(raw)
    files, parts, depth = _survey(message)
    if sum(1 for found in files if found.counts) > MAX_ATTACHMENTS:
        raise MailRefused(TOO_MANY_ATTACHMENTS)
    if parts > MAX_PARTS:
        raise MailRefused(TOO_MANY_PARTS)
    if depth > MAX_DEPTH:
        raise MailRefused(TOO_DEEP)
    letter = _letter(message)
    budget = [MAX_EXPANDED_BYTES]
    for found in files:
        attachments, skipped = _take(found, budget)
        letter.attachments += attachments
        letter.skipped += skipped
    if len(letter.attachments) > MAX_ATTACHMENTS:
        raise MailRefused(TOO_MANY_ATTACHMENTS)
    return letter


class _TooManyParts(Exception):
    pass


def _parse(raw: bytes) -> Message:
    """The message tree, parsing stopped once it holds more than ``PARSED_PARTS`` parts."""
    count = [0]

    class Part(Message):
        def __init__(self, policy: object = compat32):
            count[0] += 1
            if count[0] > PARSED_PARTS:
                raise _TooManyParts
            super().__init__(policy)  # type: ignore[arg-type]

    parser = BytesFeedParser(Part, policy=compat32)
    count[0] = 0  # the parser made one to learn how to call the factory
    try:
        parser.feed(raw)
        return parser.close()
    except _TooManyParts:
        raise MailRefused(TOO_MANY_PARTS) from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise MailRefused(TOO_DEEP) from None


# --- the parts --------------------------------------------------------------------------------


@dataclass
class _Found:
    """A leaf part that is a file, classified by its headers alone (nothing decoded yet)."""

    part: Message
    name: str
    content_type: str
    extension: str
    within: str
    kind: str  # data, zip, sniff (no extension, a generic type), or skip
    reason: str = ""

    @property
    def counts(self) -> bool:
        return self.kind != "skip"


def _survey(message: Message) -> tuple[list[_Found], int, int]:
    """The files of the message in order, how many parts it has and how deep it nests."""
    files: list[_Found] = []
    parts = 0
    deepest = 0
    stack: list[tuple[Message, int, str]] = [(message, 0, "")]
    while stack:
        part, depth, within = stack.pop()
        parts += 1
        if len(part) > MAX_HEADERS:
            raise MailRefused(TOO_MANY_HEADERS)
        if part.is_multipart():
            payload = part.get_payload()  # the list of parts, as is
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                continue
            content_type = _content_type(part)
            if content_type in ("message/rfc822", "message/global") and payload:
                inner = payload[0]
                if isinstance(inner, Message):
                    forwarded = _short(_subject(inner), 60) or "无主题"
                    within = _join(within, f"转发的邮件“{forwarded}”")
            elif content_type == "message/delivery-status":
                parts += len(payload)
                continue  # the report's own fields: headers, never files
            children = [child for child in payload if isinstance(child, Message)]
            stack += [(child, depth, within) for child in reversed(children)]
            continue
        found = _file(part, within, len(files) + 1)
        if found is not None:
            files.append(found)
    return files, parts, deepest


def _join(outer: str, inner: str) -> str:
    return f"{outer}中的{inner}" if outer else inner


def _file(part: Message, within: str, number: int) -> _Found | None:
    """The leaf as a file, or None for what belongs to the mail itself (its text, a logo)."""
    content_type = _content_type(part)
    disposition = _first_token(_raw(part, "Content-Disposition"))
    name = _file_name(part)
    if not name and disposition != "attachment":
        if content_type.startswith(("text/", "multipart/")) and content_type not in DATA_TYPES:
            return None  # the body, in whichever form
        if content_type.startswith("message/"):
            return None  # a report's headers or fields
    if content_type in SIGNATURE_TYPES:
        return None
    if (
        content_type.startswith("image/")
        and _raw(part, "Content-ID")
        and disposition in ("inline", "")
        and _encoded_size(part) <= INLINE_IMAGE_BYTES
    ):
        return None  # a logo in the signature
    extension = _extension(name)
    if not name:
        extension = DATA_TYPES.get(content_type, "")
        if not extension and content_type in ZIP_TYPES:
            extension = ZIP_EXTENSION
        extension = extension or OTHER_TYPES.get(content_type, "")
        name = f"附件{number}{extension}"
    found = _Found(part, name, content_type, extension, within, "skip")
    if extension in DATA_EXTENSIONS:
        found.kind = "data"
    elif extension == ZIP_EXTENSION:
        found.kind = "zip"
    elif not extension and content_type in DATA_TYPES:
        found.kind = "data"
    elif not extension and content_type in ZIP_TYPES:
        found.kind = "zip"
    elif not extension and content_type in ("application/octet-stream", ""):
        found.kind = "sniff"
    else:
        found.reason = _not_data(name, extension, content_type)
    return found


def _not_data(name: str, extension: str, content_type: str) -> str:
    """Why a file is not read, for the liaison: what it is and what to send instead."""
    if name.lower() == "winmail.dat" or content_type in (
        "application/ms-tnef",
        "application/vnd.ms-tnef",
    ):
        return (
            "这是 Outlook 以 RTF 格式发送的附件包（winmail.dat），无法读取。"
            "请在 Outlook 中将邮件格式改为“HTML”或“纯文本”后重新发送"
        )
    if content_type in ENCRYPTED_TYPES or extension == ".p7m":
        return "邮件已加密，无法读取。请不加密重新发送"
    if extension in ARCHIVE_EXTENSIONS:
        return (
            f"不支持的压缩格式（{extension}），未读取。请改用 .zip 压缩，或直接将填报表作为附件发送"
        )
    if content_type.startswith("image/"):
        what = f"图片（{extension}）" if extension else "图片"
        return f"不是填报表格式（{what}），未读取。请将填报表（.xlsx）作为附件发送"
    kind = KINDS.get(extension, "")
    what = f"{kind}，{extension}" if kind else (extension or content_type or "未知类型")
    return f"不是填报表格式（{what}），未读取"


def _take(found: _Found, budget: list[int]) -> tuple[list[Attachment], list[Skipped]]:
    """The attachments a file gives (itself, or what its zip holds) and what was skipped."""
    if found.kind == "skip":
        return [], [Skipped(found.name, _where(found.reason, found.within))]
    data = _payload(found.part)
    if found.kind == "sniff":
        if data.startswith(OLE2_MAGIC) or _is_workbook(data):
            found.kind = "data"
            found.name += ".xls" if data.startswith(OLE2_MAGIC) else ".xlsx"
        elif data.startswith(ZIP_MAGIC):
            found.kind = "zip"
        else:
            reason = "无法识别的文件类型，未读取。请报送 .xlsx 工作簿，或 .csv、.json 数据文件"
            return [], [Skipped(found.name, _where(reason, found.within))]
    if found.kind == "zip" and not _is_workbook(data):
        return _unzip(data, found.name, found.within, budget)
    return [Attachment(found.name, data, found.content_type, found.within)], []


def _where(reason: str, within: str) -> str:
    return f"{reason}（位于{within}）" if within else reason


def _is_workbook(data: bytes) -> bool:
    """An .xlsx is itself a zip, never to be expanded: it has ``[Content_Types].xml``."""
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError, OSError):
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def _payload(part: Message) -> bytes:
    """The part's decoded bytes: bad base64 decodes as far as it can."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _encoded_size(part: Message) -> int:
    """About how many bytes the part holds, without decoding it."""
    try:
        payload = part.get_payload()  # compat32 decodes 8-bit text by its declared charset
    except (ValueError, LookupError, TypeError):  # a charset with a NUL in its name
        return MAX_PAYLOAD_BYTES
    return len(payload) * 3 // 4 if isinstance(payload, str) else 0


# --- zips ---------------------------------------------------------------------------------------


def _unzip(
    data: bytes, name: str, outer: str, budget: list[int]
) -> tuple[list[Attachment], list[Skipped]]:
    """The data files of an attached zip, bounded by what it declares before inflating."""
    try:
        check_zip(data, ZIP_BOUNDS)
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZipRefused as refused:
        reason = ZIP_REFUSALS.get(refused.bound, ZIP_REFUSALS["broken"])
        return [], [Skipped(name, _where(reason, outer))]
    except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError, OSError):
        return [], [Skipped(name, _where(ZIP_REFUSALS["broken"], outer))]
    within = _join(outer, f"压缩包“{name}”")
    with archive:
        if "[Content_Types].xml" in archive.namelist():  # a Word or PowerPoint file, zipped
            reason = "不是填报表格式（Word 或 PowerPoint 文档），未读取"
            return [], [Skipped(name, _where(reason, outer))]
        members = [
            (info, _member_name(info))
            for info in archive.infolist()
            if not info.is_dir() and not _leftover(info.filename)
        ]
        if len(members) > MAX_ZIP_FILES:
            reason = f"压缩包中的文件过多（超过 {MAX_ZIP_FILES} 个），未读取。请分批发送"
            return [], [Skipped(name, _where(reason, outer))]
        taken: list[Attachment] = []
        skipped: list[Skipped] = []
        for info, member in members:
            extension = _extension(member)
            if extension not in DATA_EXTENSIONS:
                if extension == ZIP_EXTENSION or extension in ARCHIVE_EXTENSIONS:
                    reason = "压缩包中的压缩包未打开。请解压后直接将填报表作为附件发送"
                else:
                    reason = _not_data(member, extension, "")
                skipped.append(Skipped(member, _where(reason, within)))
                continue
            reason = _unreadable(info, budget[0])
            if not reason:
                try:
                    content = archive.read(info)
                except Exception:  # BadZipFile, zlib.error, an unknown method: a broken member
                    reason = BROKEN_MEMBER
                else:
                    budget[0] -= info.file_size
                    taken.append(Attachment(member, content, EXTENSION_TYPES[extension], within))
                    continue
            skipped.append(Skipped(member, _where(reason, within)))
    return taken, skipped


def _unreadable(info: zipfile.ZipInfo, budget: int) -> str:
    """Why a member is not inflated, or "": decided by what the archive declares."""
    if info.flag_bits & 0x1:
        return "文件设置了密码，无法读取。请取消压缩包密码后重新发送"
    if info.file_size > MAX_PAYLOAD_BYTES:
        size = info.file_size // 1024 // 1024
        return f"文件过大（{size} MB），单个文件不得超过 20 MB"
    if info.file_size > budget:
        return "压缩包解压后总量过大（超过 100 MB），未读取。请只压缩填报表，或分批发送"
    return ""


def _leftover(path: str) -> bool:
    """What an archiver or a desktop leaves beside the files: never meant to be sent."""
    parts = re.split(r"[/\\]", path)
    return "__MACOSX" in parts or bool(LEFTOVER_NAMES.search(parts[-1]))


def _member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name: UTF-8 when flagged, else what Chinese Windows wrote (CP936)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        name = _eight_bit(name.encode("cp437", "replace"))  # zipfile read it as CP437
    return _safe_name(name) or "unnamed"


# --- names --------------------------------------------------------------------------------------


def _file_name(part: Message) -> str:
    """The decoded file name, from Content-Disposition's filename, else Content-Type's name."""
    for header, key in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        value = _parameter(_raw(part, header) or "", key)
        name = _safe_name(value)
        if name:
            return name
    return ""


def _safe_name(name: str) -> str:
    """A name without a path, fit to show and store; "" if nothing is left."""
    base = re.split(r"[/\\]", name.replace("\x00", ""))[-1].strip()
    if base.strip(". ") == "":
        return ""
    extension = _extension(base)
    stem = base[: len(base) - len(extension)] if extension else base
    limit = 120 - len(extension)
    return display_name(stem, limit) + extension if stem.strip() else display_name(base)


def _extension(name: str) -> str:
    """The extension, lower case; digits alone are not one ("填报表3.5" is dated, not typed)."""
    match = re.search(r"\.(?=[0-9]*[A-Za-z])[A-Za-z0-9]{1,8}$", name.strip())
    return match.group().lower() if match else ""


def _parameter(header: str, key: str) -> str:
    """A parameter of a structured header, decoded: RFC 2231 (continued or not), else
    RFC 2047 encoded words or raw 8-bit bytes (UTF-8 or GBK) in a plain value."""
    plain: str | None = None
    extended: dict[int, tuple[str, bool]] = {}
    for segment in _segments(_unfold(header))[1:]:
        name, equals, value = segment.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not equals:
            continue
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1] if value.endswith('"') else value[1:])
        if name == key:
            plain = value if plain is None else plain
            continue
        parts = re.fullmatch(re.escape(key) + r"\*(?:(\d{1,3})(\*)?|)", name)
        if parts is None:
            continue
        if parts.group(1) is None:  # filename*=charset'lang'text
            extended.setdefault(0, (value, True))
        else:
            extended.setdefault(int(parts.group(1)), (value, bool(parts.group(2))))
    if extended:
        return _rfc2231([extended[number] for number in sorted(extended)])
    return _words(_eight_bit(_raw_bytes(plain))) if plain is not None else ""


def _segments(text: str) -> list[str]:
    """The text split at semicolons outside quoted strings (in one pass: a regex would
    backtrack over a header of unterminated quotes)."""
    segments: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            segments.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    segments.append("".join(current).strip())
    return segments


def _rfc2231(segments: list[tuple[str, bool]]) -> str:
    charset = ""
    data = b""
    for index, (value, encoded) in enumerate(segments):
        if encoded and index == 0 and value.count("'") >= 2:
            charset, _, value = value.split("'", 2)
        if encoded:
            data += unquote_to_bytes(_raw_bytes(value))
        else:
            data += _raw_bytes(value)
    return _decode(data, charset)


# --- headers ------------------------------------------------------------------------------------


def _letter(message: Message) -> Letter:
    headers = Message(compat32)
    for name, value in message.raw_items():
        headers.set_raw(name, value)
    sender, sender_name = _sender(message)
    subject = _short(_subject(message), 300)
    return Letter(
        message_id=next(iter(_message_ids(_raw(message, "Message-ID") or "")), ""),
        sender=sender,
        sender_name=_short(sender_name, 100),
        subject=subject,
        sent_at=_date(_raw(message, "Date")),
        in_reply_to=next(iter(_message_ids(_raw(message, "In-Reply-To") or "")), ""),
        references=_message_ids(_raw(message, "References") or "")[-20:],
        automatic=_automatic(message, sender, subject),
        headers=headers,
    )


def _raw(part: Message, name: str) -> str | None:
    """The first header of that name, raw (8-bit bytes as surrogates), cut to a bound."""
    wanted = name.lower()
    for key, value in part.raw_items():
        if key.lower() == wanted:
            return value[:MAX_HEADER_CHARS] if isinstance(value, str) else None
    return None


def _all_raw(part: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [
        value[:MAX_HEADER_CHARS]
        for key, value in part.raw_items()
        if key.lower() == wanted and isinstance(value, str)
    ]


def _raw_bytes(text: str) -> bytes:
    """The bytes a header's text stood for: the parser keeps 8-bit bytes as surrogates."""
    return text.encode("utf-8", "surrogateescape")


def _eight_bit(data: bytes) -> str:
    """Raw header bytes as text: UTF-8, else GBK (as GB18030, which covers it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", "replace")


def _decode(data: bytes, charset: str) -> str:
    """Bytes in a declared charset: GB2312 and GBK as GB18030; an unknown one as raw."""
    label = charset.strip().lower().split("*")[0]
    if label in GB_CHARSETS:
        label = "gb18030"
    if not re.fullmatch(r"[a-z0-9_.:-]{1,40}", label):
        return _eight_bit(data)
    try:
        return data.decode(label)
    except (LookupError, UnicodeDecodeError):
        return _eight_bit(data)


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])|\r(?=[ \t])", "", text)


_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t\r\n]+(?==\?)")


def _words(text: str) -> str:
    """Text with its RFC 2047 encoded words decoded; adjacent words of one charset are
    joined before decoding, as clients split a character's bytes across them."""
    text = _BETWEEN_WORDS.sub("", _unfold(text))
    pieces: list[str] = []
    position = 0
    run: list[tuple[str, bytes]] = []
    for match in _ENCODED_WORD.finditer(text):
        if match.start() != position:
            pieces.append(_flush(run))
            pieces.append(text[position : match.start()])
        charset, kind, data = match.groups()
        decoded = _b(data) if kind in "bB" else _q(data)
        if run and run[-1][0] == charset.lower():
            run[-1] = (charset.lower(), run[-1][1] + decoded)
        else:
            pieces.append(_flush(run))
            run.append((charset.lower(), decoded))
        position = match.end()
    pieces.append(_flush(run))
    pieces.append(text[position:])
    return "".join(pieces)


def _flush(run: list[tuple[str, bytes]]) -> str:
    text = "".join(_decode(data, charset) for charset, data in run)
    run.clear()
    return text


def _b(data: str) -> bytes:
    data = re.sub(r"[^A-Za-z0-9+/]", "", data)
    data = data[: len(data) - 1] if len(data) % 4 == 1 else data
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return b""


def _q(data: str) -> bytes:
    raw = _raw_bytes(data.replace("_", " "))
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda match: bytes([int(match.group(1), 16)]), raw)


def _text(raw: str | None) -> str:
    """A header's value as one line of text a person can read."""
    if raw is None:
        return ""
    return " ".join(clean_text(_words(_eight_bit(_raw_bytes(raw)))).split())


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _subject(message: Message) -> str:
    return _text(_raw(message, "Subject"))


def _first_token(raw: str | None) -> str:
    return (raw or "").split(";")[0].strip().lower()


_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


def _content_type(part: Message) -> str:
    declared = _first_token(_raw(part, "Content-Type"))
    # RFC 2045: a missing or unreadable type is text/plain
    return declared if _TYPE.fullmatch(declared) else "text/plain"


_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+")


def _sender(message: Message) -> tuple[str, str]:
    """The From address (lower case) and display name: "" for none, several, or a forgery."""
    values = _all_raw(message, "From")
    if len(values) != 1:
        return "", ""  # two From headers: which one a client shows is a guess
    text = " ".join(clean_text(_eight_bit(_raw_bytes(values[0]))).split())
    if len(text) > 1000:
        return "", ""
    addresses = [pair for pair in getaddresses([text]) if pair != ("", "")]
    if len(addresses) != 1:
        return "", ""
    name, address = addresses[0]
    name = " ".join(clean_text(_words(name)).split())
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        return "", name
    return address.lower(), name


def _message_ids(raw: str) -> list[str]:
    """The message ids of a header, without <>: each <…>, else the bare words."""
    text = clean_text(_unfold(raw)).replace("\r", "").replace("\n", " ")
    found = re.findall(r"<([^<>]*)>", text) or text.split()
    return [_short(found_id.strip(), 255) for found_id in found if found_id.strip()]


def _date(raw: str | None) -> datetime | None:
    """The Date header, aware (a date without a zone is taken as UTC); None if unreadable."""
    if not raw:
        return None
    try:
        sent = parsedate_to_datetime(" ".join(clean_text(_unfold(raw)).split()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)


AUTOMATIC_SUBJECTS = re.compile(
    r"^(自动回复|自动答复|auto[- ]?reply|automatic reply|out of (the )?office|休假|不在办公室)",
    re.IGNORECASE,
)
REPLY_PREFIX = re.compile(r"^\s*(re|回复|答复)\s*[:：]\s*", re.IGNORECASE)


def _automatic(message: Message, sender: str, subject: str) -> str:
    """Why this is an automatic message never to be answered (English), or ""."""
    submitted = _first_token(_raw(message, "Auto-Submitted"))
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted[:40]}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _raw(message, name)
        if value is not None and _first_token(value) != "no":
            return f"{name}: {_text(value)[:40]}"
    precedence = _first_token(_raw(message, "Precedence"))
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    if _content_type(message) == "multipart/report":
        return "a delivery report (multipart/report)"
    if sender.split("@")[0] in ("mailer-daemon", "postmaster"):
        return f"from {sender}"
    if (_raw(message, "Return-Path") or "").strip() == "<>":
        return "a null return path (Return-Path: <>), as bounces have"
    stripped = subject
    while (shorter := REPLY_PREFIX.sub("", stripped, count=1)) != stripped:
        stripped = shorter
    found = AUTOMATIC_SUBJECTS.match(stripped.strip())
    if found:
        return f"the subject begins {found.group()!r}"
    return ""


# --- authentication -----------------------------------------------------------------------------


def authentication(letter: Letter, authserv_id: str) -> str:
    """The verdict of the office's own mail server on the sender (RFC 8601
    Authentication-Results): "pass", "fail", or "none" when it left no such header.

    Only the topmost header of ``authserv_id`` counts (anyone can write one of another
    id, or one below the office's). dmarc=pass passes and dmarc=fail fails; without a
    DMARC verdict, spf=pass or dkim=pass passes only for a domain aligned with the From
    address (smtp.mailfrom, header.d): an unaligned pass proves a sender's own domain,
    not the one in ``From``, which is what a forger relies on.
    """
    wanted = authserv_id.strip().lower()
    for value in _all_raw(letter.headers, "Authentication-Results"):
        server, results = _results(_eight_bit(_raw_bytes(value)))
        if server == wanted:
            return _verdict(results, letter.sender.rpartition("@")[2])
    return "none"


def _results(text: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """(authserv-id, [(method, result, properties)]) of one Authentication-Results value."""
    segments = _segments(_without_comments(_unfold(text)))
    server = segments[0].split()[0].lower() if segments and segments[0].split() else ""
    results: list[tuple[str, str, dict[str, str]]] = []
    for segment in segments[1:]:
        words = segment.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        properties: dict[str, str] = {}
        for word in words[1:]:
            key, equals, value = word.partition("=")
            if equals:
                properties.setdefault(key.lower(), value.strip('"').lower())
        results.append((method.split("/")[0].lower(), result.strip('"').lower(), properties))
    return server, results


def _without_comments(text: str) -> str:
    """The text without its (comments), which may nest; quoted strings are kept."""
    kept: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                kept.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                kept.append(char)
        elif quoted:
            quoted = char != '"'
            kept.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            quoted = char == '"'
            kept.append(char)
    return "".join(kept)


def _verdict(results: list[tuple[str, str, dict[str, str]]], domain: str) -> str:
    dmarc = [(result, properties) for method, result, properties in results if method == "dmarc"]
    if any(result == "fail" for result, _ in dmarc):
        return "fail"
    for result, properties in dmarc:
        if result == "pass" and properties.get("header.from", domain) == domain:
            return "pass"
    for method, result, properties in results:
        if result != "pass" or not domain:
            continue
        if method == "spf":
            aligned = properties.get("smtp.mailfrom", "").rpartition("@")[2]
        elif method == "dkim":
            aligned = (
                properties.get("header.d") or properties.get("header.i", "").rpartition("@")[2]
            )
        else:
            continue
        if aligned and _aligned(aligned, domain):
            return "pass"
    return "fail"


def _aligned(one: str, other: str) -> bool:
    """Relaxed alignment, approximated: one domain is the other or a subdomain of it."""
    return one == other or one.endswith("." + other) or other.endswith("." + one)
