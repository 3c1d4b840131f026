"""The poll's task bodies, called as plain functions (`task.fn`), with the network
replaced by a function (the Fetcher's `transport`): what is tested here is what the tasks make of
responses, not HTTP (test_http.py and test_hostile.py test that, over loopback)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from extractors.http import Fetcher, HttpSettings, Transport
from extractors.models import Article, Entries, EntryData, FeedSpec, FeedState, PageFetch
from flows.extract import PageExtractor
from flows.fetch import PageQueue, poll_group

DATA = Path(__file__).resolve().parent / "data"


Request = tuple[str, Mapping[str, str]]  # (URL, headers) as the Fetcher sent them


def _site(requests: list[Request]) -> Transport:
    """Feeds and pages from tests/data by path; a few paths that fail."""

    def handle(url: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        requests.append((url, headers))
        path = urlsplit(url).path
        if path == "/down.xml":
            return 503, {"Retry-After": "120"}, b""
        if path == "/gone.xml":
            return 410, {}, b""
        if path == "/cached.xml" and headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        folder = "pages" if path.startswith("/pages/") else "feeds"
        file = DATA / folder / path.rsplit("/", 1)[1].replace("cached.xml", "rss2.xml")
        if not file.exists():
            return 404, {}, b"not here"
        return 200, {"ETag": '"v1"', "Cache-Control": "max-age=600"}, file.read_bytes()

    return handle


def _state(spec: FeedSpec, etag: str) -> FeedState:
    return FeedState(feed_id=spec.name, url=spec.url, config_url=spec.url, etag=etag)


def test_a_feed_group_reads_every_feed_and_records_each_failure() -> None:
    requests: list[Request] = []
    specs = {
        name: FeedSpec(name, f"http://wire.test/{name}.xml")
        for name in ("rss2", "atom", "down", "gone", "cached")
    }
    feeds = [(s, _state(s, '"v1"') if s.name == "cached" else None) for s in specs.values()]
    with Fetcher(HttpSettings(host_delay=0), transport=_site(requests)) as fetcher:
        polls = {p.feed.name: p for p in poll_group.fn("wire", feeds, fetcher)}

    golden = json.loads((DATA / "feeds" / "rss2.json").read_text(encoding="utf-8"))
    rss2 = polls["rss2"]
    assert rss2.ok and rss2.status == 200 and rss2.etag == '"v1"'
    # As the golden file (the GUID of an item without one is made from the feed's URL).
    assert [(e.link, e.title) for e in rss2.entries] == [
        (e["link"], e["title"]) for e in golden["entries"]
    ]
    assert rss2.cache_seconds == 1800  # the feed's <ttl> beats the header's 600 s
    assert polls["atom"].ok and len(polls["atom"].entries) == 2
    # A 304 is not parsed: no entries, nothing wrong.
    assert polls["cached"].ok and polls["cached"].status == 304 and not polls["cached"].entries
    assert (
        requests[[urlsplit(u).path for u, _ in requests].index("/cached.xml")][1]["If-None-Match"]
        == '"v1"'
    )
    down, gone = polls["down"], polls["gone"]
    assert not down.ok and down.transient and down.retry_after == 120 and down.status == 503
    assert not gone.ok and not gone.transient and gone.status == 410
    assert all(h["User-Agent"].startswith("feedwatch/") for _, h in requests)


def test_the_page_queue_fetches_each_page_and_keeps_its_entries() -> None:
    requests: list[Request] = []
    now = datetime.now(UTC)
    urls = [
        "http://herald.test/pages/jsonld-news.html",
        "http://herald.test/pages/missing.html",
        "http://other.test/pages/jsonld-news.html",
    ]
    items: dict[str, Entries] = {
        url: (("wire", EntryData(f"g{i}", url, "Entry", now, None, None, None)),)
        for i, url in enumerate(urls)
    }
    got: dict[str, tuple[PageFetch, Article]] = {}

    def done(page: PageFetch, article: Article, _: object) -> None:
        got[page.url] = page, article

    with (
        Fetcher(HttpSettings(host_delay=0), transport=_site(requests)) as fetcher,
        PageExtractor(workers=1) as extractor,
    ):
        queue = PageQueue(fetcher, lambda page: extractor.submit(page, done))
        queue.add(dict(list(items.items())[:2]))

        # Pages added while the threads run (a feed planned later) are fetched too.
        def later() -> None:
            queue.add(dict(list(items.items())[2:]))
            queue.close()

        adding = threading.Timer(0.2, later)
        adding.start()
        assert queue.run(threads=2) == 3
        adding.join()
    assert sorted(got) == sorted(urls)
    assert all(got[u][0].entries == items[u] for u in urls)
    found, missing = got[urls[0]][0], got[urls[1]][0]
    assert found.status == 200 and found.error is None
    assert found.html is None  # handed on without its HTML once extracted
    assert missing.status == 404 and missing.error == "HTTP 404"
    golden = json.loads((DATA / "pages" / "jsonld-news.json").read_text(encoding="utf-8"))
    article = got[urls[0]][1]
    assert article.text == golden["text"] and article.title == golden["title"]
    assert got[urls[1]][1].text_source != "extracted"  # no page: the feed's text, or nothing
