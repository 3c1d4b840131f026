"""Extraction in worker processes gives exactly what extraction in line gives."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

from conftest import corpora
from extractors.models import EntryData, PageFetch
from flows.extract import POOL_MIN_PAGES, extract_pages


def _pages(bodies: list[tuple[str, bytes]]) -> list[PageFetch]:
    now = datetime.now(UTC)
    return [
        PageFetch(
            url,
            (("feed", EntryData(url, url, f"Entry {i}", None, None, "A summary.", None)),),
            now,
            url,
            200,
            body,
        )
        for i, (url, body) in enumerate(bodies)
    ]


def test_the_pool_extracts_the_demo_pages_as_in_line() -> None:
    from flows.demo import load_articles, render_site

    routes = render_site("http://127.0.0.1:1")
    _, _, articles = load_articles()
    bodies = [
        (f"http://127.0.0.1:1/copy{k}{a.path}", routes[a.path].body)
        for k in range(3)
        for a in articles
    ]
    bodies.append(("http://127.0.0.1:1/missing", b""))  # a page that could not be fetched
    pages = _pages(bodies)
    assert len(pages) >= POOL_MIN_PAGES
    in_line = extract_pages(pages, workers=1)
    pooled = extract_pages(pages, workers=2)
    assert pooled == in_line
    assert [a.url for a in pooled] == [p.url for p in pages]  # in order
    assert pooled[-1].text_source == "feed_summary"


def test_the_pool_extracts_real_pages_as_in_line() -> None:
    folder = corpora() / "articles" / "scrapinghub-aeb" / "html"
    files = sorted(folder.glob("*.html.gz"))
    assert len(files) >= 100
    pages = _pages(
        [(f"https://news.example/{f.name}", gzip.decompress(f.read_bytes())) for f in files]
    )
    assert extract_pages(pages, workers=2) == extract_pages(pages, workers=1)
