"""Topic matching time over extraction time, per article, measured in the same run.

    python benchmarks/bench_topics.py [--repeat 5]

For each page: trafilatura extracts its text (the baseline), then every topic
of topics.yaml is matched against that text. The figure is the ratio of the
two totals (median of several runs); the goal is ≤ 0.05.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import article_pages

from flows.settings import load_topics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--topics", default="topics.yaml")
    args = parser.parse_args()
    label, pages = article_pages()
    topics = load_topics(args.topics)
    texts = [trafilatura.extract(p) or "" for p in pages]  # warm both paths up once
    for t in texts:
        topics.match(None, t)
    ratios, extract_ms, match_ms = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        texts = [trafilatura.extract(p) or "" for p in pages]
        t1 = time.perf_counter()
        for t in texts:
            topics.match(None, t)
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
        extract_ms.append((t1 - t0) * 1000 / len(pages))
        match_ms.append((t2 - t1) * 1000 / len(pages))
    print(
        f"topics: {label}, {len(topics)} topics, {os.cpu_count()} cores, median of {args.repeat} runs"
    )
    print(f"  extraction (trafilatura): {statistics.median(extract_ms):.2f} ms a page")
    print(f"  topic matching:           {statistics.median(match_ms):.3f} ms a page")
    print(f"  matching / extraction:    {statistics.median(ratios):.4f}  (goal ≤ 0.05)")


if __name__ == "__main__":
    main()
