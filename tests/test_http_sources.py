"""HTTP sources are safe to point at a unit's system: they go only where the program file
says, send secrets only there, and end within their deadline.

No test here sends anything off this machine: addresses outside loopback are "resolved"
by an injected resolver and answered by an ``httpx.MockTransport`` that records every
request, so a refusal is shown by the transport never being asked; real servers listen
on loopback and stop with the test.
"""

from __future__ import annotations

import json
import random
import resource
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from pilot_tracker.collect import http as http_module
from pilot_tracker.collect.http import RETRY_DELAYS, HttpSource
from pilot_tracker.ledger.program_file import HttpSourceSpec, validate_program

from .http_fixtures import Answer, http_server, no_sleep, trickling_server
from .test_program_file import problems_of, with_source

DATA = json.dumps({"tasks": [{"任务编号": "T-01", "进展状态": "推进中", "完成进度": 50}]}).encode()
PUBLIC = "93.184.216.34"  # only ever "resolved" here; nothing connects to it
TOKEN = {"DSJ_TOKEN": "s3cret"}


def resolver(table: dict[str, list[str]]) -> Callable[[str, int], Iterable[str]]:
    """A resolver that knows only ``table``; any other name fails the test."""

    def resolve(host: str, port: int) -> Iterable[str]:
        assert host in table, f"resolved {host}, which the test did not expect"
        return table[host]

    return resolve


class Recorder:
    """A transport that records each request and answers from ``routes`` (by URL)."""

    def __init__(self, routes: dict[str, httpx.Response] | None = None):
        self.routes = routes or {}
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        # A stream, as off the wire (``content=`` would be read, and so spent, at once).
        return self.routes.get(str(request.url)) or httpx.Response(
            200, stream=httpx.ByteStream(DATA)
        )


def source(
    url: str,
    *,
    resolve: Callable[[str, int], Iterable[str]] | None = None,
    transport: httpx.BaseTransport | None = None,
    attempts: int = 1,
    **spec: object,
) -> tuple[HttpSource, list[float]]:
    slept, sleep = no_sleep()
    http = HttpSource(
        "dsj",
        HttpSourceSpec(kind="http", url=url, **spec),
        environ=TOKEN,
        attempts=attempts,
        sleep=sleep,
        transport=transport,
    )
    if resolve is not None:
        http.resolver = resolve
    return http, slept


# -- where a source may connect ------------------------------------------------------------


def test_a_loopback_source_is_refused_unless_marked_internal() -> None:
    with http_server() as server:
        url = server.answer("/dsj.json", Answer(body=DATA))
        refused, _ = source(url)
        pull = refused.pull()
        assert server.requests == []  # nothing was sent
        assert pull.pulled == []
        assert pull.error == (
            f"{url}: refused: 127.0.0.1 is not a public address (loopback); if this source "
            "is on the office's own network, mark it internal: true in the program file"
        )

        allowed, _ = source(url, internal=True)
        pull = allowed.pull()
    assert pull.error is None and pull.pulled[0].payload.data == DATA


@pytest.mark.parametrize(
    ("url", "table", "address", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", {}, "169.254.169.254", "link-local"),
        ("http://10.1.2.3/p.json", {}, "10.1.2.3", "private"),
        ("http://172.16.0.9/p.json", {}, "172.16.0.9", "private"),
        ("http://192.168.1.10:8080/p.json", {}, "192.168.1.10", "private"),
        ("http://100.64.0.1/p.json", {}, "100.64.0.1", "carrier-grade NAT"),
        ("http://[::1]:8080/p.json", {}, "::1", "loopback"),
        ("http://[fe80::1]/p.json", {}, "fe80::1", "link-local"),
        ("http://[fd00::1]/p.json", {}, "fd00::1", "private"),
        ("http://[::ffff:169.254.169.254]/p", {}, "169.254.169.254", "link-local"),
        ("http://[2002:a9fe:a9fe::1]/p", {}, "169.254.169.254", "link-local"),
        ("http://0.0.0.0/p.json", {}, "0.0.0.0", "unspecified"),
        ("http://224.0.0.1/p.json", {}, "224.0.0.1", "multicast"),
        ("http://2130706433/p.json", {}, "127.0.0.1", "loopback"),
        ("http://0177.0.0.1/p.json", {}, "127.0.0.1", "loopback"),
        ("http://0x7f.1/p.json", {}, "127.0.0.1", "loopback"),
        ("http://127.1/p.json", {}, "127.0.0.1", "loopback"),
        ("http://0xa9fea9fe/p.json", {}, "169.254.169.254", "link-local"),
        (
            "http://intranet.example/p.json",
            {"intranet.example": ["192.168.3.4"]},
            "192.168.3.4",
            "private",
        ),
        # One bad address among good ones is enough: the connection could go to any.
        (
            "https://mixed.example/p.json",
            {"mixed.example": [PUBLIC, "10.0.0.7"]},
            "10.0.0.7",
            "private",
        ),
        (
            "http://metadata.example/",
            {"metadata.example": ["::ffff:a9fe:a9fe"]},
            "169.254.169.254",
            "link-local",
        ),
    ],
)
def test_an_address_off_the_internet_is_refused_before_connecting(
    url: str, table: dict[str, list[str]], address: str, kind: str
) -> None:
    recorder = Recorder()
    http, _ = source(
        url,
        resolve=resolver(table),
        transport=recorder.transport,
        headers={"Authorization": "Bearer ${DSJ_TOKEN}"},
    )
    pull = http.pull()
    assert recorder.requests == []  # no connection was asked for
    assert pull.pulled == []
    assert pull.error is not None
    assert f"refused: {address} is not a public address ({kind})" in pull.error
    assert "internal: true" in pull.error
    assert "s3cret" not in pull.error


def test_a_name_that_does_not_resolve_is_unavailable() -> None:
    def nowhere(host: str, port: int) -> Iterable[str]:
        raise OSError("Name or service not known")

    recorder = Recorder()
    http, _ = source("https://gone.example/p.json", resolve=nowhere, transport=recorder.transport)
    pull = http.pull()
    assert recorder.requests == [] and pull.pulled == []
    assert pull.error == "https://gone.example/p.json: the host gone.example could not be found"


def test_a_public_address_is_fetched() -> None:
    recorder = Recorder()
    http, _ = source(
        "https://data.example.gov.cn/dsj/progress.json",
        resolve=resolver({"data.example.gov.cn": [PUBLIC]}),
        transport=recorder.transport,
        headers={"Authorization": "Bearer ${DSJ_TOKEN}"},
    )
    pull = http.pull()
    assert pull.error is None and pull.pulled[0].payload.data == DATA
    (request,) = recorder.requests
    assert request.headers["authorization"] == "Bearer s3cret"


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    # The server listens on 127.0.0.2 only; the system resolves localhost to 127.0.0.1.
    # Reaching it shows the connection used the checked address, not a second lookup
    # (which a DNS rebinding attack would answer differently).
    with http_server("127.0.0.2") as server:
        port = server.url.rsplit(":", 1)[1]
        server.answer("/p.json", Answer(body=DATA))
        http, _ = source(
            f"http://localhost:{port}/p.json",
            resolve=resolver({"localhost": ["127.0.0.2"]}),
            internal=True,
        )
        pull = http.pull()
    assert pull.error is None and pull.pulled[0].payload.data == DATA
    assert server.requests[0][1]["Host"] == f"localhost:{port}"


@pytest.fixture
def authority(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> trustme.CA:
    """A certificate authority the client trusts (through SSL_CERT_FILE) for this test."""
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return ca


def server_tls(ca: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


@pytest.mark.parametrize(
    ("certified", "fetched"), [("localhost", True), ("elsewhere.example", False)]
)
def test_https_goes_to_the_checked_address_and_checks_the_name(
    authority: trustme.CA, certified: str, fetched: bool
) -> None:
    # As above, on 127.0.0.2; the certificate is still checked against the host name.
    with http_server("127.0.0.2", tls=server_tls(authority, certified)) as server:
        port = server.url.rsplit(":", 1)[1]
        server.answer("/p.json", Answer(body=DATA))
        http, _ = source(
            f"https://localhost:{port}/p.json",
            resolve=resolver({"localhost": ["127.0.0.2"]}),
            internal=True,
        )
        pull = http.pull()
    if fetched:
        assert pull.error is None and pull.pulled[0].payload.data == DATA
        assert server.requests[0][1]["Host"] == f"localhost:{port}"
    else:
        assert pull.pulled == [] and server.requests == []
        assert pull.error == f"https://localhost:{port}/p.json could not be reached (ConnectError)"


def test_one_tls_context_serves_every_pull_until_the_trust_settings_change(
    authority: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    make = httpx.create_ssl_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs)
        return make(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", counted)
    monkeypatch.setattr(http_module, "_TLS_CONTEXTS", {})
    with http_server("127.0.0.2", tls=server_tls(authority, "localhost")) as server:
        port = server.url.rsplit(":", 1)[1]
        server.answer("/p.json", Answer(body=DATA))
        http, _ = source(
            f"https://localhost:{port}/p.json",
            resolve=resolver({"localhost": ["127.0.0.2"]}),
            internal=True,
        )
        pulls = [http.pull(), http.pull()]
        assert [pull.pulled[0].payload.data for pull in pulls] == [DATA, DATA]
        assert len(made) == 1  # not one per pull, nor one more for httpx's own pool
        # Another authority trusted instead: a new context, which this server's fails.
        other = tmp_path / "other.pem"
        trustme.CA().cert_pem.write_to_path(str(other))
        monkeypatch.setenv("SSL_CERT_FILE", str(other))
        pull = http.pull()
    assert len(made) == 2
    assert pull.error == f"https://localhost:{port}/p.json could not be reached (ConnectError)"


# -- redirects --------------------------------------------------------------------------------

ORIGIN = "https://data.example.gov.cn"
PUBLIC_NAMES = {
    "data.example.gov.cn": [PUBLIC],
    "files.example.gov.cn": ["93.184.216.35"],
    "other.example": ["93.184.216.36"],
    "internal.example": ["10.9.8.7"],
}


def redirect(location: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


def redirected(location: str, **spec: object) -> tuple[Recorder, HttpSource]:
    recorder = Recorder({f"{ORIGIN}/p.json": redirect(location)})
    http, _ = source(
        f"{ORIGIN}/p.json",
        resolve=resolver(PUBLIC_NAMES),
        transport=recorder.transport,
        headers={"Authorization": "Bearer ${DSJ_TOKEN}", "X-Api-Key": "${DSJ_TOKEN}"},
        **spec,
    )
    return recorder, http


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("http://169.254.169.254/latest/meta-data/", "http://169.254.169.254/latest/meta-data/"),
        ("http://127.0.0.1:8080/admin", "http://127.0.0.1:8080/admin"),
        ("https://other.example/p.json", "https://other.example/p.json"),
        ("http://data.example.gov.cn/p.json", "http://data.example.gov.cn/p.json"),  # scheme
        ("https://data.example.gov.cn:8443/p.json", "https://data.example.gov.cn:8443/p.json"),
        ("//other.example/p.json?token=abc", "https://other.example/p.json"),
        ("https://user:pw@other.example/p.json", "https://other.example/p.json"),
    ],
)
def test_a_redirect_to_another_origin_is_refused(location: str, shown: str) -> None:
    recorder, http = redirected(location)
    pull = http.pull()
    assert [str(r.url) for r in recorder.requests] == [f"{ORIGIN}/p.json"]  # not followed
    assert pull.pulled == []
    assert pull.error == (
        f"{ORIGIN}/p.json: refused: redirected to {shown}, which is not this source's "
        "origin; if that server is trusted, list its origin under allow_redirects_to"
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_kind_of_redirect_is_checked(status: int) -> None:
    recorder = Recorder({f"{ORIGIN}/p.json": redirect("http://169.254.169.254/", status)})
    http, _ = source(
        f"{ORIGIN}/p.json", resolve=resolver(PUBLIC_NAMES), transport=recorder.transport
    )
    pull = http.pull()
    assert len(recorder.requests) == 1 and pull.pulled == []
    assert "refused: redirected to http://169.254.169.254/" in pull.error


def test_a_redirect_within_the_origin_is_followed_with_the_headers() -> None:
    recorder, http = redirected("/v2/p.json")
    pull = http.pull()
    assert pull.error is None and pull.pulled[0].payload.data == DATA
    assert [str(r.url) for r in recorder.requests] == [f"{ORIGIN}/p.json", f"{ORIGIN}/v2/p.json"]
    assert all(r.headers["authorization"] == "Bearer s3cret" for r in recorder.requests)


def test_an_allowed_target_is_followed_but_never_gets_the_secrets() -> None:
    recorder, http = redirected(
        "https://files.example.gov.cn/exports/p.json",
        allow_redirects_to=["https://files.example.gov.cn"],
    )
    pull = http.pull()
    assert pull.error is None and pull.pulled[0].payload.data == DATA
    first, second = recorder.requests
    assert first.headers["authorization"] == "Bearer s3cret"
    assert str(second.url) == "https://files.example.gov.cn/exports/p.json"
    assert "authorization" not in second.headers and "x-api-key" not in second.headers
    assert "s3cret" not in str(second.headers)


def test_an_allowed_target_is_still_checked_for_its_address() -> None:
    recorder, http = redirected(
        "https://internal.example/p.json", allow_redirects_to=["https://internal.example"]
    )
    pull = http.pull()
    assert len(recorder.requests) == 1 and pull.pulled == []
    assert "refused: 10.9.8.7 is not a public address (private)" in pull.error


def test_redirects_stop_after_a_few_hops() -> None:
    routes = {f"{ORIGIN}/{n}": redirect(f"/{n + 1}") for n in range(10)}
    recorder = Recorder(routes)
    http, _ = source(f"{ORIGIN}/0", resolve=resolver(PUBLIC_NAMES), transport=recorder.transport)
    pull = http.pull()
    assert len(recorder.requests) == 4 and pull.pulled == []
    assert pull.error == f"{ORIGIN}/0: refused: more than 3 redirects"


def test_a_redirect_between_real_servers_does_not_carry_the_token() -> None:
    with http_server() as first, http_server() as second:
        target = second.answer("/secret.json", Answer(body=DATA))
        url = first.answer("/p.json", Answer(302, b"", headers={"Location": target}))
        http, _ = source(url, internal=True, headers={"Authorization": "Bearer ${DSJ_TOKEN}"})
        pull = http.pull()
        assert second.requests == []
    assert pull.pulled == []
    assert "refused: redirected to" in pull.error


# -- deadline ---------------------------------------------------------------------------------

# The pull runs in a child process with hard limits: on code without a deadline it would
# wait for minutes, and the test must fail rather than hold up the machine.
PULL_IN_A_CAGE = textwrap.dedent(
    """
    import json, sys, time
    from pilot_tracker.ledger.program_file import HttpSourceSpec
    from pilot_tracker.collect.http import HttpSource

    spec = HttpSourceSpec(
        kind="http", url=sys.argv[1], internal=True, timeout=5, deadline=float(sys.argv[2])
    )
    started = time.monotonic()
    pull = HttpSource("dsj", spec, environ={}, attempts=3, sleep=lambda s: None).pull()
    print(json.dumps({"error": pull.error, "pulled": len(pull.pulled),
                      "seconds": time.monotonic() - started}))
    """
)


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


@pytest.mark.parametrize(
    ("head", "body"),
    [
        # The head at once, then the body one byte at a time.
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
            b"{" + b" " * 198 + b"}",
        ),
        # The status line, then the headers one byte at a time.
        (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"),
    ],
    ids=["body", "headers"],
)
def test_a_trickling_source_ends_at_its_deadline(head: bytes, body: bytes) -> None:
    with trickling_server(head, body, every=0.3) as url:
        try:
            done = subprocess.run(
                [sys.executable, "-c", PULL_IN_A_CAGE, url, "1.5"],
                capture_output=True,
                text=True,
                timeout=30,
                preexec_fn=_limits,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("the pull was still waiting after 30 s")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["pulled"] == 0
    assert result["error"] == f"{url}: did not finish within its deadline of 1.5 s"
    assert result["seconds"] < 1.5 + 1.0


def test_a_name_lookup_that_hangs_ends_at_the_deadline() -> None:
    released = threading.Event()

    def hanging(host: str, port: int) -> Iterable[str]:
        released.wait(timeout=30)
        return [PUBLIC]

    recorder = Recorder()
    http, _ = source(
        "https://slow-dns.example/p.json",
        resolve=hanging,
        transport=recorder.transport,
        deadline=0.5,
    )
    started = time.monotonic()
    try:
        pull = http.pull()
    finally:
        released.set()
    assert time.monotonic() - started < 2
    assert recorder.requests == [] and pull.pulled == []
    assert (
        pull.error == "https://slow-dns.example/p.json: did not finish within its deadline of 0.5 s"
    )


# -- compression ------------------------------------------------------------------------------

BROTLI_BOMB = Path(__file__).parent / "fixtures" / "zeros-1gb.br"  # 1,617 bytes; 1 GB unpacked

# In a child process with 1 GB of memory at most: code that unpacks what it is sent in one
# go dies here instead of taking the machine's memory.
PULL_A_BOMB = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import httpx
    from pilot_tracker.ledger.program_file import HttpSourceSpec
    from pilot_tracker.collect.http import HttpSource

    bomb = Path(sys.argv[1]).read_bytes()
    asked = []

    def answer(request):
        asked.append(request.headers.get("accept-encoding"))
        return httpx.Response(
            200, stream=httpx.ByteStream(bomb), headers={"Content-Encoding": "br"}
        )

    spec = HttpSourceSpec(kind="http", url="https://data.example.gov.cn/p.json")
    http = HttpSource("dsj", spec, environ={}, attempts=1,
                      transport=httpx.MockTransport(answer),
                      resolver=lambda host, port: ["93.184.216.34"])
    pull = http.pull()
    print(json.dumps({"error": pull.error, "pulled": len(pull.pulled), "asked": asked}))
    """
)


def _small_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


def test_a_compressed_body_that_was_not_asked_for_is_refused_unread() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PULL_A_BOMB, str(BROTLI_BOMB)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_small_memory,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["asked"] == ["identity"]
    assert result["pulled"] == 0
    assert result["error"] == (
        "https://data.example.gov.cn/p.json sent its answer compressed (br), which is not "
        "read; have the server send it uncompressed"
    )


def gzipped(data: bytes, *, repeat: int = 1) -> httpx.Response:
    """An answer of ``data`` (``repeat`` times) gzipped, as it comes off the wire."""
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    packed = b"".join(packer.compress(data) for _ in range(repeat)) + packer.flush()
    return packed_answer(packed)


def packed_answer(packed: bytes) -> httpx.Response:
    # A stream, so that nothing unpacks it before the source reads it.
    return httpx.Response(
        200, stream=httpx.ByteStream(packed), headers={"Content-Encoding": "gzip"}
    )


def test_a_gzipped_body_is_read_within_the_size_limit() -> None:
    recorder = Recorder(
        {
            f"{ORIGIN}/ok.json": gzipped(DATA),
            # 50 MB of zeros in 50 KB: unpacked only as far as the 10 MB limit.
            f"{ORIGIN}/bomb.json": gzipped(b"\0" * 1024**2, repeat=50),
            f"{ORIGIN}/broken.json": packed_answer(b"not gzip at all"),
        }
    )

    def pull(path: str):
        http, _ = source(
            f"{ORIGIN}/{path}", resolve=resolver(PUBLIC_NAMES), transport=recorder.transport
        )
        return http.pull()

    good = pull("ok.json")
    assert good.error is None and good.pulled[0].payload.data == DATA
    bomb = pull("bomb.json")
    assert bomb.pulled == []
    assert bomb.error == f"{ORIGIN}/bomb.json sent more than the 10 MB allowed; stopped reading"
    broken = pull("broken.json")
    assert broken.pulled == []
    assert broken.error == f"{ORIGIN}/broken.json sent a gzip answer that cannot be unpacked"


# -- retries ----------------------------------------------------------------------------------


def test_retry_delays_are_jittered_within_their_bounds() -> None:
    first_delays = set()
    for seed in range(20):
        recorder = Recorder({f"{ORIGIN}/p.json": httpx.Response(503)})
        http, slept = source(
            f"{ORIGIN}/p.json",
            resolve=resolver(PUBLIC_NAMES),
            transport=recorder.transport,
            attempts=4,
        )
        http.rng = random.Random(seed)
        pull = http.pull()
        assert pull.error.endswith("answered HTTP 503 after 4 attempts")
        assert len(slept) == 3
        assert all(0 <= delay <= bound for delay, bound in zip(slept, RETRY_DELAYS, strict=True))
        first_delays.add(slept[0])
    assert len(first_delays) > 10  # twenty sources down at once do not come back in step


def test_retry_after_is_honoured_within_the_deadline() -> None:
    routes = {
        f"{ORIGIN}/p.json": httpx.Response(429, headers={"Retry-After": "7"}),
    }
    recorder = Recorder(routes)
    http, slept = source(
        f"{ORIGIN}/p.json", resolve=resolver(PUBLIC_NAMES), transport=recorder.transport, attempts=2
    )
    http.rng = random.Random(1)
    http.pull()
    assert slept == [7.0]

    routes[f"{ORIGIN}/p.json"] = httpx.Response(429, headers={"Retry-After": "3600"})
    http, slept = source(
        f"{ORIGIN}/p.json",
        resolve=resolver(PUBLIC_NAMES),
        transport=recorder.transport,
        attempts=2,
        deadline=30,
    )
    pull = http.pull()
    assert slept == []  # an hour's wait does not fit a 30 s deadline: give up now
    assert pull.error == (
        f"{ORIGIN}/p.json answered HTTP 429 and asked to wait 3600 s, longer than its "
        "deadline of 30 s allows"
    )

    routes[f"{ORIGIN}/p.json"] = httpx.Response(429, headers={"Retry-After": "120"})
    http, slept = source(
        f"{ORIGIN}/p.json",
        resolve=resolver(PUBLIC_NAMES),
        transport=recorder.transport,
        attempts=2,
        deadline=300,
    )
    pull = http.pull()
    assert slept == []  # not retried early, against the server's word
    assert pull.error.endswith("asked to wait 120 s, longer than the 60 s a source may ask for")


# -- the program file -------------------------------------------------------------------------

HTTP = {"kind": "http", "url": "https://data.example.gov.cn/p.json"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {**HTTP, "internal": "yes"},
            "units[1].sources[0].http.internal: 'yes' is not true or false",
        ),
        ({**HTTP, "internal": 1}, "units[1].sources[0].http.internal: 1 is not true or false"),
        (
            {**HTTP, "internal": "true"},
            "units[1].sources[0].http.internal: 'true' is not true or false",
        ),
        ({**HTTP, "deadline": 0}, "units[1].sources[0].http.deadline: 0 is out of range"),
        ({**HTTP, "deadline": 3600}, "units[1].sources[0].http.deadline: 3600 is out of range"),
        ({**HTTP, "url": "file:///etc/passwd"}, "units[1].sources[0].url: not an http://"),
        ({**HTTP, "url": "gopher://x.example/p"}, "units[1].sources[0].url: not an http://"),
        ({**HTTP, "url": "//x.example/p.json"}, "units[1].sources[0].url: not an http://"),
        ({**HTTP, "url": "javascript:alert(1)"}, "units[1].sources[0].url: not an http://"),
        *(
            (
                {**HTTP, "allow_redirects_to": [target]},
                "units[1].sources[0].allow_redirects_to[0]: "
                f"{target!r} is not an origin; write the scheme, host and port only",
            )
            for target in [
                "https://files.example/exports/",
                "ftp://files.example",
                "files.example",
                "https://user:pw@files.example",
                "https://files.example?x=1",
                "https://files.example:99999",
            ]
        ),
    ],
)
def test_the_program_file_refuses_a_source_that_is_not_clear(
    source: dict[str, object], expected: str
) -> None:
    problems = problems_of(with_source(source))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_the_program_file_takes_the_new_keys() -> None:
    spec = validate_program(
        with_source(
            {
                **HTTP,
                "internal": True,
                "deadline": 20,
                "allow_redirects_to": ["https://files.example.gov.cn:8443"],
            }
        ),
        "demo.yaml",
    )
    (declared,) = spec.units[1].sources
    assert (declared.internal, declared.deadline, declared.allow_redirects_to) == (
        True,
        20,
        ["https://files.example.gov.cn:8443"],
    )
    default = validate_program(with_source(HTTP), "demo.yaml").units[1].sources[0]
    assert (default.internal, default.deadline, default.allow_redirects_to) == (False, 60, [])
