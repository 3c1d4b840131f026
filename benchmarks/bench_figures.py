"""What reading the figures of topic hits adds to an article's CPU, measured in one process.

    FEEDWATCH_CORPORA=../shared/corpora python benchmarks/bench_figures.py [--repeat 5]

The labelled news texts of the corpora (topics-real, topics-china-russia: every one
about the topics or near them, so hits are many more than in a real poll) are
matched against the default topics with figures and without (the matcher's figure
step switched off for the baseline, in the same rounds); the difference per article
is set against the CPU of a whole `extract_article` per page on the 481 pages of
trafilatura's evaluation corpus. Medians of --repeat rounds. Goal: ≤ 5 %.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
from pathlib import Path

import extractors.topics.matcher as matcher
from extractors.articles import extract_article, prepare
from flows.settings import load_topics

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    corpora = Path(os.environ.get("FEEDWATCH_CORPORA", "../shared/corpora"))
    texts = [
        json.loads(line)
        for name in ("topics-real", "topics-china-russia")
        for file in ("cases.jsonl", "borderline.jsonl")
        for line in (corpora / name / file).read_text(encoding="utf-8").splitlines()
    ]
    folder = corpora / "articles" / "trafilatura-eval-dev"
    evaldata = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
    pages = [
        (url, gzip.decompress((folder / "html" / f"{item['file']}.gz").read_bytes()))
        for url, item in evaldata.items()
    ]
    topics = load_topics(ROOT / "flows" / "defaults" / "topics.yaml")
    prepare()
    with_figures = matcher._figures
    spent = [0.0]

    def timed(doc: object, units: object) -> object:
        t0 = time.process_time()
        try:
            return with_figures(doc, units)  # type: ignore[arg-type]
        finally:
            spent[0] += time.process_time() - t0

    matcher._figures = timed  # type: ignore[assignment]
    hits = figures = 0
    per_hit, articles = [], []
    for _ in range(args.repeat):
        spent[0], hits, figures = 0.0, 0, 0
        for t in texts:
            for m in topics.match(t["title"], t["text"]):
                hits += m.matched
                figures += len(m.figures)
        per_hit.append(spent[0] / max(hits, 1))
        t0 = time.process_time()
        for url, html in pages:
            extract_article(html, url=url)
        articles.append((time.process_time() - t0) / len(pages))
    matcher._figures = with_figures
    a, b = statistics.median(per_hit), statistics.median(articles)
    print(
        f"{len(texts)} news texts: {hits} topic hits, {figures} figures;"
        f" {len(pages)} pages; medians of {args.repeat}"
    )
    print(f"  figures of a hit:           {1000 * a:.3f} ms")
    print(f"  extract_article, per page:  {1000 * b:.2f} ms")
    print(f"  figures / article CPU:      {100 * a / b:.2f} %  (every article a hit; goal ≤ 5 %)")


if __name__ == "__main__":
    main()
