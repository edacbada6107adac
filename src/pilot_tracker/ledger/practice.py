"""A district office's account of its practice (经验做法) for a quarter or a half year: the
text its city's work bulletin prints under the pilot's figures (``reports/bulletin.py``).

The office sends it as a text or Markdown file, one paragraph a line, and the bulletin
prints it verbatim; nothing in it is rewritten, and what it says is escaped wherever it is
printed. The little Markdown read is what a district's 简报 article has:

    # 团海曙区委：“菁英计划”实现青年发展阶梯式支持      ← the article's headline (first line)
    自海曙区青年工作联席会议制度建立以来，……            ← a paragraph
    **一、探索“020 式”青年引进，拓展智慧服务。**联合……  ← a paragraph with a bold lead-in
    ## 下一步工作                                    ← a heading inside the article

Anything else (asterisks elsewhere, list marks, links) is printed as written. An account is
bounded (``MAX_ACCOUNT_BYTES``, ``MAX_LINES``, ``MAX_LINE``) and refused whole, each problem
with its line, where it holds characters no document should (controls, bidirectional
overrides) or nothing at all. Loading an account again for the same period replaces it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from pilot_tracker import periods
from pilot_tracker.errors import (
    AccountRefused,
    NotFoundError,
    PracticeFileError,
    Problem,
    ReportError,
    UndecodableText,
)
from pilot_tracker.ledger import store
from pilot_tracker.models import PracticeAccount, Program
from pilot_tracker.text import decode_text

MAX_ACCOUNT_BYTES = 256 * 1024  # a district's article is two or three pages
MAX_LINES = 2000
MAX_LINE = 10_000  # characters in one paragraph
MAX_TITLE = 100
SUFFIXES = (".md", ".markdown", ".txt")

_LEAD = re.compile(r"^\*\*(?P<lead>[^*](?:.*?[^*])?)\*\*(?P<rest>.*)$")
_HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
# Characters no document should carry: controls (a tab is a space here) and the
# bidirectional overrides that would show a line in another order than it is stored.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


@dataclass(frozen=True)
class Block:
    """A paragraph of an account, with its bold lead-in where it has one, or a heading."""

    text: str
    lead: str = ""
    heading: bool = False


@dataclass(frozen=True)
class Account:
    """A district's account for a period, read into its headline and blocks."""

    program: str
    period: str
    title: str
    blocks: tuple[Block, ...]
    source_name: str = ""


def read_account_file(path: Path) -> str:
    """The text of an account's file: bounded, decoded by the text policy (UTF-8, UTF-16 or
    GBK), its lines checked (``problems``); ``PracticeFileError`` with every problem."""
    name = path.name
    if path.suffix.lower() not in SUFFIXES:
        raise PracticeFileError(
            name,
            [Problem("", f"an account is a text or Markdown file ({', '.join(SUFFIXES)})")],
        )
    try:
        if not path.is_file():
            raise PracticeFileError(name, [Problem("", f"no such file: {path}")])
        size = path.stat().st_size
        if size > MAX_ACCOUNT_BYTES:
            raise PracticeFileError(
                name,
                [
                    Problem(
                        "",
                        f"the file is {size:,} bytes, more than the {MAX_ACCOUNT_BYTES:,} "
                        "allowed for one district's account; send the article alone",
                    )
                ],
            )
        data = path.read_bytes()
    except OSError as error:
        problem = Problem("", f"cannot read {path}: {error.strerror}")
        raise PracticeFileError(name, [problem]) from None
    try:
        text = decode_text(data)
    except UndecodableText as error:
        raise PracticeFileError(
            name,
            [
                Problem(
                    f"byte {error.start}",
                    "the file is not UTF-8, UTF-16 or GBK text; save it as UTF-8 "
                    "(另存为 → 编码 UTF-8) and load it again",
                )
            ],
        ) from None
    text = normalised(text)
    problems = check_text(text)
    if problems:
        raise PracticeFileError(name, problems)
    return text


def normalised(text: str) -> str:
    """Line ends as newlines, no byte-order mark, no trailing spaces on a line."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


@dataclass(frozen=True)
class Finding:
    """One thing wrong with an account's text: ``kind`` (empty, lines, long_line,
    character, title), where (``line``, ``column``), and the number it is about (how many
    lines or characters, or the character's code point)."""

    kind: str
    line: int = 0
    column: int = 0
    value: int = 0

    @property
    def problem(self) -> Problem:
        """The finding for the command line."""
        if self.kind == "empty":
            return Problem(
                "", "the account is empty; write the district's practice, one paragraph a line"
            )
        if self.kind == "lines":
            return Problem("", f"{self.value:,} lines, more than the {MAX_LINES:,} allowed")
        if self.kind == "long_line":
            return Problem(
                f"line {self.line}",
                f"{self.value:,} characters in one paragraph, more than {MAX_LINE:,}",
            )
        if self.kind == "title":
            return Problem(
                "line 1", f"the headline has {self.value} characters, more than {MAX_TITLE}"
            )
        return Problem(
            f"line {self.line}, column {self.column}",
            f"the character U+{self.value:04X} has no place in a document; "
            "delete it and load the file again",
        )

    @property
    def chinese(self) -> str:
        """The finding for the board, in Chinese."""
        if self.kind == "empty":
            return "经验做法为空。请按“一段一行”填写本期经验做法。"
        if self.kind == "lines":
            return f"共{self.value}行，超过{MAX_LINES}行的上限。"
        if self.kind == "long_line":
            return f"第{self.line}行有{self.value}个字，超过每段{MAX_LINE}字的上限。"
        if self.kind == "title":
            return f"第1行的标题有{self.value}个字，超过{MAX_TITLE}字的上限。"
        return (
            f"第{self.line}行第{self.column}个字符（U+{self.value:04X}）不能用于公文，"
            "请删除后再保存。"
        )


def findings(text: str) -> list[Finding]:
    """Everything wrong with an account's text, each with its line (and column)."""
    if not text.strip():
        return [Finding("empty")]
    lines = text.split("\n")
    found: list[Finding] = []
    if len(lines) > MAX_LINES:
        found.append(Finding("lines", value=len(lines)))
    for number, line in enumerate(lines[:MAX_LINES], start=1):
        if len(line) > MAX_LINE:
            found.append(Finding("long_line", line=number, value=len(line)))
        for column, character in enumerate(line, start=1):
            if character == "\t":
                continue
            if character in _BIDI or unicodedata.category(character) in ("Cc", "Cs", "Co"):
                found.append(Finding("character", line=number, column=column, value=ord(character)))
                break
        if len(found) >= 20:
            break
    title = title_of(text)
    if title is not None and len(title) > MAX_TITLE:
        found.append(Finding("title", line=1, value=len(title)))
    return found


def check_text(text: str) -> list[Problem]:
    """Every problem of an account's text, for the command line."""
    return [finding.problem for finding in findings(text)]


def title_of(text: str) -> str | None:
    """The headline: the first non-empty line where it is a level-one heading (# …)."""
    for line in text.split("\n"):
        if line.strip():
            match = _HEADING.match(line.strip())
            return match["text"] if match and len(match["marks"]) == 1 else None
    return None


def parse(text: str, *, program: str = "", period: str = "", source_name: str = "") -> Account:
    """An account's headline and blocks: one paragraph a non-empty line (leading spaces and
    full-width indents dropped, the layout indents), a bold lead-in where a paragraph opens
    with **…**, a heading where a line is a Markdown heading."""
    title = title_of(text) or ""
    blocks: list[Block] = []
    seen_title = not title
    for raw in text.split("\n"):
        line = raw.strip().lstrip("\u3000").replace("\t", " ")
        if not line:
            continue
        heading = _HEADING.match(line)
        if heading:
            if not seen_title:
                seen_title = True
                continue
            blocks.append(Block(heading["text"], heading=True))
            continue
        seen_title = True
        lead = _LEAD.match(line)
        if lead:
            blocks.append(Block(lead["rest"].strip(), lead=lead["lead"]))
        else:
            blocks.append(Block(line))
    return Account(program, period, title, tuple(blocks), source_name)


# --- in the database -------------------------------------------------------------------------


@dataclass
class AccountLoad:
    """What loading an account did."""

    program: str
    period: str
    created: bool
    unchanged: bool
    title: str
    paragraphs: int

    def as_dict(self) -> dict[str, object]:
        return {
            "program": self.program,
            "period": self.period,
            "created": self.created,
            "unchanged": self.unchanged,
            "title": self.title,
            "paragraphs": self.paragraphs,
        }


def load_account(
    *, session: Session, program: str, period: str, text: str, source_name: str, now: datetime
) -> AccountLoad:
    """Keep a district's account for a period (replacing the one it had), in the session's
    transaction; the text is checked again here, whatever brought it."""
    periods.quarter_or_half(period)
    record = store.get_program(session=session, code=program)
    start, end = periods.bounds(period)
    if record.start_date > end or record.end_date < start:
        raise ReportError(
            f"the pilot {program} runs from {record.start_date} to {record.end_date}, "
            f"outside {period}; give a period in its span"
        )
    text = normalised(text)
    found = findings(text)
    if found:
        raise AccountRefused(source_name or program, [f.problem for f in found], found)
    digest = hashlib.sha256(text.encode()).hexdigest()
    row = session.exec(
        select(PracticeAccount).where(
            PracticeAccount.program_id == record.id, PracticeAccount.period == period
        )
    ).first()
    account = parse(text)
    result = AccountLoad(
        program=program,
        period=period,
        created=row is None,
        unchanged=row is not None and row.sha256 == digest,
        title=account.title,
        paragraphs=sum(1 for block in account.blocks if not block.heading),
    )
    if result.unchanged:
        return result
    row = row or PracticeAccount(program_id=record.id, period=period)  # type: ignore[arg-type]
    row.text = text
    row.sha256 = digest
    row.source_name = source_name[:255]
    row.loaded_at = now
    session.add(row)
    session.flush()
    return result


def accounts(*, session: Session, programs: list[str], period: str) -> dict[str, Account]:
    """The accounts the given programs sent for the period, by program code."""
    rows = session.exec(
        select(Program.code, PracticeAccount.text, PracticeAccount.source_name)
        .join(PracticeAccount, col(PracticeAccount.program_id) == Program.id)
        .where(col(Program.code).in_(programs), PracticeAccount.period == period)
    ).all()
    return {
        code: parse(text, program=code, period=period, source_name=source)
        for code, text, source in rows
    }


def remove_account(*, session: Session, program: str, period: str) -> None:
    """Withdraw a district's account for a period; a ``NotFoundError`` where it has none."""
    record = store.get_program(session=session, code=program)
    row = session.exec(
        select(PracticeAccount).where(
            PracticeAccount.program_id == record.id, PracticeAccount.period == period
        )
    ).first()
    if row is None:
        raise NotFoundError(f"the pilot {program} has no account of its practice for {period}")
    session.delete(row)
    session.flush()
