"""extractors.http against a real server on 127.0.0.1."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator

import pytest

from extractors.errors import PermanentFetchError, TransientFetchError
from extractors.http import USER_AGENT, Fetcher, HttpSettings
from extractors.models import FetchResult
from flows.demo import RSS_PATH, Route, SiteServer


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    routes = {
        "/ok.xml": Route(200, "application/rss+xml", b"<rss version='2.0'><channel/></rss>"),
        "/gone": Route(410, "text/plain", b"gone"),
        "/missing": Route(404, "text/plain", b"no"),
        "/busy": Route(503, "text/plain", b"busy", (("Retry-After", "120"),)),
        "/hop1": Route(301, "text/plain", b"", (("Location", "/hop2"),)),
        "/hop2": Route(302, "text/plain", b"", (("Location", "/ok.xml"),)),
        "/loop": Route(302, "text/plain", b"", (("Location", "/loop"),)),
        "/big": Route(200, "text/html", b"x" * 200_000),
        "/bomb": Route(
            200, "text/html", gzip.compress(b"a" * 2_000_000), (("Content-Encoding", "gzip"),)
        ),
    }
    with SiteServer(routes) as s:
        yield s


def test_fetch_sends_user_agent_and_returns_body(server: SiteServer) -> None:
    with Fetcher() as f:
        r = f.fetch_feed(server.url("/ok.xml"))
    assert r.status == 200
    assert r.content.startswith(b"<rss")
    assert server.requests[-1][1]["user-agent"] == USER_AGENT
    assert "feedwatch" in USER_AGENT


def test_redirects_are_followed_and_recorded(server: SiteServer) -> None:
    with Fetcher() as f:
        r = f.fetch_feed(server.url("/hop1"))
    assert r.status == 200
    assert r.final_url == server.url("/ok.xml")
    assert r.redirects == (server.url("/hop1"), server.url("/hop2"))


def test_redirect_loop_is_a_permanent_error(server: SiteServer) -> None:
    with Fetcher() as f, pytest.raises(PermanentFetchError, match="more than 5 redirects"):
        f.fetch_feed(server.url("/loop"))


@pytest.mark.parametrize(
    ("path", "error", "status"),
    [
        ("/busy", TransientFetchError, 503),
        ("/missing", PermanentFetchError, 404),
        ("/gone", PermanentFetchError, 410),
    ],
)
def test_http_errors_are_classified(
    server: SiteServer, path: str, error: type[Exception], status: int
) -> None:
    with Fetcher() as f, pytest.raises(error) as info:
        f.fetch_page(server.url(path))
    assert info.value.status == status  # type: ignore[attr-defined]
    assert f"HTTP {status}" in str(info.value)


def test_size_cap_counts_decoded_bytes(server: SiteServer) -> None:
    with Fetcher(HttpSettings(max_page_bytes=100_000)) as f:
        with pytest.raises(PermanentFetchError, match="larger than 100000 bytes"):
            f.fetch_page(server.url("/big"))
        # 2 MB of 'a' compresses to a few KB on the wire: the cap must still hold.
        with pytest.raises(PermanentFetchError, match="larger than"):
            f.fetch_page(server.url("/bomb"))


def test_connection_refused_is_transient() -> None:
    with Fetcher(HttpSettings(connect_timeout=2)) as f, pytest.raises(TransientFetchError):
        f.fetch_feed("http://127.0.0.1:9/feed.xml")


def test_conditional_get_gets_304(site: SiteServer) -> None:
    with Fetcher() as f:
        first = f.fetch_feed(site.url(RSS_PATH))
        again = f.fetch_feed(site.url(RSS_PATH), etag=first.headers["etag"])
    assert first.status == 200 and again.status == 304
    assert again.not_modified and again.content == b""


def test_private_addresses_refused_unless_allowed(
    server: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDWATCH_ALLOW_PRIVATE_NETWORKS")
    requests_before = len(server.requests)
    with Fetcher() as f:
        for url in (server.url("/ok.xml"), "http://10.0.0.1/feed", "http://169.254.169.254/latest"):
            with pytest.raises(PermanentFetchError, match="non-public address"):
                f.fetch_feed(url)
        with pytest.raises(PermanentFetchError, match="unsupported scheme"):
            f.fetch_feed("file:///etc/passwd")
    assert len(server.requests) == requests_before  # nothing reached the server


def test_waiting_for_a_host_leaves_the_others_free() -> None:
    from extractors.http import HostGate

    gate = HostGate(total=1, per_host=2, delay=0.5)
    started: dict[str, float] = {}

    def request(name: str, host: str) -> None:
        with gate.slot(host):
            started[name] = time.monotonic()

    t0 = time.monotonic()
    request("a1", "a.example")
    waiting = threading.Thread(target=request, args=("a2", "a.example"))
    waiting.start()  # must wait half a second for a.example...
    time.sleep(0.05)
    request("b1", "b.example")  # ...without holding the only slot meanwhile
    waiting.join()
    assert started["b1"] - t0 < 0.3
    assert started["a2"] - started["a1"] >= 0.45


def test_a_304_gives_its_wait_back_and_a_body_does_not(site: SiteServer) -> None:
    url = site.url(RSS_PATH)

    def paced(etag: str | None = None) -> FetchResult:  # as pages are fetched
        return f.get(url, headers={"If-None-Match": etag} if etag else {}, max_bytes=10**7)

    with Fetcher(HttpSettings(host_delay=0.5)) as f:
        etag = paced().headers["etag"]
        time.sleep(0.55)  # that 200's wait over

        t0 = time.monotonic()
        unchanged = [paced(etag).status for _ in range(3)]
        after_304s = time.monotonic() - t0
        paced()  # at once: the 304 before it sent nothing
        at_once = time.monotonic() - t0
        paced(etag)  # waits: the 200 before it sent the feed
        waited = time.monotonic() - t0
    assert unchanged == [304, 304, 304]
    assert after_304s < 0.3 and at_once < 0.3  # three delays would be 1 s
    assert waited - at_once >= 0.4


def test_feeds_are_not_paced_but_pages_are(site: SiteServer) -> None:
    # Feed readers poll an outlet's section feeds at once; the delay paces pages.
    with Fetcher(HttpSettings(host_delay=0.5)) as f:
        t0 = time.monotonic()
        statuses = [f.fetch_feed(site.url(RSS_PATH)).status for _ in range(4)]
        feeds = time.monotonic() - t0
        page = next(p for p in site.routes if p.startswith("/news/"))
        f.fetch_page(site.url(page))
        f.fetch_page(site.url(page))
        pages = time.monotonic() - t0 - feeds
    assert statuses == [200] * 4 and feeds < 0.4  # four delays would be 2 s
    assert pages >= 0.45  # the second page waited for the first's delay


def test_redacted_urls_keep_everything_but_the_secrets() -> None:
    from extractors.errors import redact, redact_url

    assert (
        redact_url("https://bob:pw@news.example/rss?token=abc&edition=asia&API_KEY=zz&flag")
        == "https://***@news.example/rss?token=***&edition=asia&API_KEY=***&flag"
    )
    assert redact_url("https://news.example/rss?id=42") == "https://news.example/rss?id=42"
    assert (
        redact("moved to https://x.example/?sig=1, then http://u:p@y.example/a.")
        == "moved to https://x.example/?sig=***, then http://***@y.example/a."
    )
    error = TransientFetchError("https://n.example/rss?access_token=abc", "HTTP 503")
    assert str(error) == "https://n.example/rss?access_token=***: HTTP 503"
    assert error.url.endswith("access_token=abc")  # the code still has the real URL


def test_a_dns_answer_that_changes_after_the_check_is_refused(
    server: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name looks public when checked, then leads to loopback when
    connected. The resolver is the system's, patched to answer that way; feedwatch's
    own code runs as it is."""
    import socket

    monkeypatch.delenv("FEEDWATCH_ALLOW_PRIVATE_NETWORKS")
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])  # public for the first lookup, loopback after

    def rebinding(host: str, port: object, *args: object, **kwargs: object) -> object:
        if host == "rebind.example":
            ip = next(answers, "127.0.0.1")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = server.base_url.rsplit(":", 1)[1]
    requests_before = len(server.requests)
    with (
        Fetcher() as f,
        pytest.raises(PermanentFetchError, match=r"non-public address 127\.0\.0\.1"),
    ):
        f.fetch_feed(f"http://rebind.example:{port}/ok.xml")
    assert len(server.requests) == requests_before  # the request never reached it


def test_waiting_for_a_slot_does_not_count_against_the_deadline() -> None:
    """Requests queued behind slow responses from the same host keep their whole deadline."""
    from concurrent.futures import ThreadPoolExecutor
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(0.7 if self.path.startswith("/slow") else 0)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings = HttpSettings(per_host=1, host_delay=0, deadline=1.0)
    try:
        with Fetcher(settings) as f, ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(f.fetch_page, f"{base}/slow/{i}") for i in range(2)]
            time.sleep(0.1)  # the quick one queues behind both: 1.4 s of waiting
            quick = pool.submit(f.fetch_page, f"{base}/quick")
            assert quick.result().content == b"ok"
            assert [s.result().status for s in slow] == [200, 200]
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_proxy_from_the_environment_is_used(
    server: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY as curl reads it: the request goes to the proxy, in absolute form."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.request import urlopen

    seen: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            with urlopen(self.path) as upstream:  # the proxy's own request: no proxy
                body = upstream.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with Fetcher() as f:
            monkeypatch.delenv("http_proxy")  # read when the Fetcher is made; not by urlopen
            r = f.fetch_feed(server.url("/ok.xml"))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert r.status == 200 and r.content.startswith(b"<rss")
    assert seen == [server.url("/ok.xml")]
