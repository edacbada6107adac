"""What stands between the internet and the portal's routes.

- **Security headers** on every answer: a CSP without inline script or style, no framing,
  no referrer (the page's address holds the unit's link), no caching, no sniffing.
- **Bounded bodies**: a request body larger than its route allows is refused with 413
  before it is read (by its Content-Length, and by counting what arrives when it has none);
  a form's fields are bounded in number and size as it is parsed (``posted``).
- **CSRF**: every form carries a token bound to a random HttpOnly, SameSite=Strict cookie
  and to the unit's link version; a POST without it, or with another cookie's, is refused.
- **Bad links slowed down**: a client that keeps trying links that open nothing is
  answered 429 for a while, before any link of it is even checked.
- **No secret in the log**: the access log shows ``/u/…`` for a unit's link; so does the
  log of a bug (its traceback too).

The guard is the outermost layer of the app (``app.PortalApp``): its headers are on every
answer, the 500 page of a bug included.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from pilot_tracker.errors import BodyTooLarge

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}

# Request bodies: a workbook upload may be this large (a filled submission workbook is tens
# of KB; the bound leaves room for pictures a liaison pastes in), any other form this.
UPLOAD_BYTES = 5 * 1024 * 1024
FORM_BYTES = 256 * 1024
# Fields of one form (a report has 7 per task and 1 per indicator; the busiest unit of the
# examples has fewer than 20 tasks).
MAX_FIELDS = 1000
# One text field of a form (a report's longest text is 2,000 characters, 6 KB in UTF-8); an
# uploaded file is bounded by UPLOAD_BYTES only.
FIELD_BYTES = 64 * 1024

CSRF_COOKIE = "pt_csrf"
CSRF_FIELD = "csrf"

_LINK = re.compile(r"^/u/[^/]+")
log = logging.getLogger("pilot_tracker.web")


_LINK_ANYWHERE = re.compile(r"/u/[^/\s\"'<>?#]+")


def redacted(path: str) -> str:
    """A request path as the log may show it: a unit's link token becomes …."""
    return _LINK.sub("/u/…", path)


def redacted_text(text: str, *secrets_: str) -> str:
    """Any text for the log (a traceback): every ``/u/<token>`` and each of ``secrets_``
    becomes …."""
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "…")
    return _LINK_ANYWHERE.sub("/u/…", text)


def body_limit(path: str) -> int:
    return UPLOAD_BYTES if path.endswith("/upload") else FORM_BYTES


def size_text(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def too_large_text(limit: int) -> str:
    return f"单次提交不能超过{size_text(limit)}。请删去多余的工作表或图片后重新提交。"


# What the guard answers itself, before the app (a declared size over the bound) or when
# the app could not (a bug before its error page): short pages in Chinese, no stylesheet.
_PLAIN = (
    "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>{title}</title>"
    "<h1>{title}</h1><p>{text}</p>"
)


class Guard:
    """ASGI middleware, the app's outermost layer: security headers on every answer, bounded
    bodies, a redacted access log."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        started = time.perf_counter()
        status: list[int] = []

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _plain(send_with_headers, 413, "提交的内容过大", too_large_text(limit))
        else:
            seen = 0

            async def counted() -> dict[str, Any]:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise BodyTooLarge(limit)
                return message

            try:
                await self.app(scope, counted, send_with_headers)
            except Exception as error:
                # The app's own handler has sent a bug's 500 page and logged it (redacted), then
                # raised it again for the server to log: it ends here, so it is logged once.
                if not status:
                    if isinstance(error, BodyTooLarge):
                        await _plain(
                            send_with_headers, 413, "提交的内容过大", too_large_text(limit)
                        )
                    else:
                        log_bug(scope.get("method", ""), scope["path"], error)
                        await _plain(
                            send_with_headers, 500, "系统繁忙", "系统暂时无法处理，请稍后再试。"
                        )
        log.info(
            "%s %s %s %.0f ms",
            scope.get("method", ""),
            redacted(scope["path"]),
            status[0] if status else "-",
            (time.perf_counter() - started) * 1000,
        )


async def _plain(send: Any, status: int, title: str, text: str) -> None:
    body = _PLAIN.format(title=title, text=text).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def log_bug(method: str, path: str, error: BaseException) -> None:
    """A bug's traceback in the log, with the link token (the path's, and anywhere in the
    error's text) replaced by …."""
    token = path.removeprefix("/u/").split("/")[0] if path.startswith("/u/") else ""
    trace = "".join(traceback.format_exception(error)).rstrip()
    log.error("portal: %s %s failed\n%s", method, redacted(path), redacted_text(trace, token))


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str, cookie: str, unit_id: int, link_version: int) -> str:
    """The form token of a page: bound to the browser's cookie and the unit's link."""
    message = f"csrf|{cookie}|{unit_id}|{link_version}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def csrf_valid(secret: str, cookie: str | None, sent: Any, unit_id: int, version: int) -> bool:
    if not cookie or not isinstance(sent, str) or len(sent) != 64:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie, unit_id, version), sent)


class BadLinkLimiter:
    """At most ``attempts`` links that open nothing per client in ``window`` seconds."""

    def __init__(
        self, attempts: int = 20, window: float = 600.0, clock: Callable[[], float] = time.monotonic
    ):
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        seen = self._seen.setdefault(client, deque())
        cutoff = self.clock() - self.window
        while seen and seen[0] < cutoff:
            seen.popleft()
        if not seen:
            del self._seen[client]
            return deque()
        return seen

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.attempts

    def failed(self, client: str) -> None:
        self._recent(client)
        self._seen.setdefault(client, deque()).append(self.clock())
        if len(self._seen) > 100_000:  # bounded: the oldest clients are forgotten first
            for stale in list(self._seen)[:10_000]:
                del self._seen[stale]
