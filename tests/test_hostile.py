"""One poll against a server that does everything wrong, beside a good feed.

Each hostile feed must end within the run's deadline with a clear error on
record, the good feed must load, and the poll's process must stay small. The
poll runs in its own process, so that its peak memory can be read, with only
127.0.0.1 allowed among non-public addresses: redirects elsewhere (cloud
metadata, a private network, another loopback address) are refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from flows.demo import RSS_PATH, SiteServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

GOOD_ITEM = (
    "<item><title>Kursk</title><link>{base}/story</link><guid>g1</guid>"
    "<description>North Korean troops reached Kursk.</description></item>"
)


def _rss(items: str, encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>t</title><link>http://127.0.0.1:9/</link>{items}</channel></rss>"
    ).encode("utf-8", "surrogateescape")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://127.0.0.1:9/a</link></item></channel></rss>"""


def _gzip_bomb() -> bytes:
    """1 GB of zeros, gzip-compressed to about 1 MB."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join([*(z.compress(block) for _ in range(1024)), z.flush()])


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bomb = b""

    def log_message(self, *args: object) -> None:
        pass

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.connection.getsockname()[1]}"
        path = self.path
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route(path, base)  # the client may give up, as it should

    def _route(self, path: str, base: str) -> None:
        xml = {"Content-Type": "application/rss+xml"}
        if path == "/drip-body.xml":
            body = _rss(GOOD_ITEM.format(base=base) * 20)
            self._head(200, {**xml, "Content-Length": str(len(body))})
            for i in range(len(body)):  # a byte a second
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(1)
        elif path == "/drip-headers.xml":
            for byte in (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Slow: " + b"a" * 600
            ):
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1)
        elif path == "/endless.xml":
            self._head(200, xml)  # no length: the body ends when the connection does
            self.wfile.write(b'<?xml version="1.0"?><rss><channel>')
            while True:
                self.wfile.write(GOOD_ITEM.format(base=base).encode() * 100)
        elif path == "/huge.xml":
            self._head(200, {**xml, "Content-Length": str(1 << 30)})
            block = bytes(1 << 16)
            for _ in range((1 << 30) // len(block)):
                self.wfile.write(block)
        elif path == "/bomb.xml":
            self._head(
                200,
                {**xml, "Content-Encoding": "gzip", "Content-Length": str(len(self.bomb))},
            )
            self.wfile.write(self.bomb)
        elif path == "/loop.xml":
            self._head(302, {"Location": "/loop.xml", "Content-Length": "0"})
        elif path == "/to-metadata.xml":
            self._head(
                302, {"Location": "http://169.254.169.254/latest/meta-data/", "Content-Length": "0"}
            )
        elif path == "/to-private.xml":
            self._head(302, {"Location": "http://10.0.0.1/feed.xml", "Content-Length": "0"})
        elif path == "/to-other-loopback.xml":
            port = self.connection.getsockname()[1]
            self._head(
                302, {"Location": f"http://127.0.0.2:{port}/good.xml", "Content-Length": "0"}
            )
        elif path in {"/pdf.xml", "/image.xml"}:
            body, ctype = (
                (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "application/pdf")
                if path == "/pdf.xml"
                else (b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png")
            )
            self._head(200, {"Content-Type": ctype, "Content-Length": str(len(body))})
            self.wfile.write(body)
        elif path == "/charsets.xml":
            # The header says UTF-8, the document windows-1251, and the bytes are neither.
            item = GOOD_ITEM.format(base=base).replace("Kursk", "Kursk \udcff\udcfe")
            body = _rss(item, encoding="windows-1251")
            self._head(
                200,
                {
                    "Content-Type": "application/rss+xml; charset=utf-8",
                    "Content-Length": str(len(body)),
                },
            )
            self.wfile.write(body)
        elif path == "/cut.xml":
            body = _rss(GOOD_ITEM.format(base=base) * 50)
            self._head(200, {**xml, "Content-Length": str(len(body))})
            self.wfile.write(body[:200])
            self.wfile.flush()
            self.connection.shutdown(2)  # mid-body
        elif path == "/429.xml":
            self._head(429, {"Retry-After": "120", "Content-Length": "0"})
        elif path == "/503.xml":
            later = formatdate(time.time() + 300, usegmt=True)
            self._head(503, {"Retry-After": later, "Content-Length": "0"})
        elif path == "/gone.xml":
            self._head(410, {"Content-Length": "0"})
        elif path == "/laughs.xml":
            self._head(200, {**xml, "Content-Length": str(len(BILLION_LAUGHS))})
            self.wfile.write(BILLION_LAUGHS)
        else:
            self._head(404, {"Content-Length": "0"})


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    Hostile.bomb = _gzip_bomb()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CASES: dict[str, str | tuple[str, ...]] = {
    # feed: what its error must say
    "drip-body": "deadline",
    "drip-headers": "deadline",
    "endless": ("larger than", "deadline"),
    "huge": ("larger than", "deadline"),
    "bomb": ("larger than", "deadline"),
    "loop": "redirects",
    "to-metadata": "169.254.169.254",
    "to-private": "10.0.0.1",
    "to-other-loopback": "127.0.0.2",
    "pdf": "not a feed",
    "image": "not a feed",
    "cut": "connection cut mid-body",
    "429": "HTTP 429",
    "503": "HTTP 503",
    "gone": "HTTP 410",
}

DEADLINE = 4


def test_a_poll_survives_a_hostile_server(
    hostile: str, site: SiteServer, topics_file: Path, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    lines = [
        "fetch:",
        "  host_delay: 0s",
        f"  deadline: {DEADLINE}s",
        "  read_timeout: 3s",
        "  max_feed_size: 2MB",
        "feeds:",
        f"  - name: good\n    url: {site.url(RSS_PATH)}",
        f"  - name: charsets\n    url: {hostile}/charsets.xml",
        f"  - name: laughs\n    url: {hostile}/laughs.xml",
    ] + [f"  - name: {name}\n    url: {hostile}/{name}.xml" for name in CASES]
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("\n".join(lines) + "\n")
    db = tmp_path / "w.duckdb"
    script = (
        "import json, resource, sys\n"
        "from flows.poll import poll_feeds\n"
        "s = poll_feeds(sys.argv[1], sys.argv[2], sys.argv[3], poll_all=True)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through
        # fork and exec, so it would report pytest's own size.
        "own = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(json.dumps({'failed': list(s.failed), 'articles': s.new_articles, 'peak_kb': peak}))\n"
    )
    env = dict(
        os.environ,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        FEEDWATCH_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32",  # the test's servers, nothing else
    )
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script, str(feeds), str(topics_file), str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak_mb = result["peak_kb"] / 1024  # the poll's process (and any worker it started)
    failed = dict(result["failed"])

    # The good feed loads, and so do the two that are only badly encoded.
    assert result["articles"] > 0
    assert "good" not in failed and "charsets" not in failed and "laughs" not in failed, failed
    for name, says in CASES.items():
        assert name in failed, (name, failed)
        expected = (says,) if isinstance(says, str) else says
        assert any(e in failed[name] for e in expected), (name, failed[name])
    print(f"hostile poll: {seconds:.1f} s, peak {peak_mb:.0f} MB, {len(failed)} feeds failed")
    # Within the deadline (plus the flow's own start), and small.
    assert seconds < 60, seconds
    # A decoded gzip bomb or a 1 GB body held whole would break this bound.
    assert peak_mb < 500, peak_mb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = dict(
            (r[0], r[1:])
            for r in con.execute(
                "SELECT feed_id, last_error, disabled_reason, next_due_at > now() + INTERVAL 100 SECOND"
                " FROM feeds"
            ).fetchall()
        )
        titles = [r[0] for r in con.execute("SELECT title FROM entries").fetchall()]
    finally:
        con.close()
    assert rows["gone"][1] is not None  # 410: disabled until enabled
    assert rows["429"][2] and rows["503"][2]  # Retry-After kept
    assert all(rows[name][0] for name in CASES)  # every failure on record
    assert any(t and "Kursk" in t for t in titles)
    assert not any(t and "lollol" * 100 in t for t in titles)  # no entity expansion
