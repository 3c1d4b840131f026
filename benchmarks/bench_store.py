"""Warehouse load speed: the store's upsert against a raw Arrow insert, measured in one run.

    python benchmarks/bench_store.py [--rows 10000] [--stored 1000000] [--repeat 3]

Baseline: the same 10,000 article rows, already Arrow, inserted into an empty
`articles` table, nothing else. Store: Warehouse.load() of the staged poll batch
with those articles (plus their entries, feed state and fetch log), with its
deduplication by URL, content hash and near-duplicate bands: into an empty
warehouse, then into warehouses already holding 10,000 and 1,000,000 articles
(spread over two years, as they would have arrived). Staging (Python objects →
Arrow, keys, bands) happens before the warehouse is opened and is shown apart.
Goals: store / baseline ≥ 0.5 in speed; no slowdown from 10,000 to 1,000,000 stored.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from extractors.decide import feed_updates, register_feed
from extractors.dedup import content_hash, signature
from extractors.models import Article, ArticleRecord, EntryData, FeedPoll, FeedSpec, PollBatch
from warehouse.staging import StagedBatch, stage
from warehouse.store import DuckDBWarehouse as Warehouse

WORDS = [
    "north",
    "korea",
    "russia",
    "troops",
    "kursk",
    "shells",
    "artillery",
    "treaty",
    "pyongyang",
    "moscow",
    "missile",
    "drone",
    "minister",
    "summit",
    "army",
    "soldiers",
    "war",
    "ukraine",
    "border",
    "rail",
    "port",
    "satellite",
    "defence",
    "deal",
]


def make_batch(n: int, run: str, seed: int) -> PollBatch:
    rng = random.Random(seed)
    spec = FeedSpec("bench", "https://bench.example/rss")
    now = datetime.now(UTC)
    records, entries = [], []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(300))
        url = f"https://bench.example/{run}/{i}"
        entry = EntryData(f"{run}-{i}", url, f"Story {i}", now, None, None, None)
        article = Article(
            url,
            url,
            url,
            f"Story {i}",
            "Reporter",
            now,
            "en",
            "Bench",
            text,
            "extracted",
            content_hash(text),
            signature(text),
        )
        records.append(ArticleRecord(article, spec.name, ((spec.name, entry),), now, 200, None, ()))
        entries.append((spec.name, entry))
    poll = FeedPoll(spec, now, spec.url, ok=True, status=200)
    entries_t = tuple(entries)
    return PollBatch(
        run_id=run,
        started_at=now,
        feeds=(register_feed(spec, None),),
        feed_source="bench",
        polls=(poll,),
        updates=tuple(feed_updates((poll,), {}, entries_t)),
        new_entries=entries_t,
        articles=tuple(records),
    )


def raw_insert(db: Path, staged: StagedBatch) -> float:
    """The baseline: the batch's article rows, already Arrow, into an empty table."""
    with Warehouse.open(db):  # schema only
        pass
    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    con.register("t", staged.articles)
    con.execute("INSERT INTO articles SELECT * FROM t")
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def store_load(db: Path, staged: StagedBatch) -> float:
    with Warehouse.open(db) as wh:
        t0 = time.perf_counter()
        wh.load(staged)
        return time.perf_counter() - t0


def timed_stage(batch: PollBatch) -> tuple[StagedBatch, float]:
    t0 = time.perf_counter()
    staged = stage(batch)
    return staged, time.perf_counter() - t0


def fill(db: Path, n: int, days: int = 730) -> None:
    """n stored articles (with entries and LSH bands), generated inside DuckDB, spread
    over the last two years in the order they would have arrived."""
    with Warehouse.open(db) as wh:
        con = wh.con
        # Article ids are hex, as the store's are: url_key is the id as an integer.
        con.execute(
            f"""
            INSERT INTO articles
            SELECT {_id("i")}, 'https://old.example/' || i, 'https://old.example/' || i,
                   'https://old.example/' || i, md5(i::VARCHAR), {_id("i")}, NULL, 'bench',
                   'Old story ' || i, NULL, {_age("i", n, days)}, 'en', 'Old',
                   repeat('old text ', 40), 'extracted', 360, 200, NULL, {_age("i", n, days)}, 'fill',
                   ('0x' || {_id("i")})::UBIGINT, ('0x' || left(md5(i::VARCHAR), 16))::UBIGINT
            FROM range({n}) r(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO entries
            SELECT 'bench', 'old-' || i, 'https://old.example/' || i, 'Old story ' || i, NULL,
                   {_age("i", n, days)}, NULL, NULL, {_id("i")}, {_age("i", n, days)}, 'fill',
                   ('0x' || left(sha256('bench' || chr(0) || 'old-' || i), 16))::UBIGINT
            FROM range({n}) r(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO article_bands
            SELECT b, (hash(i * 131 + b) >> 1)::BIGINT, ('0x' || {_id("i")})::UBIGINT,
                   CAST({_age("i", n, days)} AS DATE)
            FROM range({n}) r(i), range(16) s(b)
            """
        )
        con.execute("CHECKPOINT")


def _id(i: str) -> str:
    return f"left(md5('old' || {i}), 16)"


def _age(i: str, n: int, days: int) -> str:
    """SQL for the time article i of n arrived: two years ago for the first, now for the last."""
    return f"(now() - to_days(CAST({days} - {days} * {i} / {n} AS INTEGER)))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"store: building {args.rows} articles …", flush=True)
    base: list[float] = []
    empty: list[float] = []
    staging: list[float] = []
    # One batch alive at a time, as in a poll run (many would slow every garbage collection).
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            staged, seconds = timed_stage(make_batch(args.rows, f"run{k}", k))
            staging.append(seconds)
            base.append(raw_insert(Path(tmp) / f"raw{k}.duckdb", staged))
            empty.append(store_load(Path(tmp) / f"empty{k}.duckdb", staged))
        # (articles, over how many days): the last arrives at the rate of the first.
        levels = [
            (args.rows, 730),
            (args.stored, 730),
            (args.stored, 730 * args.stored // args.rows),
        ]
        stored: list[list[float]] = []
        for n, days in levels:
            db = Path(tmp) / f"stored{n}-{days}.duckdb"
            print(
                f"store: filling a warehouse with {n:,} articles over {days:,} days …", flush=True
            )
            fill(db, n, days)
            stored.append(
                [
                    store_load(db, stage(make_batch(args.rows, f"run{k}", k)))
                    for k in range(args.repeat)
                ]
            )
    b, e, s = statistics.median(base), statistics.median(empty), statistics.median(staging)
    small, large, slow = (statistics.median(t) for t in stored)
    print(f"store: {args.rows:,} articles, {os.cpu_count()} cores, median of {args.repeat} runs")
    print(f"  raw Arrow insert into an empty table:   {b:.3f} s")
    print(
        f"  store load into an empty warehouse:     {e:.3f} s   speed vs raw {b / e:.2f} (goal ≥ 0.5)"
    )
    print(
        f"  store load, {args.rows:>9,} stored (2 years): {small:.3f} s   speed vs raw {b / small:.2f}"
    )
    print(
        f"  store load, {args.stored:>9,} stored (2 years): {large:.3f} s   speed vs raw {b / large:.2f};"
        f" ×{large / small:.2f} the time with {args.rows:,} (goal ≈ 1)"
    )
    print(
        f"  store load, {args.stored:>9,} stored at the {args.rows:,}'s daily rate:"
        f" {slow:.3f} s   ×{slow / small:.2f} (the same recent articles, 100× the history)"
    )
    print(
        f"  staging (Python → Arrow, keys, bands; before the lock): {s:.3f} s"
        f"   with it, speed vs raw {b / (e + s):.2f}"
    )


if __name__ == "__main__":
    main()
