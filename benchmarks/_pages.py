"""Pages for the benchmarks: the real news pages of the shared corpus, else the demo site."""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path


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
