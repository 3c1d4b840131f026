"""Pages for the benchmarks: the real news pages of the shared corpus, else the demo site."""

from __future__ import annotations

import gzip
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from extractors.models import EntryData, PageFetch


def article_pages(limit: int | None = None) -> tuple[str, list[bytes]]:
    corpora = os.environ.get("FEEDWATCH_CORPORA")
    if corpora and (Path(corpora) / "articles" / "scrapinghub-aeb" / "html").is_dir():
        folder = Path(corpora) / "articles" / "scrapinghub-aeb" / "html"
        files = sorted(folder.glob("*.html.gz"))[:limit]
        return f"{len(files)} real news pages", [gzip.decompress(p.read_bytes()) for p in files]
    print("FEEDWATCH_CORPORA not set: using the demo site's pages", file=sys.stderr)
    from flows.demo import load_articles, render_site

    routes = render_site("http://127.0.0.1:1")
    _, _, articles = load_articles()
    return f"{len(articles)} demo pages", [routes[a.path].body for a in articles]


def eval_pages() -> list[bytes]:
    """The 481 pages of trafilatura's evaluation corpus (development half): news, blogs,
    forums in many languages, never used to tune feedwatch's speed."""
    corpora = os.environ.get("FEEDWATCH_CORPORA")
    folder = Path(corpora or "../shared/corpora") / "articles" / "trafilatura-eval-dev" / "html"
    if not folder.is_dir():
        raise SystemExit(f"{folder}: not found (set FEEDWATCH_CORPORA)")
    return [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.gz"))]


def page_fetches(copies: int = 1) -> tuple[str, list[PageFetch]]:
    """The pages as a poll run holds them after fetching, `copies` times over (each copy
    under its own host), with one feed entry each."""
    label, bodies = article_pages()
    now = datetime.now(UTC)
    pages = [
        PageFetch(
            url, (("feed", EntryData(url, url, None, None, None, None, None)),), now, url, 200, body
        )
        for k in range(copies)
        for i, body in enumerate(bodies)
        for url in [f"https://news{k}.example/{i}"]
    ]
    return f"{label} × {copies}", pages
