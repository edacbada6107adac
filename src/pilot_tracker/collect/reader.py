"""A second process that reads payloads while this one takes them in.

Reading a workbook (its bounds surveyed, its cells read, its rows shaped) is pure work on
its bytes and most of what intake spends on it; storing what it read is this process's
(its database session, its archive, its checks against the ledger). With a reader
process the two overlap: the payloads a run is about to take in are sent ahead to the
child, which reads each with ``payload.read_payload``, once, and sends back what it read,
in order, while this process stores the one before. A run of many payloads (a backlog,
a province's programs in one ``supervise --all-programs``) then uses a second core.

The child is this Python running ``python -m pilot_tracker.collect.reader``: no shell, no
file, nothing but the payloads through its pipes (each message a length and a pickle;
both ends are this program). It is started only once a run has had enough payloads to
pay for its start (``least``), and kept for the rest of the run.

Whatever goes wrong with the child (it cannot start, it dies, it sends nothing within
``deadline`` seconds) costs nothing but the overlap: it is stopped, the warning logged
once, and every payload from then on read in this process, as without it. A payload the
child could not read for a fault of ours (not the unit's) is read again here, so that
the fault is raised where intake records it, with its traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from pilot_tracker.collect.payload import Payload, ReadPayload, read_payload
from pilot_tracker.errors import PayloadError

log = logging.getLogger(__name__)

COMMAND = (sys.executable, "-m", "pilot_tracker.collect.reader")
AHEAD = 4  # payloads sent ahead of the one being taken in
# Payloads a run must have read before the child is started: it takes about 0.3 s to
# start and saves about 2 ms a payload, so a day's few files never wait for it.
LEAST = 100
READ_AHEAD = 8  # payloads this process may read early, waiting for their turn
DEADLINE = 300.0  # seconds the child may take over one payload before it is given up
_HEADER = struct.Struct(">Q")
_READ, _REFUSED, _FAULT = "read", "refused", "fault"


def read_here(payload: Payload) -> ReadPayload:
    """Read ``payload`` in this process."""
    return read_payload(payload.data, payload.name, payload.content_type)


def read_now(payload: Payload) -> Callable[[Payload], ReadPayload]:
    """``payload`` read in this process now, once, and a reader that gives what was read,
    or raises what reading raised, when intake asks for it."""
    try:
        read = read_here(payload)
    except Exception as error:  # raised when asked, as intake would have met it
        failed = error

        def again(_: Payload) -> ReadPayload:
            raise failed

        return again
    return lambda _: read


class ReaderProcess:
    """The child that reads a run's payloads, started once the run has had ``least`` of
    them; ``close`` (or leaving the ``with`` block) stops it."""

    def __init__(
        self,
        *,
        command: Sequence[str] = COMMAND,
        ahead: int = AHEAD,
        least: int = LEAST,
        deadline: float = DEADLINE,
    ):
        self.command = list(command)
        self.ahead = max(1, ahead)
        self.least = least
        self.deadline = deadline
        self._child: subprocess.Popen[bytes] | None = None
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._sequence = 0
        self.counted = 0  # payloads the run's readings have held
        self.broken = ""  # why the child was given up, once it was

    def reading(self, payloads: Sequence[Payload]) -> Reading:
        """A reading of ``payloads``, to be asked for them in this order (any may be
        skipped: a duplicate is never read). The child is started once the run's readings
        have held ``least`` payloads, this one included."""
        wanted = [payload for payload in payloads if not payload.oversized]
        self.counted += len(wanted)
        if self.broken or (self._child is None and self.counted < self.least):
            return Reading(self, [])
        if self._child is None and not self._start():
            return Reading(self, [])
        return Reading(self, wanted)

    def close(self) -> None:
        """Stop the child. It holds nothing worth finishing: answers never asked for (a
        run's last duplicates) go with it, and waiting for it to end by itself could wait
        on it writing them to a pipe no one reads."""
        child, self._child = self._child, None
        if child is None:
            return
        self._outbox.put(None)
        child.kill()
        child.wait(timeout=5)
        if self._sender is not None:
            self._sender.join(timeout=5)
        if child.stdout is not None:
            child.stdout.close()

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the child --

    def _start(self) -> bool:
        try:
            self._child = subprocess.Popen(  # this Python, fixed arguments
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as error:
            self._give_up(f"it could not start ({error.strerror or error})")
            return False
        self._outbox = queue.Queue()
        self._sender = threading.Thread(
            target=_send_all,
            args=(self._child.stdin, self._outbox),
            name="payload-reader-send",
            daemon=True,
        )
        self._sender.start()
        return True

    def _send(self, payload: Payload) -> int:
        self._sequence += 1
        message = pickle.dumps(
            (self._sequence, payload.data, payload.name, payload.content_type),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        self._outbox.put(_HEADER.pack(len(message)) + message)
        return self._sequence

    def _answered(self) -> bool:
        """Whether the child's next answer has begun to arrive (without waiting)."""
        assert self._child is not None and self._child.stdout is not None
        return bool(select.select([self._child.stdout], [], [], 0)[0])

    def _receive(self) -> tuple[int, str, Any]:
        """The child's next answer: (sequence, outcome, what was read or why not)."""
        assert self._child is not None and self._child.stdout is not None
        header = self._read_exactly(self._child.stdout, _HEADER.size)
        (size,) = _HEADER.unpack(header)
        answer: tuple[int, str, Any] = pickle.loads(self._read_exactly(self._child.stdout, size))
        return answer

    def _read_exactly(self, stream: BinaryIO, size: int) -> bytes:
        due = time.monotonic() + self.deadline
        chunks: list[bytes] = []
        while size:
            left = due - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                raise TimeoutError(f"it sent nothing within {self.deadline:g} s")
            chunk = os.read(stream.fileno(), min(size, 1 << 20))
            if not chunk:
                raise EOFError("it stopped")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _give_up(self, why: str) -> None:
        self.broken = why
        log.warning("the payload reader process was given up: %s; reading in this process", why)
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.wait(timeout=5)
            self._outbox.put(None)
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()


class Reading:
    """One run's payloads, each read once: by the child, sent ``ahead`` of its turn, or
    here, by this process, when it would otherwise wait for the child (it then reads the
    next payload not yet sent, and keeps what it read until that payload's turn); a
    payload the child could not read is read here too."""

    def __init__(self, process: ReaderProcess, payloads: list[Payload]):
        self.process = process
        self.payloads = payloads
        self.position = {id(payload): index for index, payload in enumerate(payloads)}
        self.sent: dict[int, int] = {}  # id(payload) -> its sequence
        self.read_ahead: dict[int, Callable[[Payload], ReadPayload]] = {}  # read here, early
        self.next = 0  # the first payload neither sent nor read here

    def read(self, payload: Payload) -> ReadPayload:
        """What ``payload`` holds, as ``read_payload`` reads it (raising as it raises)."""
        early = self.read_ahead.pop(id(payload), None)
        if early is not None:
            return early(payload)
        index = self.position.get(id(payload))
        if index is None or self.process.broken:
            return read_here(payload)
        self._send_through(index + self.process.ahead)
        wanted = self.sent.get(id(payload))
        try:
            while wanted is not None:
                while not self.process._answered() and self._read_one_here():
                    pass  # this process reads while the child works
                sequence, outcome, value = self.process._receive()
                if sequence != wanted:
                    continue  # a payload skipped (a duplicate): never asked for
                if outcome == _READ:
                    return value  # type: ignore[no-any-return]
                if outcome == _REFUSED:
                    raise PayloadError(value)
                break  # a fault: read here, so that it is raised with its traceback
        except (OSError, EOFError, TimeoutError, pickle.UnpicklingError, ValueError) as error:
            self.process._give_up(str(error) or type(error).__name__)
        return read_here(payload)

    def _send_through(self, last: int) -> None:
        while self.next <= min(last, len(self.payloads) - 1):
            payload = self.payloads[self.next]
            self.next += 1
            if id(payload) not in self.read_ahead:
                self.sent[id(payload)] = self.process._send(payload)

    def _read_one_here(self) -> bool:
        """Read the next payload not yet sent, here; False when none is left, or when
        ``READ_AHEAD`` payloads read early already wait for their turn."""
        if self.next >= len(self.payloads) or len(self.read_ahead) >= READ_AHEAD:
            return False
        payload = self.payloads[self.next]
        self.next += 1
        self.read_ahead[id(payload)] = read_now(payload)
        return True


def reader_of(reading: Reading | None) -> Callable[[Payload], ReadPayload]:
    """How intake reads a payload: through ``reading``, or in this process."""
    return read_here if reading is None else reading.read


def _send_all(stream: BinaryIO | None, outbox: queue.Queue[bytes | None]) -> None:
    """The sender's loop: the messages to the child, in order, until told to stop. Its own
    thread, so that this process never blocks writing to a child blocked writing to it."""
    if stream is None:
        return
    try:
        while (message := outbox.get()) is not None:
            stream.write(message)
            stream.flush()
    except (OSError, ValueError):
        pass  # the child is gone: its reader sees that, and reads in this process
    finally:
        with contextlib.suppress(OSError):
            stream.close()


# --- the child ---------------------------------------------------------------------------


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """Read each payload sent on ``source`` and answer on ``sink``, until ``source`` ends."""
    while header := source.read(_HEADER.size):
        if len(header) < _HEADER.size:
            return
        (size,) = _HEADER.unpack(header)
        sequence, data, name, content_type = pickle.loads(source.read(size))
        try:
            answer: tuple[int, str, Any] = (
                sequence,
                _READ,
                read_payload(data, name, content_type),
            )
        except PayloadError as error:
            answer = (sequence, _REFUSED, str(error))
        except Exception:  # a fault of ours: the parent reads it again, to raise it there
            answer = (sequence, _FAULT, None)
        message = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        sink.write(_HEADER.pack(len(message)) + message)
        sink.flush()


def main() -> None:
    """The child's entry: its answers on a copy of its standard output, which itself goes
    to the null device, so that nothing a library prints can break a message."""
    sink = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    with sink:
        serve(sys.stdin.buffer, sink)


if __name__ == "__main__":
    main()
