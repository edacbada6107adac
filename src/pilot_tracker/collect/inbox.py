"""The inbox: files a unit drops in ``<data home>/inbox/<program code>/<unit code>/``.

A folder source reads only regular files that really live in the unit's folder, never
following a link, never blocking on a special file, never reading past the size limit,
and leaves a file still being written for the next run. The inbox survey reports what
lies where no source reads it (loose files, folders of unknown units, links).
"""

from __future__ import annotations

import errno
import os
import re
import stat as statmodule
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pilot_tracker.collect.payload import MAX_PAYLOAD_BYTES, ZIP_MAGIC, Payload, display_name
from pilot_tracker.collect.sources import NotTaken, Pull, Pulled
from pilot_tracker.errors import UndecodableText
from pilot_tracker.text import decode_text

MAX_INBOX_BYTES = MAX_PAYLOAD_BYTES
HEAD_BYTES = 1024 * 1024  # what is kept of a file over the limit
MAX_FOLDER_ENTRIES = 10_000
# Files a desktop leaves while a document is open or being copied: not submissions yet.
SKIPPED_NAMES = re.compile(r"^(~\$|\.|~)|\.(tmp|part|crdownload|swp)$", re.IGNORECASE)


def inbox_folder(inbox: Path, program: str, unit: str) -> Path:
    """The inbox folder of a unit: ``inbox/<program code>/<unit code>/``.

    Codes are validated as [A-Za-z0-9][A-Za-z0-9_.-]*, so both are safe folder names; the
    program's code keeps apart units of two programs that share a code.
    """
    return inbox / program / unit


@dataclass(frozen=True)
class InboxFile:
    """The inbox file a payload was read from, pinned by its device and inode."""

    folder: Path
    name: str
    device: int
    inode: int
    size: int
    modified_ns: int
    root: Path | None = None

    def remove(self) -> str | None:
        """Unlink the file if its name still is the file that was read; else say why not.

        A file replaced under the same name meanwhile (a corrected copy) is left for the
        next run, so nothing a unit sent goes unread.
        """
        try:
            folder = _open_folder(self.folder, self.root)
        except OSError as error:
            return f"its folder cannot be opened to remove it ({error.strerror or error})"
        try:
            stat = os.stat(self.name, dir_fd=folder, follow_symlinks=False)
            # An inode number is reused at once; with the size and time it is this file.
            now = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if now != (self.device, self.inode, self.size, self.modified_ns):
                return "replaced while it was taken in; it is read again next run"
            os.unlink(self.name, dir_fd=folder)
            return None
        except FileNotFoundError:
            return None
        except OSError as error:
            return f"taken in, but it cannot be removed ({error.strerror})"
        finally:
            os.close(folder)


# A file's identity and state as scanned: device, inode, size, modification time.
Signature = tuple[int, int, int, int]


class FolderSource:
    """Files dropped in the unit's inbox folder (by a mail gateway or a shared drive).

    Only regular files that really live in the folder are read: the folder is opened
    without following links below ``root`` (the inbox, which the operator may have made a
    link), each file is opened without following a link and without blocking, checked by
    its descriptor to be the regular, singly linked file that was scanned, and read no
    further than the size limit. A file over the limit gives only its first MB.
    """

    kind = "folder"

    def __init__(
        self,
        unit: str,
        folder: Path,
        *,
        root: Path | None = None,
    ):
        self.unit = unit
        self.folder = folder
        self.root = root

    def where(self, name: str = "") -> str:
        """A path as shown: relative to the inbox when it is known."""
        path = self.folder / name if name else self.folder
        if self.root is not None:
            path = path.relative_to(self.root)
        return display_name(path.as_posix(), 300)

    def scan(self) -> tuple[dict[str, Signature], list[NotTaken]]:
        """The candidate files with their signatures, and what is in the way."""
        try:
            folder = _open_folder(self.folder, self.root)
        except FileNotFoundError:
            return {}, []
        except _FolderRefused as refused:
            return {}, [refused.not_taken(self.root)]
        except OSError as error:
            return {}, [NotTaken(self.where(), f"cannot be opened ({error.strerror})")]
        found: dict[str, Signature] = {}
        refused: list[NotTaken] = []
        try:
            listed, truncated = _entries(folder)
        finally:
            os.close(folder)
        for name, stat in listed:
            problem = _unsafe(stat)
            if problem is not None:
                refused.append(_refusal(self.where(name), problem))
            else:
                found[name] = _signature_of(stat)
        if truncated:
            refused.append(
                NotTaken(
                    self.where(),
                    f"more than {MAX_FOLDER_ENTRIES} entries; the rest are read in later runs",
                )
            )
        return found, refused

    def snapshot(self) -> dict[str, Signature]:
        """Signature of every candidate file, to compare after a pause."""
        return self.scan()[0]

    def pull(self, before: dict[str, Signature] | None = None) -> Pull:
        """Read the files that did not change since ``before`` (a snapshot: see
        ``collection.pull_folders``, which waits between the two where a file is young), or
        what is there now. A file whose size or time changed is still being written and is
        left for the next run.
        """
        result = Pull(self.unit, self.kind)
        scanned, refused = self.scan()
        result.not_taken += refused
        if before is None:
            before = scanned
        if not before:
            return result
        try:
            folder = _open_folder(self.folder, self.root)
        except OSError:
            result.waiting.update(dict.fromkeys(before, "the folder cannot be opened now"))
            return result
        try:
            for name, signature in before.items():
                self._read(folder, name, signature, result)
        finally:
            os.close(folder)
        return result

    def _read(self, folder: int, name: str, signature: Signature, result: Pull) -> None:
        try:
            stat = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return
        problem = _unsafe(stat)
        if problem is not None:
            result.not_taken.append(_refusal(self.where(name), problem))
            return
        if _signature_of(stat) != signature:
            result.waiting[name] = "still being written (its size or time changed)"
            return
        try:
            handle = os.open(name, _OPEN_FILE, dir_fd=folder)
        except OSError as error:
            if error.errno == errno.ELOOP:
                result.not_taken.append(_refusal(self.where(name), "link"))
            else:
                result.waiting[name] = f"cannot be opened ({error.strerror})"
            return
        try:
            opened = os.fstat(handle)
            problem = _unsafe(opened)
            if problem is not None:
                result.not_taken.append(_refusal(self.where(name), problem))
                return
            if (opened.st_dev, opened.st_ino) != signature[:2]:
                result.waiting[name] = "replaced while it was read"
                return
            data, size, oversized = _read_bounded_file(handle, opened.st_size)
            after = os.fstat(handle)
        except OSError as error:
            result.waiting[name] = f"cannot be read ({error.strerror})"
            return
        finally:
            os.close(handle)
        if (after.st_size, after.st_mtime_ns) != (opened.st_size, opened.st_mtime_ns):
            result.waiting[name] = "still being written (it changed while it was read)"
            return
        payload = Payload(name, data, self.kind, size=size, oversized=oversized)
        result.pulled.append(
            Pulled(
                payload,
                inbox_file=InboxFile(
                    self.folder,
                    name,
                    *_signature_of(opened),
                    root=self.root,
                ),
                unfinished=None if oversized else unfinished(data, name),
                modified=datetime.fromtimestamp(opened.st_mtime_ns / 1e9, UTC),
            )
        )


class _FolderRefused(OSError):
    """A step of an inbox folder's path is a link or not a folder."""

    def __init__(self, step: Path, problem: str):
        super().__init__(problem)
        self.step = step
        self.problem = problem

    def not_taken(self, root: Path | None) -> NotTaken:
        shown = self.step.relative_to(root) if root is not None else self.step
        return _refusal(display_name(shown.as_posix(), 300), self.problem)


def _open_folder(folder: Path, root: Path | None) -> int:
    """A descriptor of ``folder``, opened without following a link below ``root``."""
    if root is None:
        steps, handle = [folder], None
    else:
        steps = list(folder.relative_to(root).parts)
        handle = os.open(root, _OPEN_FOLDER & ~os.O_NOFOLLOW)
    here = root
    for step in steps:
        here = Path(step) if here is None else here / step
        try:
            following = os.open(step, _OPEN_FOLDER, dir_fd=handle)
        except OSError as error:
            # With O_DIRECTORY, Linux says ENOTDIR for a link; lstat tells which it is.
            link = error.errno == errno.ELOOP or (
                error.errno == errno.ENOTDIR and _is_link(step, handle)
            )
            if handle is not None:
                os.close(handle)
            if link:
                raise _FolderRefused(here, "link") from None
            if error.errno == errno.ENOTDIR:
                raise _FolderRefused(here, "not a folder") from None
            raise
        if handle is not None:
            os.close(handle)
        handle = following
    assert handle is not None
    return handle


def _is_link(name: str, folder: int | None) -> bool:
    try:
        return statmodule.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False


_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO or device swapped in after the scan must not block the run.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def settle_wait(
    snapshots: Iterable[dict[str, Signature]], settle_seconds: float, now: datetime
) -> float:
    """Seconds to wait before reading files scanned at ``now``, so that one still being
    copied shows by its size or time changing: until the youngest is ``settle_seconds``
    old. Nothing when every file is older, as files that landed before a run are; the
    whole ``settle_seconds`` when a file's time is ahead of ``now`` (another clock)."""
    stamps = [signature[3] for snapshot in snapshots for signature in snapshot.values()]
    if settle_seconds <= 0 or not stamps:
        return 0.0
    age = now.timestamp() - max(stamps) / 1e9
    if age < 0:
        return settle_seconds
    return max(0.0, settle_seconds - age)


def _signature_of(stat: os.stat_result) -> Signature:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _unsafe(stat: os.stat_result) -> str | None:
    """Why an entry of a unit folder is not taken: link, folder, not a file, hard link."""
    if statmodule.S_ISLNK(stat.st_mode):
        return "link"
    if statmodule.S_ISDIR(stat.st_mode):
        return "folder"
    if not statmodule.S_ISREG(stat.st_mode):
        return "special"
    if stat.st_nlink > 1:
        return "hard link"
    return None


_REFUSALS = {
    "link": "symbolic link, not followed; copy the file itself into the folder",
    "folder": "a folder inside the unit folder is not read; put the files directly "
    "in the unit folder",
    "special": "not a regular file (a pipe, socket or device); left alone",
    "hard link": "hard link to a file that has another name elsewhere; not read. "
    "Copy the file into the folder instead",
    "not a folder": "should be a folder but is not",
}


def _refusal(path: str, problem: str) -> NotTaken:
    notice = "" if problem != "folder" else "子文件夹不会被读取，请将其中的文件直接放入单位文件夹"
    return NotTaken(path, _REFUSALS[problem], notice)


def _read_bounded_file(handle: int, declared: int) -> tuple[bytes, int, bool]:
    """(bytes, size, oversized): the whole file up to the limit, else only its first MB.

    The read stops at the limit even when the file grew after ``declared`` was taken.
    """
    if declared > MAX_INBOX_BYTES:
        return _read_at_most(handle, HEAD_BYTES), declared, True
    data = _read_at_most(handle, MAX_INBOX_BYTES + 1)
    if len(data) > MAX_INBOX_BYTES:
        return data[:HEAD_BYTES], max(declared, len(data)), True
    return data, len(data), False


def _read_at_most(handle: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(handle, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _zip_complete(data: bytes) -> bool:
    """A zip ends with its end-of-central-directory record; a copy cut short does not."""
    tail = data[-(22 + 65535) :]
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return False
    size, offset = struct.unpack("<II", tail[at + 12 : at + 20])
    if 0xFFFFFFFF in (size, offset):
        return True  # zip64: the sizes are in another record
    return offset + size <= len(data) - len(tail) + at


def _json_closed(data: bytes) -> bool:
    """A JSON document that ends as it began, its brackets balanced (counted, not parsed:
    the check builds nothing, whatever the document holds; a bracket inside a string can
    make a whole document wait, never a cut one pass)."""
    try:
        text = decode_text(data).strip().lstrip("\ufeff")
    except UndecodableText:
        return False  # cut inside a character
    if not text or (text[0], text[-1]) not in (("{", "}"), ("[", "]")):
        return False
    return text.count("{") == text.count("}") and text.count("[") == text.count("]")


# A text file's last line break: in UTF-8, GBK or UTF-16 BE, and in UTF-16 LE (Excel's
# "Unicode text"), where the break's second byte is the NUL.
_LINE_ENDS = (b"\n", b"\r", b"\n\x00", b"\r\x00")


def unfinished(data: bytes, name: str) -> str | None:
    """Why the bytes do not read as a whole file, as a copy cut short would not; or None.

    Cheap checks of the format's own end, bounded in time and memory: a workbook's zip
    directory, a JSON document's closing bracket, a text file's final line break. A young
    file failing them is still being copied; an old one is taken as it is.
    """
    if not data:
        return "empty"
    lowered = name.lower()
    if data.startswith(ZIP_MAGIC) or lowered.endswith((".xlsx", ".xlsm")):
        if _zip_complete(data):
            return None
        return "the workbook is cut short (its zip directory is missing)"
    if lowered.endswith(".json") or data.lstrip()[:1] in (b"{", b"["):
        return None if _json_closed(data) else "the JSON document is cut short"
    if lowered.endswith((".csv", ".txt")) and not data.endswith(_LINE_ENDS):
        return "the text does not end with a line break"
    return None


MAX_REPORTED = 200


def survey_inbox(inbox: Path, program: str, units: Mapping[str, bool]) -> list[NotTaken]:
    """What lies in the program's inbox tree where no source reads it.

    ``units`` maps each unit code to whether the unit has an inbox source. Reported, never
    taken: files beside the unit folders, folders of unknown units or whose name differs
    from a unit code only in case (and the files in them, one level down), a folder named
    like the program but in another case, the files of a unit that has no inbox source,
    and links. The unit folders themselves are the folder sources' to report.
    """
    found: list[NotTaken] = []
    for name, stat in _entries(inbox)[0]:
        if name != program and name.casefold() == program.casefold():
            found.append(
                NotTaken(
                    _shown(name),
                    f"differs from the program code {program} only in case; not read",
                    f"文件夹名与试点代码 {program} 大小写不一致，其中的文件不会被读取，"
                    f"请移入 inbox/{program}/<单位代码>/",
                    _stamp(stat),
                )
            )
    try:
        folder = _open_folder(inbox / program, inbox)
    except _FolderRefused as refused:
        return [*found, refused.not_taken(inbox)]
    except OSError:
        return found
    by_case = {code.casefold(): code for code in units}
    try:
        for name, stat in _entries(folder)[0]:
            if len(found) > MAX_REPORTED:
                break  # enough to act on; the walk stays short however much is there
            where = f"{program}/{name}"
            if statmodule.S_ISLNK(stat.st_mode):
                if name not in units or not units[name]:
                    found.append(_refusal(_shown(where), "link"))
                continue
            if not statmodule.S_ISDIR(stat.st_mode):
                found.append(
                    NotTaken(
                        _shown(where),
                        f"not in a unit folder; move it to {program}/<unit code>/",
                        f"文件未放入单位文件夹，未导入。请移入 inbox/{program}/<单位代码>/",
                        _stamp(stat),
                    )
                )
                continue
            if units.get(name):
                continue  # a unit folder: its folder source reads it
            if name in units:
                reason = f"unit {name} has no inbox source (see its sources:); not read"
                notice = f"单位 {name} 未配置文件夹报送方式，此处文件未导入"
            elif name.casefold() in by_case:
                code = by_case[name.casefold()]
                reason = (
                    f"folder {name} differs from unit code {code} only in case; "
                    f"move the file to {program}/{code}/"
                )
                notice = (
                    f"文件夹名 {name} 与单位代码 {code} 大小写不一致，未导入。"
                    f"请移入 {program}/{code}/"
                )
            else:
                reason = f"no unit {name} in program {program}; move the file to its unit's folder"
                notice = f"试点中没有代码为 {name} 的单位，未导入。请移入报送单位的文件夹"
            found += _inside(folder, name, where, reason, notice)
    finally:
        os.close(folder)
    if len(found) > MAX_REPORTED:
        found = [*found[:MAX_REPORTED], NotTaken(program, "and more, not listed")]
    return found


def survey_root(inbox: Path, programs: Iterable[str]) -> list[NotTaken]:
    """What lies directly in the inbox outside every program's folder: loose files and
    folders of programs not loaded. (A folder named like a program in another case is that
    program's survey's to report.)"""
    codes = set(programs)
    folded = {code.casefold() for code in codes}
    found = []
    for name, stat in _entries(inbox)[0]:
        if name in codes or name.casefold() in folded:
            continue
        kind = "folder" if statmodule.S_ISDIR(stat.st_mode) else "file"
        found.append(
            NotTaken(
                _shown(name),
                f"{kind} outside every loaded program's folder (inbox/<program code>/); not read",
            )
        )
    return found[:MAX_REPORTED]


def _inside(parent: int, name: str, where: str, reason: str, notice: str) -> list[NotTaken]:
    """The entries of a folder no source reads, one level down, each with the reason."""
    try:
        folder = os.open(name, _OPEN_FOLDER, dir_fd=parent)
    except OSError:
        return []
    try:
        found = []
        for inner, stat in _entries(folder)[0]:
            if len(found) > MAX_REPORTED:
                break
            kind = "" if statmodule.S_ISREG(stat.st_mode) else " (a folder or special file)"
            found.append(NotTaken(_shown(f"{where}/{inner}"), reason + kind, notice, _stamp(stat)))
        return found
    finally:
        os.close(folder)


def _entries(folder: Path | int) -> tuple[list[tuple[str, os.stat_result]], bool]:
    """Names and lstat of a folder's entries, sorted, without temporary files; and whether
    the listing stopped at ``MAX_FOLDER_ENTRIES`` (the rest wait for a later run)."""
    listed: list[tuple[str, os.stat_result]] = []
    truncated = False
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_FOLDER_ENTRIES:
                    truncated = True
                    break
                if not SKIPPED_NAMES.search(entry.name):
                    try:
                        listed.append((entry.name, entry.stat(follow_symlinks=False)))
                    except OSError:
                        continue  # gone since it was listed
    except OSError:
        return [], False
    return sorted(listed, key=lambda item: item[0]), truncated


def _shown(path: str) -> str:
    return display_name(path, 300)


def _stamp(stat: os.stat_result) -> str:
    """What makes a reported file the same file next time: size and modification time."""
    return f"{stat.st_size}:{stat.st_mtime_ns}"
