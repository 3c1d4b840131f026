"""What each step costs an article in CPU, against a bare trafilatura.extract loop, in one process.

    python benchmarks/bench_cpu.py [--repeat 5]

The real news pages of the shared corpus (else the demo's). Each round takes
every page through each step in turn, the baseline first, so that the machine's
drift touches all of them alike; a step's figure is its median over the rounds,
in CPU milliseconds a page and as a share of the baseline. HTTP is a GET of each
page from an outlet on loopback (its own process; politeness off, it measures
the client); the feed is parsed once for every six pages (the end-to-end
benchmark's outlets: a feed of six entries an outlet); IPC is what the flow's
process and a worker do to hand a page over and its article back.

This is the work feedwatch does per article; bench_e2e measures the whole poll
(Prefect, planning, the load, processes) against the same baseline.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura
from trafilatura.utils import load_html

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _outlets import TOPICS, Outlets, rss
from _pages import page_fetches

from extractors.articles import detect_language, extract_article, extract_text, page_metadata
from extractors.dedup import canonical_url, content_hash, signature
from extractors.feeds import parse_feed
from extractors.http import Fetcher, HttpSettings
from flows.settings import load_topics

ENTRIES_PER_FEED = 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["FEEDWATCH_ALLOW_PRIVATE_NETWORKS"] = "1"  # the outlets are on loopback
    label, pages = page_fetches()
    bodies = [p.html or b"" for p in pages]
    n = len(bodies)
    topics = load_topics(TOPICS)
    feed = rss("http://127.0.0.2:8000", [f"/wire0/{i}.html" for i in range(ENTRIES_PER_FEED)])

    with Outlets(n, min(n, 100)) as outlets, Fetcher(HttpSettings(host_delay=0)) as fetcher:
        urls = [
            e.link
            for u in outlets.feeds
            for e in parse_feed(fetcher.fetch_feed(u).content, {}, u).entries
            if e.link
        ]
        assert len(urls) == n, (len(urls), n)
        # Each step over all pages; what one step returns, the next takes.
        trees: list[Any] = []
        texts: list[str] = []
        articles: list[Any] = []
        steps: dict[str, Callable[[], object]] = {
            "baseline: trafilatura.extract": lambda: [trafilatura.extract(b) for b in bodies],
            "HTTP GET (client side)": lambda: [fetcher.fetch_page(u) for u in urls],
            "feed parsing": lambda: [
                parse_feed(feed, {}, "http://127.0.0.2:8000/feed.xml")
                for _ in range(n // ENTRIES_PER_FEED)
            ],
            "IPC: page out, article back": lambda: (
                [
                    pickle.loads(pickle.dumps((b, u, None, None)))
                    for b, u in zip(bodies, urls, strict=True)
                ]
                + [pickle.loads(pickle.dumps(a)) for a in articles]
            ),
            "HTML parsing": lambda: trees.__setitem__(slice(None), [load_html(b) for b in bodies]),
            "page metadata": lambda: [page_metadata(t, "https://x.example/a") for t in trees],
            "text extraction (fast, no retry)": lambda: texts.__setitem__(
                slice(None), [extract_text(t) for t in trees]
            ),
            "language": lambda: [detect_language(t, b) for t, b in zip(texts, bodies, strict=True)],
            "near-duplicate signature": lambda: [signature(t) for t in texts],
            "content hash, canonical URL": lambda: [
                (content_hash(t), canonical_url(u)) for t, u in zip(texts, urls, strict=True)
            ],
            "topic matching": lambda: [topics.match(None, t) for t in texts],
            "extract_article (all of the above in a worker)": lambda: articles.__setitem__(
                slice(None), [extract_article(b, url=u) for b, u in zip(bodies, urls, strict=True)]
            ),
        }
        for fn in steps.values():  # warm up: models, caches, connections
            fn()
        spent: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.repeat):
            for name, fn in steps.items():
                t0 = time.process_time()
                fn()
                spent[name].append(time.process_time() - t0)

    ms = {name: 1000 * statistics.median(v) / n for name, v in spent.items()}
    base = ms["baseline: trafilatura.extract"]
    print(f"CPU per article: {label}, median of {args.repeat} rounds, in one process")
    for name, value in ms.items():
        print(f"  {name:48s} {value:6.2f} ms  {value / base:5.2f}")
    per_article = sum(v for k, v in ms.items() if not k.startswith(("baseline", "extract_article")))
    print(f"  {'sum of the steps / baseline':48s} {per_article:6.2f} ms  {per_article / base:5.2f}")


if __name__ == "__main__":
    main()
