"""The only module of feedwatch that talks to the network.

Everything about fetching lives here, so it is tested once: timeouts, the
User-Agent, redirects (followed by hand, so every hop is checked), size caps
enforced while streaming, conditional GET, and the guard that keeps feedwatch
off loopback and private networks unless FEEDWATCH_ALLOW_PRIVATE_NETWORKS=1.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import os
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

from extractors.errors import FetchError, PermanentFetchError, TransientFetchError
from extractors.models import FetchResult

__all__ = [
    "USER_AGENT",
    "Fetcher",
    "HostGate",
    "HttpSettings",
    "Transport",
    "parse_retry_after",
    "private_networks_allowed",
]

USER_AGENT = "feedwatch/0.1 (news feed monitor; +https://github.com/feedwatch/feedwatch)"
_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


def private_networks_allowed() -> bool:
    return os.environ.get("FEEDWATCH_ALLOW_PRIVATE_NETWORKS", "") in {"1", "true", "yes"}


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # For a whole request, redirects and body included (not the wait for a host's slot).
    deadline: float = 60.0
    max_redirects: int = 5
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    max_concurrency: int = 16  # requests in flight, all hosts together
    per_host: int = 2  # requests in flight to one host
    host_delay: float = 1.0  # seconds between the starts of two page requests to one host
    user_agent: str = USER_AGENT


class HostGate:
    """Politeness, in-process: at most `per_host` requests to a host at once, and
    at least `delay` seconds between the starts of two paced ones (article pages);
    at most `total` requests in flight overall. (Prefect's global limits are too
    slow for this.)

    Feeds are not paced, only held to `per_host` at once: a feed is a small document
    made to be polled, which feed readers fetch without a delay, and an outlet's
    section feeds polled a second apart kept its pages waiting behind them. Crawling
    the pages is what the delay is for. A paced request whose answer was 304 Not
    Modified gives its wait back (`Turn.waive`): the host sent nothing.
    """

    def __init__(self, total: int, per_host: int, delay: float):
        self._total = threading.BoundedSemaphore(total)
        self._per_host = per_host
        self._delay = delay
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}

    @contextmanager
    def slot(self, host: str, *, paced: bool = True) -> Iterator[Turn]:
        with self._lock:
            h = self._hosts.get(host)
            if h is None:
                h = self._hosts[host] = _Host(self._per_host)
        with h.in_flight:
            if paced and self._delay > 0:
                with h.changed:  # waiting for this host must not hold up the others
                    while (wait := h.next_start - time.monotonic()) > 0:
                        h.changed.wait(wait)
                    h.next_start = time.monotonic() + self._delay
            with self._total:
                yield Turn(h)

    def next_start(self, host: str) -> float:
        """time.monotonic() before which no request to `host` may start (0: any time)."""
        h = self._hosts.get(host)
        return h.next_start if h is not None else 0.0


class _Host:
    def __init__(self, per_host: int):
        self.in_flight = threading.BoundedSemaphore(per_host)
        self.changed = threading.Condition()
        self.next_start = 0.0  # time.monotonic() before which no request may start


class Turn:
    """One request's turn at a host (HostGate.slot)."""

    def __init__(self, host: _Host):
        self._host = host

    def waive(self) -> None:
        """The host sent nothing (304): its next request need not wait."""
        with self._host.changed:
            self._host.next_start = min(self._host.next_start, time.monotonic())
            self._host.changed.notify()


def allowed_private_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Non-public networks fetches may reach: FEEDWATCH_ALLOW_PRIVATE_NETWORKS as a
    comma-separated list (e.g. 10.1.0.0/16 for a feed server inside the company);
    "1" allows every one (the demo and the tests)."""
    value = os.environ.get("FEEDWATCH_ALLOW_PRIVATE_NETWORKS", "")
    networks = []
    for part in value.split(","):
        if part.strip() and part.strip() not in {"1", "true", "yes", "0", "false", "no"}:
            with contextlib.suppress(ValueError):  # not a network: allows nothing
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
    return networks


def check_address(url: str) -> None:
    """Refuse URLs that are not http(s) or that resolve to a non-public address
    (loopback, private, link-local — cloud metadata at 169.254.169.254 —, reserved),
    unless allowed. Called for the URL and again for every redirect."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise PermanentFetchError(url, f"unsupported scheme {parts.scheme!r}")
    host = parts.hostname
    if not host:
        raise PermanentFetchError(url, "no host in URL")
    if private_networks_allowed():
        return
    allowed = allowed_private_networks()
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise TransientFetchError(url, f"cannot resolve {host}: {e.strerror}") from e
    for info in infos:
        refusal = _refusal(host, str(info[4][0]), allowed)
        if refusal:
            raise PermanentFetchError(url, refusal)


def _refusal(
    host: str, ip: str, allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str | None:
    """Why `ip` may not be reached, or None when it may."""
    address = ipaddress.ip_address(ip.split("%")[0])  # no IPv6 zone
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_global or any(address in n for n in allowed):
        return None
    return (
        f"refused: {host} resolves to non-public address {address} "
        "(set FEEDWATCH_ALLOW_PRIVATE_NETWORKS to allow)"
    )


def check_peer(url: str, sock: socket.socket) -> None:
    """The address actually connected to must pass the same rule: the name is resolved
    again to connect, and a DNS answer may change in between (DNS rebinding)."""
    if private_networks_allowed():
        return
    refusal = _refusal(
        urlsplit(url).hostname or "", sock.getpeername()[0], allowed_private_networks()
    )
    if refusal:
        _shut([sock])  # before a byte of the request is sent
        raise PermanentFetchError(url, refusal)


class Watchdog:
    """Shuts a request's sockets down at its deadline: one thread for every request
    of a Fetcher (a timer thread each cost more CPU than the rest of a request)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, list[socket.socket]]] = []
        self._armed: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, sockets: list[socket.socket]) -> int:
        """Watch `sockets` (filled in as they connect) until `deadline` (time.monotonic)."""
        token = next(self._ids)
        with self._wake:
            self._armed.add(token)
            heapq.heappush(self._due, (deadline, token, sockets))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="http-deadlines", daemon=True
                )
                self._thread.start()
            elif self._due[0][1] == token:  # sooner than the thread is waiting for
                self._wake.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._wake:
            self._armed.discard(token)

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._due and self._due[0][1] not in self._armed:
                    heapq.heappop(self._due)  # finished in time
                if not self._due:
                    self._wake.wait()
                    continue
                deadline, token, sockets = self._due[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._due)
                self._armed.discard(token)
                _shut(sockets)


# What stands in for the network in tests whose subject is not HTTP:
# (url, request headers) → (status, response headers, body).
Transport = Callable[[str, Mapping[str, str]], tuple[int, Mapping[str, str], bytes]]


class Fetcher:
    """A shared HTTP client. Thread-safe: one instance serves every task of a run.

    Requests go out through the standard library's http.client, one connection
    each, so the deadline watchdog always holds the socket it may have to cut; at
    a third of httpx's CPU a request, it is most of what polling feeds costs.
    Proxies come from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as
    curl and urllib read them."""

    def __init__(self, settings: HttpSettings | None = None, *, transport: Transport | None = None):
        """`transport` replaces the network (tests whose subject is not HTTP); the
        address checks, host limits, redirects and size caps still apply."""
        self.settings = settings or HttpSettings()
        s = self.settings
        # Only encodings feedwatch inflates itself, under the size cap.
        self._headers = {"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"}
        self._transport = transport
        self._tls: ssl.SSLContext | None = None  # made on the first https request
        self._proxies = {
            k: v for k, v in urllib.request.getproxies().items() if k in {"http", "https"}
        }
        self._gate = HostGate(s.max_concurrency, s.per_host, s.host_delay)
        self._watchdog = Watchdog()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass  # no connection outlives its request

    def next_start(self, host: str) -> float:
        """When the next request to `host` (a URL's netloc, lower case) may start."""
        return self._gate.next_start(host)

    def fetch_feed(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        headers = {
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self.get(url, headers=headers, max_bytes=self.settings.max_feed_bytes, paced=False)

    def fetch_page(self, url: str) -> FetchResult:
        headers = {"Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"}
        return self.get(url, headers=headers, max_bytes=self.settings.max_page_bytes)

    def get(
        self, url: str, *, headers: Mapping[str, str], max_bytes: int, paced: bool = True
    ) -> FetchResult:
        """GET a URL, following redirects by hand. Raises a FetchError subclass on failure.
        `paced`: keep the host's delay (HostGate)."""
        started = time.monotonic()
        # The deadline bounds the time spent on the request itself: waiting for a slot
        # behind slow responses from the same host does not count against it.
        budget = self.settings.deadline
        current = url
        hops: list[str] = []
        permanent = True
        while True:
            check_address(current)
            with self._gate.slot(urlsplit(current).netloc.lower(), paced=paced) as turn:
                hop_started = time.monotonic()
                status, response_headers, body = self._get_once(
                    current, headers, max_bytes, hop_started + budget
                )
                budget -= time.monotonic() - hop_started
                if status == 304 and paced:
                    turn.waive()
            if status in _REDIRECTS and "location" in response_headers:
                if len(hops) >= self.settings.max_redirects:
                    raise PermanentFetchError(
                        url, f"more than {self.settings.max_redirects} redirects", status=status
                    )
                hops.append(current)
                permanent = permanent and status in _PERMANENT
                current = urljoin(current, response_headers["location"])
                continue
            break
        elapsed = time.monotonic() - started
        if status == 304 or 200 <= status < 300:
            return FetchResult(
                url=url,
                final_url=current,
                status=status,
                headers=response_headers,
                content=body,
                elapsed_seconds=elapsed,
                redirects=tuple(hops),
                permanent_redirect=bool(hops) and permanent,
            )
        transient = status in _TRANSIENT_STATUS or status >= 500
        error = TransientFetchError if transient else PermanentFetchError
        raise error(
            url,
            f"HTTP {status}",
            status=status,
            retry_after=parse_retry_after(response_headers.get("retry-after")),
        )

    def _get_once(
        self, url: str, headers: Mapping[str, str], max_bytes: int, deadline: float
    ) -> tuple[int, dict[str, str], bytes]:
        if self._transport is not None:
            status, got, body = self._transport(url, {**self._headers, **headers})
            return status, {k.lower(): v for k, v in got.items()}, b"" if status >= 300 else body
        # Socket timeouts are per read: a server sending a byte a second, even of its
        # headers, never trips them. At the deadline the watchdog shuts the socket down.
        sockets: list[socket.socket] = []
        watch = self._watchdog.arm(deadline, sockets)
        connection: http.client.HTTPConnection | None = None
        try:
            parts = urlsplit(url)
            connection, target = self._connection(url, parts, sockets)
            connection.putrequest("GET", target, skip_accept_encoding=True)
            for name, value in {**self._headers, **headers}.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            response_headers: dict[str, str] = {}
            for name, value in response.getheaders():  # repeated headers joined, as HTTP allows
                key = name.lower()
                response_headers[key] = (
                    f"{response_headers[key]}, {value}" if key in response_headers else value
                )
            if response.status >= 300:
                return response.status, response_headers, b""
            return (
                response.status,
                response_headers,
                self._body(url, response, response_headers, max_bytes, deadline),
            )
        except FetchError:
            raise
        except (OSError, http.client.HTTPException) as e:
            if time.monotonic() >= deadline:
                raise self._late(url) from e
            raise TransientFetchError(url, _describe(e)) from e
        finally:
            self._watchdog.disarm(watch)
            if connection is not None:
                connection.close()

    def _connection(
        self, url: str, parts: SplitResult, sockets: list[socket.socket]
    ) -> tuple[http.client.HTTPConnection, str]:
        """A connection for `url` and the request target to send on it."""
        host, https = parts.hostname or "", parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proxy = self._proxies.get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(host):
            proxy = None
        tls = self._tls_context() if https else None
        if proxy:  # the operator's proxy: its own address is not checked
            p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            connection = _Connection(
                p.hostname or "", p.port or 8080, self.settings, sockets, tls, None
            )
            if https:
                connection.set_tunnel(host, port)
            else:
                target = parts._replace(fragment="").geturl()  # absolute form; Host from it
        else:
            connection = _Connection(host, port, self.settings, sockets, tls, url)
        return connection, target

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _body(
        self,
        url: str,
        response: http.client.HTTPResponse,
        headers: Mapping[str, str],
        max_bytes: int,
        deadline: float,
    ) -> bytes:
        """The body, inflated as declared, never more than `max_bytes`."""
        decoder = _decoder(url, headers.get("content-encoding", ""))
        chunks: list[bytes] = []
        size = 0
        while raw := response.read1(65536):
            if time.monotonic() > deadline:
                raise self._late(url, response.status)
            data = raw
            while data:
                if decoder is None:
                    chunk, data = data, b""
                else:
                    # Never more than fits under the cap (+1 to notice): a
                    # gzip bomb is stopped before it is inflated, not after.
                    try:
                        chunk = decoder.decompress(data, max_bytes - size + 1)
                    except zlib.error as e:
                        raise PermanentFetchError(
                            url, f"body not decodable as declared: {e}"
                        ) from e
                    data = decoder.unconsumed_tail
                size += len(chunk)
                if size > max_bytes:
                    raise PermanentFetchError(
                        url, f"body larger than {max_bytes} bytes", status=response.status
                    )
                chunks.append(chunk)
        # http.client ends a body quietly at the end of the stream: cut by the watchdog,
        # or by the server before the length it announced.
        if time.monotonic() >= deadline:
            raise self._late(url, response.status)
        if response.length:
            raise TransientFetchError(
                url,
                f"connection cut mid-body ({response.length} bytes missing)",
                status=response.status,
            )
        return b"".join(chunks)

    def _late(self, url: str, status: int | None = None) -> TransientFetchError:
        return TransientFetchError(
            url, f"not finished within the {self.settings.deadline:g} s deadline", status=status
        )


class _Connection(http.client.HTTPConnection):
    """http.client's connection, opened by feedwatch: every socket it connects is
    handed to the watchdog and, when `checked_url` is given, its peer checked
    before a byte is sent; TLS on top when `tls` is given."""

    def __init__(
        self,
        host: str,
        port: int,
        settings: HttpSettings,
        sockets: list[socket.socket],
        tls: ssl.SSLContext | None,
        checked_url: str | None,
    ):
        super().__init__(host, port, timeout=settings.connect_timeout)
        self._read_timeout = settings.read_timeout
        self._sockets = sockets
        self._tls = tls
        self._checked_url = checked_url

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self._sockets.append(sock)
        if self._checked_url is not None:
            check_peer(self._checked_url, sock)
        sock.settimeout(self._read_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        tunnel = getattr(self, "_tunnel_host", None)  # set_tunnel's: through a proxy
        if tunnel:
            self._tunnel()  # type: ignore[attr-defined]  # CONNECT, as http.client's connect does
        if self._tls is not None:
            server = tunnel or self.host
            self.sock = self._tls.wrap_socket(self.sock, server_hostname=server)
            self._sockets.append(self.sock)


def _describe(e: BaseException) -> str:
    """What went wrong on the wire, in a few words."""
    if isinstance(e, TimeoutError):
        return "timed out waiting for the server"
    if isinstance(e, http.client.IncompleteRead):
        return f"connection cut mid-body ({len(e.partial)} bytes read of a chunk)"
    if isinstance(e, http.client.RemoteDisconnected):
        return "connection closed before a response"
    return f"{type(e).__name__}: {e}"


def _decoder(url: str, encoding: str) -> Any:
    """A zlib decompressor for the body's Content-Encoding (None: as sent)."""
    encoding = encoding.strip().lower()
    if encoding in {"", "identity"}:
        return None
    if encoding in {"gzip", "x-gzip", "deflate"}:
        return zlib.decompressobj(47)  # zlib or gzip header, detected
    raise PermanentFetchError(url, f"unsupported content encoding {encoding!r}")


def _shut(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):  # closed meanwhile
            sock.shutdown(socket.SHUT_RDWR)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
