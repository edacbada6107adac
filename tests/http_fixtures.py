"""A real HTTP server on loopback that answers as a unit's system would, good or bad."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream_bytes: int = 0  # send this many bytes of filler instead of ``body``


@dataclass
class Server:
    url: str
    answers: dict[str, list[Answer]]
    requests: list[tuple[str, dict[str, str]]]
    bodies: list[bytes] = field(default_factory=list)

    def answer(self, path: str, *answers: Answer) -> str:
        """Queue answers for a path (the last one repeats); return its URL."""
        self.answers[path] = list(answers)
        return f"{self.url}{path}"


@contextmanager
def http_server(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """A server on ``host`` (a loopback address), stopped when the block ends; with
    ``tls``, it speaks HTTPS."""
    answers: dict[str, list[Answer]] = {}
    requests: list[tuple[str, dict[str, str]]] = []
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append((self.path, dict(self.headers)))
            queue = answers.get(self.path) or [Answer(404, b"not found", "text/plain")]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if answer.delay:
                time.sleep(answer.delay)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.stream_bytes:
                self.end_headers()
                chunk = b"0" * 65536
                sent = 0
                try:
                    while sent < answer.stream_bytes:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            # The client may have given up waiting, as a timeout test intends.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(answer.body)

        def do_POST(self) -> None:  # a chat service's webhook, or Apprise's json://
            length = int(self.headers.get("Content-Length") or 0)
            bodies.append(self.rfile.read(length))
            self.do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        scheme = "https" if tls else "http"
        yield Server(f"{scheme}://{host}:{server.server_address[1]}", answers, requests, bodies)
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def trickling_server(head: bytes, body: bytes, *, every: float) -> Iterator[str]:
    """A server on loopback that sends ``head`` at once, then ``body`` one byte every
    ``every`` seconds: a source that answers, but never finishes. Yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError):
                connection.recv(65536)
                connection.sendall(head)
                for byte in body:
                    if stop.wait(every):
                        break
                    connection.sendall(bytes([byte]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow.json"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def no_sleep() -> tuple[list[float], Callable[[float], None]]:
    """A sleep that records instead of waiting, so backoff is checked without waiting."""
    slept: list[float] = []
    return slept, slept.append
