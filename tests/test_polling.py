"""Polling behaviour against a loopback server that records every request it gets."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from conftest import read_rows, write_feeds
from flows.demo import RSS_PATH, Route, SiteServer
from flows.poll import RunSummary, poll_feeds

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
runner = CliRunner()

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><guid>one</guid><description>First entry, long enough to keep.</description></item>
</channel></rss>"""


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer({"/feed.xml": Route(200, "application/rss+xml", FEED)}) as s:
        yield s


def _poll(feeds: Path, topics: Path, db: Path, *, poll_all: bool = True) -> RunSummary:
    return poll_feeds(str(feeds), str(topics), str(db), poll_all=poll_all)


def _requests(server: SiteServer, path: str) -> list[dict[str, str]]:
    return [h for p, h, _ in server.requests if p.split("?")[0] == path]


def test_conditional_get_and_due_feeds(
    server: SiteServer, tmp_path: Path, topics_file: Path, db: Path
) -> None:
    feeds = write_feeds(
        tmp_path / "feeds.yaml", {"f": server.url("/feed.xml")}, extra="fetch_pages: false"
    )
    first = _poll(feeds, topics_file, db)
    assert first.new_entries == 1
    # Not due yet: a scheduled run leaves it alone.
    skipped = _poll(feeds, topics_file, db, poll_all=False)
    assert (skipped.feeds_polled, skipped.feeds_skipped) == (0, 1)
    assert len(_requests(server, "/feed.xml")) == 1
    # Polled anyway: the validators go back, the server answers 304, nothing is parsed.
    again = _poll(feeds, topics_file, db)
    sent = _requests(server, "/feed.xml")[-1]
    assert sent["if-none-match"].startswith('"')
    assert sent["if-modified-since"].endswith("GMT")
    assert again.not_modified == 1 and again.entries_seen == 0
    rows = read_rows(db, "SELECT status, entries_seen, ok FROM feed_fetches ORDER BY fetched_at")
    assert rows == [(200, 1, True), (304, 0, True)]
    assert "feedwatch" in sent["user-agent"]


def test_server_hints_and_retry_after(tmp_path: Path, topics_file: Path, db: Path) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=3), usegmt=True)
    routes = {
        "/busy.xml": Route(429, "text/plain", b"slow down", (("Retry-After", "7200"),)),
        "/down.xml": Route(503, "text/plain", b"maintenance", (("Retry-After", later),)),
        "/cached.xml": Route(
            200, "application/rss+xml", FEED, (("Cache-Control", "max-age=14400"),)
        ),
        "/ttl.xml": Route(
            200,
            "application/rss+xml",
            FEED.replace(b"<title>T</title>", b"<title>T</title><ttl>300</ttl>"),
        ),
        "/plain.xml": Route(200, "application/rss+xml", FEED),
    }
    with SiteServer(routes) as s:
        feeds = write_feeds(
            tmp_path / "feeds.yaml",
            {name.strip("/").removesuffix(".xml"): s.url(name) for name in routes},
            extra="fetch_pages: false",
        )
        summary = _poll(feeds, topics_file, db)
    assert {n for n, _ in summary.failed} == {"busy", "down"}
    due = {
        name: (due_at - polled).total_seconds() / 3600
        for name, due_at, polled in read_rows(
            db, "SELECT feed_id, next_due_at, last_polled_at FROM feeds"
        )
    }
    assert due["busy"] >= 2.0  # Retry-After: 7200 seconds
    assert due["down"] >= 2.9  # Retry-After: an HTTP date three hours away
    assert 3.5 <= due["cached"] <= 4.5  # max-age=14400
    assert 4.4 <= due["ttl"] <= 5.6  # <ttl>300</ttl> minutes
    assert due["plain"] <= 0.3  # the 15 min interval


def test_permanent_redirects_move_a_feed_temporary_ones_never(
    tmp_path: Path, topics_file: Path, db: Path
) -> None:
    routes = {
        "/old.xml": Route(301, None, b"", (("Location", "/new.xml"),)),
        "/new.xml": Route(200, "application/rss+xml", FEED),
        "/temp.xml": Route(302, None, b"", (("Location", "/elsewhere.xml"),)),
        "/elsewhere.xml": Route(200, "application/rss+xml", FEED.replace(b"one", b"two")),
    }
    with SiteServer(routes) as s:
        feeds = write_feeds(
            tmp_path / "feeds.yaml",
            {"moved": s.url("/old.xml"), "temp": s.url("/temp.xml")},
            extra="fetch_pages: false",
        )
        for _ in range(4):
            _poll(feeds, topics_file, db)
        old, temp = len(_requests(s, "/old.xml")), len(_requests(s, "/temp.xml"))
    assert old == 3  # three polls saw the 301; the fourth went straight to the new URL
    assert temp == 4  # a temporary redirect never moves a feed
    urls = dict(read_rows(db, "SELECT feed_id, url FROM feeds"))
    assert urls["moved"].endswith("/new.xml") and urls["temp"].endswith("/temp.xml")
    config_urls = dict(read_rows(db, "SELECT feed_id, config_url FROM feeds"))
    assert config_urls["moved"].endswith("/old.xml")


def test_gone_feeds_are_disabled_until_enabled(tmp_path: Path, topics_file: Path, db: Path) -> None:
    routes = {"/gone.xml": Route(410, "text/plain", b"gone")}
    with SiteServer(routes) as s:
        feeds = write_feeds(tmp_path / "feeds.yaml", {"gone": s.url("/gone.xml")})
        _poll(feeds, topics_file, db)
        reason = read_rows(db, "SELECT disabled_reason FROM feeds")[0][0]
        assert isinstance(reason, str) and "410" in reason
        status = runner.invoke(app, ["feeds", "status", "--db", str(db)])
        assert "gone" in status.output and "disabled" in status.output
        assert _poll(feeds, topics_file, db).feeds_polled == 0  # --all included
        assert len(_requests(s, "/gone.xml")) == 1
        enabled = runner.invoke(
            app, ["feeds", "enable", "gone", "--db", str(db), "--feeds", str(feeds)]
        )
        assert enabled.exit_code == 0, enabled.output
        s.routes["/gone.xml"] = Route(200, "application/rss+xml", FEED)
        assert _poll(feeds, topics_file, db, poll_all=False).feeds_polled == 1
    assert read_rows(db, "SELECT disabled_reason, error_count FROM feeds") == [(None, 0)]


def test_slow_and_oversized_feeds_fail_alone(tmp_path: Path, topics_file: Path, db: Path) -> None:
    routes = {
        "/drip.xml": Route(200, "application/rss+xml", FEED, drip=0.05),
        "/huge.xml": Route(200, "application/rss+xml", FEED + b" " * 50_000),
        "/good.xml": Route(200, "application/rss+xml", FEED),
    }
    with SiteServer(routes) as s:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            "fetch:\n  deadline: 1s\n  max_feed_size: 20KB\n  host_delay: 0s\n"
            "feeds:\n"
            + "".join(
                f"  - name: {n}\n    url: {s.url(f'/{n}.xml')}\n    fetch_pages: false\n"
                for n in ("drip", "huge", "good")
            )
        )
        started = datetime.now(UTC)
        summary = _poll(feeds, topics_file, db)
    assert datetime.now(UTC) - started < timedelta(seconds=30)
    failed = dict(summary.failed)
    assert "deadline" in failed["drip"]
    assert "larger than 20480 bytes" in failed["huge"]
    assert summary.new_entries == 1  # the good feed loaded


def test_per_host_politeness(tmp_path: Path, topics_file: Path, db: Path) -> None:
    # Three section feeds of one outlet, and the six pages they lead to, on its one host.
    page = (
        b"<html><body><article><p>" + b"A report long enough to extract. " * 30 + b"</p></article>"
    )

    def feed(i: int) -> bytes:
        items = "".join(
            f"<item><title>S{k}</title><link>{{base}}/p{k}.html</link><guid>p{k}</guid></item>"
            for k in (2 * i, 2 * i + 1)
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()

    def routes(base: str) -> dict[str, Route]:
        table = {
            f"/p{k}.html": Route(
                200, "text/html", page.replace(b"A report", f"R{k}".encode()), drip=0.0002
            )
            for k in range(6)
        }
        for i in range(3):
            table[f"/f{i}.xml"] = Route(
                200, "application/rss+xml", feed(i).replace(b"{base}", base.encode())
            )
        return table

    with SiteServer(routes) as s:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            "fetch:\n  host_delay: 200ms\n  per_host: 2\nfeeds:\n"
            + "".join(f"  - name: f{i}\n    url: {s.url(f'/f{i}.xml')}\n" for i in range(3))
        )
        summary = _poll(feeds, topics_file, db)
        feed_starts = sorted(t for p, _, t in s.requests if p.endswith(".xml"))
        page_starts = sorted(t for p, _, t in s.requests if p.endswith(".html"))
        peak = s.max_in_flight
    assert summary.new_articles == 6
    assert len(feed_starts) == 3 and len(page_starts) == 6
    # Feeds are not paced (feed readers poll an outlet's feeds at once): the three
    # go out two at a time, well inside one delay.
    assert feed_starts[-1] - feed_starts[0] < 0.2, feed_starts
    gaps = [b - a for a, b in itertools.pairwise(page_starts)]
    # 200 ms between two page requests to one host, as the server sees them: its
    # threads may note a request late on a busy machine, so allow for that (without
    # the gate the gaps are a few milliseconds).
    assert min(gaps) >= 0.1, gaps
    assert sum(gaps) >= 0.9, gaps  # five gaps of 200 ms, give or take the noise
    assert peak <= 2  # as the server answered them: until each response's last byte


def test_feeds_add_discovers_and_the_next_run_polls_them(
    site: SiteServer, tmp_path: Path, topics_file: Path, db: Path
) -> None:
    page = next(p for p in site.routes if p.startswith("/news/"))
    added = runner.invoke(app, ["feeds", "add", site.url(page), "--db", str(db), "--tags", "demo"])
    assert added.exit_code == 0, added.output
    assert added.output.count("Added ") == 2
    again = runner.invoke(app, ["feeds", "add", site.url(RSS_PATH), "--db", str(db)])
    assert "already knows" in again.output
    not_a_feed = runner.invoke(app, ["feeds", "add", site.url("/broken/html.xml"), "--db", str(db)])
    assert not_a_feed.exit_code == 2 and "neither a feed nor a page" in not_a_feed.output

    empty = tmp_path / "feeds.yaml"
    empty.write_text("fetch:\n  host_delay: 0s\nfeeds: []\n")
    summary = _poll(empty, topics_file, db)
    assert summary.feeds_polled == 2 and summary.new_articles == 20

    exported = runner.invoke(app, ["feeds", "export-opml", "--db", str(db), "--feeds", str(empty)])
    assert exported.exit_code == 0
    assert exported.output.count("<outline") == 2 and 'category="demo"' in exported.output
    assert "The Peninsula Monitor" in exported.output


def test_import_opml(tmp_path: Path, db: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        """<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
        <outline text="Korea"><outline type="rss" text="NK News" xmlUrl="https://nk.example/feed"/>
          <outline type="rss" text="Yonhap" xmlUrl="https://yna.example/rss.xml"/></outline>
        <outline type="rss" text="World" xmlUrl="https://world.example/rss" category="world,/news"/>
        <outline type="rss" text="Dup" xmlUrl="https://world.example/rss"/>
        </body></opml>"""
    )
    result = runner.invoke(app, ["feeds", "import-opml", str(opml), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "Added 3 feeds (0 already known)" in result.output
    rows = read_rows(db, "SELECT feed_id, tags, source FROM feeds ORDER BY feed_id")
    assert rows == [
        ("nk-news", ["Korea"], "opml"),
        ("world", ["world", "news"], "opml"),
        ("yonhap", ["Korea"], "opml"),
    ]
    again = runner.invoke(app, ["feeds", "import-opml", str(opml), "--db", str(db)])
    assert "Added 0 feeds (3 already known)" in again.output
    bad = tmp_path / "bad.opml"
    bad.write_text("<html><body>no</body></html>")
    result = runner.invoke(app, ["feeds", "import-opml", str(bad), "--db", str(db)])
    assert result.exit_code == 2 and "not an OPML document" in result.output
