"""The only module of feedwatch that talks to the network.

Everything about fetching lives here, so it is tested once: timeouts, the
User-Agent, redirects (followed by hand, so every hop is checked), size caps
enforced while streaming, conditional GET, and the guard that keeps feedwatch
off loopback and private networks unless FEEDWATCH_ALLOW_PRIVATE_NETWORKS=1.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from extractors.errors import FetchError, PermanentFetchError, TransientFetchError
from extractors.models import FetchResult

__all__ = [
    "USER_AGENT",
    "Fetcher",
    "HostGate",
    "HttpSettings",
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
    host_delay: float = 1.0  # seconds between the starts of two requests to one host
    user_agent: str = USER_AGENT


class HostGate:
    """Politeness, in-process: at most `per_host` requests to a host at once, and
    at least `delay` seconds between the starts of two of them; at most `total`
    requests in flight overall. (Prefect's global limits are too slow for this.)
    """

    def __init__(self, total: int, per_host: int, delay: float):
        self._total = threading.BoundedSemaphore(total)
        self._per_host = per_host
        self._delay = delay
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            gate = self._hosts.setdefault(host, threading.BoundedSemaphore(self._per_host))
        with gate:
            if self._delay > 0:
                with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start.get(host, 0.0))
                    self._next_start[host] = start + self._delay
                if start > now:  # waiting for this host must not hold up the others
                    time.sleep(start - now)
            with self._total:
                yield


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


class Fetcher:
    """A shared HTTP client. Thread-safe: one instance serves every task of a run."""

    def __init__(
        self, settings: HttpSettings | None = None, *, transport: httpx.BaseTransport | None = None
    ):
        """`transport` replaces the network (httpx.MockTransport, for code whose subject
        is not HTTP); the address checks and host limits still apply."""
        self.settings = settings or HttpSettings()
        s = self.settings
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            # Only encodings feedwatch inflates itself, under the size cap.
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,
            # No keep-alive: every request opens its own connection, so the deadline
            # watchdog (see _get_once) always holds the socket it may have to cut.
            limits=httpx.Limits(max_connections=s.max_concurrency, max_keepalive_connections=0),
        )
        self._gate = HostGate(s.max_concurrency, s.per_host, s.host_delay)
        self._watchdog = Watchdog()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

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
        return self.get(url, headers=headers, max_bytes=self.settings.max_feed_bytes)

    def fetch_page(self, url: str) -> FetchResult:
        headers = {"Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"}
        return self.get(url, headers=headers, max_bytes=self.settings.max_page_bytes)

    def get(self, url: str, *, headers: Mapping[str, str], max_bytes: int) -> FetchResult:
        """GET a URL, following redirects by hand. Raises a FetchError subclass on failure."""
        started = time.monotonic()
        # The deadline bounds the time spent on the request itself: waiting for a slot
        # behind slow responses from the same host does not count against it.
        budget = self.settings.deadline
        current = url
        hops: list[str] = []
        permanent = True
        while True:
            check_address(current)
            with self._gate.slot(urlsplit(current).netloc.lower()):
                hop_started = time.monotonic()
                status, response_headers, body = self._get_once(
                    current, headers, max_bytes, hop_started + budget
                )
                budget -= time.monotonic() - hop_started
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
        # httpx's timeouts are per read: a server sending a byte a second, even of its
        # headers, never trips them. At the deadline a watchdog shuts the socket down.
        sockets: list[socket.socket] = []

        def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":
                sock = info["return_value"].get_extra_info("socket")
                if sock is not None:
                    sockets.append(sock)
                    check_peer(url, sock)

        watch = self._watchdog.arm(deadline, sockets)
        try:
            with self._client.stream(
                "GET", url, headers=dict(headers), extensions={"trace": trace}
            ) as response:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code >= 300:
                    return response.status_code, response_headers, b""
                decoder = _decoder(url, response_headers.get("content-encoding", ""))
                chunks: list[bytes] = []
                size = 0
                for raw in response.iter_raw():
                    if time.monotonic() > deadline:
                        raise self._late(url, response.status_code)
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
                                url,
                                f"body larger than {max_bytes} bytes",
                                status=response.status_code,
                            )
                        chunks.append(chunk)
                return response.status_code, response_headers, b"".join(chunks)
        except FetchError:
            raise
        except httpx.HTTPError as e:
            if time.monotonic() >= deadline:
                raise self._late(url) from e
            if isinstance(e, httpx.TimeoutException):
                raise TransientFetchError(url, f"timed out ({type(e).__name__})") from e
            raise TransientFetchError(url, f"{type(e).__name__}: {e}") from e
        finally:
            self._watchdog.disarm(watch)

    def _late(self, url: str, status: int | None = None) -> TransientFetchError:
        return TransientFetchError(
            url, f"not finished within the {self.settings.deadline:g} s deadline", status=status
        )


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
