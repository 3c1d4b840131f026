"""Re-scoring stored articles over re-extracting them, measured in the same run.

    python benchmarks/bench_rescore.py [--copies 1] [--repeat 3]

The real news pages of the shared corpus (else the demo's), `--copies` times
over, are extracted once and stored. Then: `rescore` re-matches every stored
article against every topic, reading the texts from the warehouse and writing
the matches back; the baseline re-extracts the same pages in line (without
re-fetching them, which would only make it slower). Copies of a page are
stored once (same text), so the figure compares times per article. Goal:
rescoring ≥ 20× faster.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import page_fetches

from extractors.models import ArticleRecord, PollBatch
from flows.extract import extract_pages
from flows.rescore import rescore
from flows.settings import load_topics
from warehouse import open_warehouse
from warehouse.staging import stage

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    label, pages = page_fetches(args.copies)
    now = datetime.now(UTC)
    topics = load_topics(ROOT / "flows" / "defaults" / "topics.yaml")
    articles = extract_pages(pages)
    records = tuple(
        ArticleRecord(a, "feed", p.entries, now, 200, None, ())
        for a, p in zip(articles, pages, strict=True)
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        with open_warehouse(db) as wh:
            entries = tuple(e for p in pages for e in p.entries)
            wh.load(
                stage(
                    PollBatch(
                        run_id="bench",
                        started_at=now,
                        feeds=(),
                        feed_source="bench",
                        polls=(),
                        updates=(),
                        new_entries=entries,
                        articles=records,
                    )
                )
            )
        matched, extracted = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            summary = rescore(db, topics, all_topics=True)
            matched.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            extract_pages(pages, workers=1)
            extracted.append(time.perf_counter() - t0)
    m = statistics.median(matched) / summary.articles
    e = statistics.median(extracted) / len(pages)
    print(
        f"rescore: {summary.articles} stored articles ({label}), {len(topics)}"
        f" topics, median of {args.repeat}"
    )
    print(f"  re-extracting, in line: {1000 * e:.2f} ms an article")
    print(
        f"  rescoring:              {1000 * m:.2f} ms an article   {e / m:.0f}× faster (goal ≥ 20×)"
    )


if __name__ == "__main__":
    main()
