"""Extraction in worker processes gives exactly what extraction in line gives."""

from __future__ import annotations

import gzip
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import corpora
from extractors.models import Article, EntryData, PageFetch
from flows.extract import POOL_MIN_PAGES, PageExtractor, extract_on_dask, extract_pages
from flows.settings import load_topics

ROOT = Path(__file__).resolve().parent.parent

# Worker processes and Dask: every test here starts processes.
pytestmark = pytest.mark.slow


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
        for k in range(5)
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


def test_workers_match_the_topics_as_the_flow_would() -> None:
    # The workers match each article as they extract it, against the topics sent to
    # them once; what they find is what the flow's own matcher finds in line.
    folder = corpora() / "articles" / "scrapinghub-aeb" / "html"
    files = sorted(folder.glob("*.html.gz"))
    pages = _pages(
        [(f"https://news.example/{f.name}", gzip.decompress(f.read_bytes())) for f in files]
    )
    topics = load_topics(ROOT / "topics.yaml")
    matched: dict[str, tuple[Any, ...]] = {}

    def done(page: PageFetch, article: Article, matches: tuple[Any, ...]) -> None:
        matched[page.url] = matches

    with PageExtractor(len(pages), workers=2, topics=topics) as extractor:
        assert extractor.workers == 2
        for page in pages:
            extractor.submit(page, done)
    in_line = [tuple(topics.match(a.title, a.text)) for a in extract_pages(pages, workers=1)]
    assert [matched[p.url] for p in pages] == in_line
    assert sum(1 for ms in in_line if ms) >= 5  # articles with terms of a topic, to compare


def test_workers_that_cannot_start_leave_the_pages_to_be_extracted_in_line() -> None:
    # Code piped to python has a main module the workers cannot import: the pool
    # breaks, and the pages are extracted in line all the same.
    script = """
from datetime import UTC, datetime
from extractors.models import Article, EntryData, PageFetch
from flows.extract import extract_pages
html = b"<html><body><article><p>" + b"North Korea sent troops to Kursk. " * 40 + b"</p></article></body></html>"
entry = EntryData("g", "https://n.example/1", "T", None, None, None, None)
pages = [PageFetch(f"https://n.example/{i}", (("f", entry),), datetime.now(UTC), None, 200, html) for i in range(4)]
articles = extract_pages(pages, workers=2)
print(len(articles), sum("Kursk" in a.text for a in articles))
"""
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["4", "4"]
    assert "extraction workers failed" in done.stderr


@pytest.mark.usefixtures("prefect_harness")
def test_dask_extracts_megabytes_of_real_pages_as_in_line() -> None:
    # 60 real pages, ~10 MB of HTML: far more than Prefect keeps as a run's parameters.
    folder = corpora() / "articles" / "scrapinghub-aeb" / "html"
    files = sorted(folder.glob("*.html.gz"))[:60]
    pages = _pages(
        [(f"https://news.example/{f.name}", gzip.decompress(f.read_bytes())) for f in files]
    )
    assert sum(len(p.html or b"") for p in pages) > 4_000_000
    assert extract_on_dask(pages, "local", 2) == extract_pages(pages, workers=1)
