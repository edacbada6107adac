"""HTTP sources: a URL answering JSON or CSV, fetched safely.

Within a deadline, retried with backoff, redirects followed only within the URL's origin,
every host resolved, refused off the public internet unless the source is ``internal``,
and connected to at exactly the address that was checked; the body read no further than
the size limit, also when it comes compressed.
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from pilot_tracker.collect.payload import Payload
from pilot_tracker.collect.sources import Deadline, Pull, Pulled, redact_url
from pilot_tracker.errors import SourceRefused, SourceUnavailable
from pilot_tracker.ledger.program_file import HttpSourceSpec

MAX_HTTP_BYTES = 10 * 1024 * 1024
RETRY_DELAYS = (1.0, 4.0, 15.0)
MAX_RETRY_AFTER = 60.0
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
_ENVIRONMENT_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class HttpSource:
    """A URL answering JSON or CSV, fetched within a deadline and retried with backoff.

    Redirects are followed here, one hop at a time, and only within the URL's origin (or
    to an origin the program file allows); every hop's host is resolved, refused if any
    address is off the public internet (unless the source is ``internal``), and connected
    to at exactly the address that was checked. The declared headers go to the URL's own
    origin only.
    """

    kind = "http"

    def __init__(
        self,
        unit: str,
        spec: HttpSourceSpec,
        *,
        environ: Mapping[str, str],
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.unit = unit
        self.spec = spec
        self.environ = environ
        self.attempts = max(1, attempts)
        self.sleep = sleep
        self.transport = transport
        self.resolver = resolver or resolve
        self.rng = rng or random.Random()
        self.clock = clock

    def pull(self) -> Pull:
        result = Pull(self.unit, self.kind)
        try:
            result.pulled.append(Pulled(self.fetch()))
        except SourceUnavailable as error:
            result.error = str(error)
        return result

    def headers(self) -> dict[str, str]:
        """The declared headers with ``${NAME}`` taken from the environment."""
        headers = {}
        for name, value in self.spec.headers.items():
            for variable in _ENVIRONMENT_REFERENCE.findall(value):
                if variable not in self.environ:
                    raise SourceUnavailable(
                        f"environment variable {variable} (header {name}) is not set"
                    )
            headers[name] = _ENVIRONMENT_REFERENCE.sub(
                lambda match: self.environ[match.group(1)], value
            )
        return headers

    def fetch(self) -> Payload:
        """GET the URL within the deadline; retry timeouts, 5xx and 429 with jittered
        backoff; raise ``SourceUnavailable`` at the end (``SourceRefused`` at once for what
        no retry can mend)."""
        where = redact_url(self.spec.url)
        headers = self.headers()
        deadline = _Deadline(self.clock, self.spec.deadline)
        last = ""
        for attempt in range(1, self.attempts + 1):
            retry_after: float | None = None
            try:
                return self._get(where, headers, deadline)
            except _Answered as answer:
                last = f"{where} answered HTTP {answer.status}"
                if answer.status != 429 and answer.status < 500:
                    raise SourceUnavailable(last) from None
                retry_after = answer.retry_after
            except _NotFound as error:
                last = str(error)
            except httpx.TimeoutException:
                if deadline.passed():
                    raise SourceUnavailable(deadline.missed(where)) from None
                last = f"{where} did not answer within {self.spec.timeout:g} s"
            except httpx.HTTPError as error:
                last = f"{where} could not be reached ({type(error).__name__})"
            if attempt == self.attempts:
                break
            if retry_after is not None and retry_after >= deadline.left():
                raise SourceUnavailable(
                    f"{last} and asked to wait {retry_after:g} s, longer than its deadline "
                    f"of {self.spec.deadline:g} s allows"
                )
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise SourceUnavailable(
                    f"{last} and asked to wait {retry_after:g} s, longer than the "
                    f"{MAX_RETRY_AFTER:g} s a source may ask for"
                )
            # Full jitter: sources that failed together do not come back in step.
            base = RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)]
            wait = max(self.rng.uniform(0, base), retry_after or 0)
            if wait >= deadline.left():
                break
            self.sleep(wait)
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        raise SourceUnavailable(f"{last}{tries}")

    def _get(self, where: str, headers: dict[str, str], deadline: _Deadline) -> Payload:
        """One attempt: the URL and its redirects, each hop checked before it is asked."""
        url = self._parse(where, self.spec.url)
        origin = _origin(url)
        allowed = _origins(self.spec.allow_redirects_to)
        pins: dict[tuple[str, int], list[str]] = {}
        transport = self.transport or _pinned_transport(pins, deadline)
        with httpx.Client(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=self.spec.timeout,
            # Unpacked here, within the size limit: a small packed body can unpack to GBs.
            headers={"Accept-Encoding": "identity"},
        ) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                self._check_host(where, url, pins, deadline)
                own = _origin(url) == origin  # the declared headers go nowhere else
                request = client.build_request("GET", url, headers=headers if own else {})
                response = client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        url = self._redirect(where, url, location, origin, allowed)
                        continue
                    if response.status_code != 200:
                        raise _Answered(
                            response.status_code, _retry_after(response.headers.get("retry-after"))
                        )
                    return Payload(
                        _payload_name(self.spec, response),
                        _read_bounded(response, where, deadline),
                        self.kind,
                        response.headers.get("content-type", ""),
                    )
                finally:
                    response.close()
        raise SourceRefused(f"{where}: refused: more than {MAX_REDIRECTS} redirects")

    def _parse(self, where: str, text: str) -> httpx.URL:
        """The source's URL, if it is an http(s) URL that httpx can follow."""
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL:
            # httpx refuses some numeric forms (0177.0.0.1) that a C library would take.
            address = _numeric_address(urlsplit(text).hostname or "")
            if address is not None:
                self._check_addresses(where, [address])
            raise SourceRefused(f"{where}: refused: not a valid URL") from None
        if url.scheme not in DEFAULT_PORTS or not url.host:
            raise SourceRefused(f"{where}: refused: not an http:// or https:// URL")
        return url

    def _check_host(
        self,
        where: str,
        url: httpx.URL,
        pins: dict[tuple[str, int], list[str]],
        deadline: _Deadline,
    ) -> None:
        """Resolve the host of ``url`` once, check every address, pin what was checked."""
        host = url.raw_host.decode("ascii").lower()
        port = url.port or DEFAULT_PORTS.get(url.scheme, 80)
        if (host, port) in pins:
            return
        address = _numeric_address(host)
        if address is not None:
            addresses = [address]
        else:
            try:
                found = _within(deadline, lambda: list(self.resolver(host, port)))
                addresses = [ipaddress.ip_address(text) for text in found]
            except (OSError, UnicodeError, ValueError):
                addresses = []
            if not addresses:
                raise _NotFound(f"{where}: the host {host} could not be found")
        self._check_addresses(where, addresses)
        pins[(host, port)] = [str(address) for address in addresses]

    def _check_addresses(self, where: str, addresses: list[IPAddress]) -> None:
        if self.spec.internal:
            return
        for address in addresses:
            refused = _not_public(address)
            if refused is not None:
                shown, kind = refused
                raise SourceRefused(
                    f"{where}: refused: {shown} is not a public address ({kind}); if this "
                    "source is on the office's own network, mark it internal: true in the "
                    "program file"
                )

    def _redirect(
        self,
        where: str,
        url: httpx.URL,
        location: str,
        origin: Origin,
        allowed: set[Origin],
    ) -> httpx.URL:
        """The next hop, if the program file lets the source go there."""
        try:
            target = url.join(location)
        except httpx.InvalidURL:
            raise SourceRefused(f"{where}: refused: redirected to an invalid URL") from None
        if (
            target.scheme not in DEFAULT_PORTS
            or target.userinfo
            or (_origin(target) != origin and _origin(target) not in allowed)
        ):
            raise SourceRefused(
                f"{where}: refused: redirected to {redact_url(str(target))}, which is not "
                "this source's origin; if that server is trusted, list its origin under "
                "allow_redirects_to"
            )
        return target


Origin = tuple[str, str, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system's resolver (``socket.getaddrinfo``)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _origin(url: httpx.URL) -> Origin:
    return (url.scheme, url.raw_host.decode("ascii").lower(), url.port or DEFAULT_PORTS[url.scheme])


def _origins(targets: Iterable[str]) -> set[Origin]:
    """The origins of ``targets`` (the program file has checked them; skip what is not)."""
    origins = set()
    for target in targets:
        try:
            url = httpx.URL(target)
            if url.scheme in DEFAULT_PORTS and url.host:
                origins.add(_origin(url))
        except httpx.InvalidURL:
            continue
    return origins


_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


def _numeric_address(host: str) -> IPAddress | None:
    """``host`` as an IP address in any form a C resolver takes: ``::1``, ``127.0.0.1``,
    and also ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def _not_public(address: IPAddress) -> tuple[IPAddress, str] | None:
    """The address (or the IPv4 address inside it) and why it is not on the public
    internet; None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        inside = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if inside is not None and (refused := _not_public(inside)) is not None:
            return refused
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address in _SHARED_ADDRESS_SPACE, "carrier-grade NAT"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved or not address.is_global, "reserved"),
    )
    for refused, kind in checks:
        if refused:
            return address, kind
    return None


class _Answered(Exception):
    """The source answered with a status other than 200 (and not a redirect)."""

    def __init__(self, status: int, retry_after: float | None):
        self.status = status
        self.retry_after = retry_after


class _NotFound(Exception):
    """The source's host name does not resolve (now; it may again)."""


class _Deadline(Deadline):
    """The moment a pull must be over: connect, TLS, request, answer and body included."""

    def timeout(self, timeout: float | None) -> float:
        """A network operation's timeout, cut to what is left before the deadline."""
        left = self.left()
        if left <= 0:
            raise httpcore.ReadTimeout("deadline passed")
        return left if timeout is None else min(timeout, left)


def _within(deadline: _Deadline, work: Callable[[], list[str]]) -> list[str]:
    """``work()`` (a name lookup, which no timeout of ours reaches) if it ends by the
    deadline; else a timeout, and the lookup is left to finish on its own."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the caller below
            outcome.append(error)

    thread = threading.Thread(target=run, name="resolve", daemon=True)
    thread.start()
    thread.join(max(deadline.left(), 0))
    if not outcome:
        raise httpx.ConnectTimeout("the name lookup did not finish by the deadline")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to the addresses checked for a host, and never past the deadline."""

    def __init__(self, pins: dict[tuple[str, int], list[str]], deadline: _Deadline):
        self.pins = pins
        self.deadline = deadline
        self.backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.pins.get((host.lower(), port))
        if not addresses:  # never resolve here: only a checked address is connected to
            raise httpcore.ConnectError(f"{host}:{port} was not checked")
        error: Exception | None = None
        for address in addresses:
            try:
                stream = self.backend.connect_tcp(
                    address, port, self.deadline.timeout(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as failed:
                error = failed
                continue
            return _DeadlineStream(stream, self.deadline)
        raise error or httpcore.ConnectError(f"{host}:{port}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("an HTTP source connects over TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline, however slowly the
    other side trickles bytes."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline):
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.deadline.timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self.deadline.timeout(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.stream.start_tls(ssl_context, server_hostname, self.deadline.timeout(timeout))
        return _DeadlineStream(stream, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


def _pinned_transport(
    pins: dict[tuple[str, int], list[str]], deadline: _Deadline
) -> httpx.HTTPTransport:
    """httpx's transport on a connection pool that uses ``_PinnedBackend``.

    httpx takes no network backend, so its pool is swapped for one that has it; no
    proxy from the environment (a proxy would connect wherever it resolves the name).
    """
    context = tls_context()
    transport = httpx.HTTPTransport(trust_env=False, verify=context)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=context,
        network_backend=_PinnedBackend(pins, deadline),
    )
    return transport


# Making a TLS context reads every certificate of the CA bundle: about 20-40 ms, which a
# run paid twice for each HTTP source, even one on plain http. One is made per trust
# setting (SSL_CERT_FILE or SSL_CERT_DIR, as httpx reads them, and the file's stamp, so a
# bundle replaced is read again) and shared: connections only read it.
_TLS_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()
TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def tls_context() -> ssl.SSLContext:
    """httpx's TLS context for the trust settings of the environment, made once."""
    key = tuple((os.environ.get(name), _stamp(os.environ.get(name))) for name in TRUST_VARIABLES)
    with _TLS_LOCK:
        context = _TLS_CONTEXTS.get(key)
        if context is None:
            _TLS_CONTEXTS.clear()  # the settings changed: the old context is not used again
            context = _TLS_CONTEXTS[key] = httpx.create_ssl_context()
    return context


def _stamp(path: str | None) -> tuple[int, int] | None:
    try:
        info = os.stat(path) if path else None
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size) if info is not None else None


def _read_bounded(response: httpx.Response, where: str, deadline: _Deadline) -> bytes:
    """The body, unpacked (gzip, deflate) no further than the size limit allows."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_HTTP_BYTES:
        raise SourceUnavailable(
            f"{where} sent {int(declared):,} bytes, more than the 10 MB allowed"
        )
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", *_UNPACKERS):
        raise SourceUnavailable(
            f"{where} sent its answer compressed ({encoding}), which is not read; have the "
            "server send it uncompressed"
        )
    unpacker = _UNPACKERS[encoding]() if encoding in _UNPACKERS else None
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        if unpacker is None:
            chunk = raw
        else:
            try:
                # At most one byte past the limit: enough to know it is too big.
                chunk = unpacker.decompress(raw, MAX_HTTP_BYTES - size + 1)
            except zlib.error:
                raise SourceUnavailable(
                    f"{where} sent a {encoding} answer that cannot be unpacked"
                ) from None
        size += len(chunk)
        if size > MAX_HTTP_BYTES:
            raise SourceUnavailable(f"{where} sent more than the 10 MB allowed; stopped reading")
        if deadline.passed():
            raise SourceUnavailable(deadline.missed(where))
        chunks.append(chunk)
    return b"".join(chunks)


_UNPACKERS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "x-gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "deflate": lambda: zlib.decompressobj(zlib.MAX_WBITS | 32),  # zlib or gzip wrapped
}


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _payload_name(spec: HttpSourceSpec, response: httpx.Response) -> str:
    name = urlsplit(spec.url).path.rsplit("/", 1)[-1] or "response"
    kind = spec.format or ("json" if "json" in response.headers.get("content-type", "") else None)
    if kind and not name.lower().endswith(f".{kind}"):
        name = f"{name}.{kind}"
    return name
