"""Text as people send it: one decoding policy for the bytes of submissions, program files
and holiday notices, and one way to compare the headers they type.

What Chinese desktops save: UTF-8 (with or without a byte-order mark), UTF-16 in either
byte order (Excel's "Unicode text", with or without a mark), and GBK, read as GB18030,
which covers it. Anything else is refused with ``UndecodableText``; each caller says so
in its own words, and where (``start``, the first byte that does not read).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from pilot_tracker.errors import UndecodableText

UTF8_BOM = b"\xef\xbb\xbf"
# Unicode noncharacters: never in text, common when binary bytes are read as UTF-16.
_NONCHARACTER = re.compile("[\ufdd0-\ufdef\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")
_SNIFFED = 4096  # bytes looked at for UTF-16, characters for noncharacters


def decode_text(data: bytes) -> str:
    """The text of ``data``: UTF-16 when its mark or its zero bytes say so, else UTF-8
    (a byte-order mark is dropped), else GB18030; ``UndecodableText`` otherwise."""
    utf16 = _utf16(data)
    if utf16 is not None:
        encoding, mark = utf16
        try:
            text = data[mark:].decode(encoding)
        except UnicodeDecodeError as error:
            raise UndecodableText(mark + error.start) from None
        found = _NONCHARACTER.search(text, 0, _SNIFFED)
        if found:
            raise UndecodableText(mark + 2 * found.start())  # binary read as UTF-16
        return text
    mark = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    try:
        return data[mark:].decode("utf-8")
    except UnicodeDecodeError as error:
        first = mark + error.start
    try:
        return data[mark:].decode("gb18030")
    except UnicodeDecodeError:
        raise UndecodableText(first) from None


def _utf16(data: bytes) -> tuple[str, int] | None:
    """(encoding, length of its byte-order mark) if the bytes look like UTF-16.

    Without a mark, the zero bytes tell: the ASCII of a CSV (separators, line breaks,
    codes, digits) has a zero high byte, on odd offsets in little-endian order and on even
    ones in big-endian; UTF-8 and GB18030 text never holds a zero byte.
    """
    if data.startswith(b"\xff\xfe"):
        return "utf-16-le", 2
    if data.startswith(b"\xfe\xff"):
        return "utf-16-be", 2
    sample = data[:_SNIFFED]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    enough = max(4, len(sample) // 40)
    if odd >= enough and odd > 10 * even:
        return "utf-16-le", 0
    if even >= enough and even > 10 * odd:
        return "utf-16-be", 0
    return None


def header_key(text: Any) -> str:
    """A header as compared, wherever it was typed (a submission, a ledger workbook, a
    holiday CSV): full-width as half-width (NFKC: （） as (), ： as :), no spaces or line
    breaks, no trailing colon, lower case. Written any of these ways, it is one header."""
    return _header_key(str(text)) if text is not None and text != "" else ""


@lru_cache(maxsize=4096)
def _header_key(text: str) -> str:
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text)).rstrip(":").lower()
