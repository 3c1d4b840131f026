"""A small static HTTP server on 127.0.0.1 for the demo site (and the tests).

Feeds answer conditional GETs (ETag / Last-Modified → 304) as real feed
servers do. Query strings are ignored for routing, so tracking parameters
reach the same page.
"""

from __future__ import annotations

import hashlib
import math
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from flows.demo.site import Route, render_site

__all__ = ["SiteServer", "demo_server"]

# Fixed, so that Last-Modified is stable across runs of the demo.
_LAST_MODIFIED = formatdate(1_735_689_600, usegmt=True)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer looks its address up in reverse DNS (getfqdn): 80 ms a server offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up mid-body (size caps, timeouts) are expected here.
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class SiteServer:
    """Serve a route table on a free port of 127.0.0.1 in a background thread.

    `routes` may be given as a function of the base URL, because feeds hold
    absolute links and the port is known only once the socket is bound.
    """

    def __init__(
        self,
        routes: Mapping[str, Route] | Callable[[str], Mapping[str, Route]],
        host: str = "127.0.0.1",
    ):
        # (path, headers, monotonic time) of every request, for tests and the curious.
        self.requests: list[tuple[str, dict[str, str], float]] = []
        # (arrived, sent) of every response: when its request was read, and just before
        # its last byte was written, from when the client may have the whole response.
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, 0), self._handler())
        self.base_url = f"http://{host}:{self._httpd.server_address[1]}"
        self.routes: dict[str, Route] = dict(routes(self.base_url) if callable(routes) else routes)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def max_in_flight(self) -> int:
        """The most requests this server was answering at once.

        A request counts from when it was read to just before its response's last
        byte went out, not to when its handler thread returned: a client that has
        its response may send its next request before that thread runs again (on a
        busy machine, milliseconds later), and the two would then seem to overlap.
        """
        with self._lock:
            edges = sorted([(a, 1) for a, _ in self.spans] + [(b, -1) for _, b in self.spans])
        peak = now = 0
        for _, step in edges:  # at a tie, an end (-1) sorts before a start
            now += step
            peak = max(peak, now)
        return peak

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                arrived = time.monotonic()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append((self.path, headers, arrived))
                self.sent = math.inf  # set by _send, just before the last byte goes out
                try:
                    self._serve(urlsplit(self.path).path)
                finally:
                    with server._lock:
                        server.spans.append((arrived, self.sent))

            def _serve(self, path: str) -> None:
                route = server.routes.get(path)
                if route is None:
                    self._send(
                        404, "text/html", b"<html><body><h1>Not found</h1></body></html>", ()
                    )
                    return
                etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                headers = route.headers
                given = {k.lower() for k, _ in headers}
                if (
                    route.status == 200
                    and "xml" in (route.content_type or "")
                    and "etag" not in given
                ):
                    headers = (*headers, ("ETag", etag), ("Last-Modified", _LAST_MODIFIED))
                    if self.headers.get("If-None-Match") == etag:
                        self._send(304, route.content_type, b"", headers)
                        return
                self._send(route.status, route.content_type, route.body, headers, route.drip)

            def _send(
                self,
                status: int,
                ctype: str | None,
                body: bytes,
                headers: tuple[tuple[str, str], ...],
                drip: float = 0.0,
            ) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if not any(k.lower() == "content-length" for k, _ in headers):
                    self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                if not body:
                    self.sent = time.monotonic()
                self.end_headers()
                if drip:
                    for i in range(len(body)):
                        if i:  # none after the last byte: the response is over once it is sent
                            time.sleep(drip)
                        if i == len(body) - 1:
                            self.sent = time.monotonic()
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                elif body:
                    self.sent = time.monotonic()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the demo prints its own summary

        return Handler


def demo_server(
    extra: Mapping[str, Route] | None = None, recent_to: datetime | None = None
) -> SiteServer:
    """The bundled demo site, plus any extra routes (the tests add broken feeds);
    with recent_to, its stories dated over the four weeks before that moment."""

    def routes(base: str) -> dict[str, Route]:
        r = render_site(base, recent_to)
        r.update(extra or {})
        return r

    return SiteServer(routes)
