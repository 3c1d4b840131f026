"""The warehouse on DuckLake (PostgreSQL catalog) against the DuckDB file, in one run.

    .venv-lake/bin/python benchmarks/bench_lake.py [--rows 10000] [--repeat 3]

Load throughput: the standard batch of 10,000 articles (bench_store's) loaded into
the DuckDB file, then into a lake by 1, 2 and 4 writers at once (each its own
process and batch, as pollers on several machines), in articles a second of wall
time. A reader's wait: an analyst's query started while loads run, timed until it
answers (the file: its writer holds it, the reader waits; the lake: snapshots),
beside the same query with no writer about (opening a lake session costs more).
Needs Debian's postgresql (a throw-away cluster) and feedwatch[lake].
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.pool import AsyncResult
from pathlib import Path

from bench_store import make_batch

from extractors.errors import WarehouseLockedError, WarehouseMissingError
from flows.demo.postgres import create_database, postgres_bin, throwaway_postgres
from warehouse import open_warehouse
from warehouse.staging import stage


def _load(db: str, data_path: str, rows: int, run: str, seed: int, start: float) -> float:
    """One writer (its own process): stage a batch, wait for the common start, load it."""
    staged = stage(make_batch(rows, run, seed))
    time.sleep(max(0.0, start - time.time()))
    t0 = time.perf_counter()
    with open_warehouse(db, data_path=data_path) as wh:
        wh.load(staged)
    return time.perf_counter() - t0


def writers(db: str, data_path: str, n: int, rows: int, tag: str) -> tuple[float, float]:
    """n writers at once; (wall seconds from the common start to the last commit, the
    longest a reader waited for an answer meanwhile)."""
    ctx = multiprocessing.get_context("spawn")
    start = time.time() + 8.0  # every writer staged and waiting by then
    with ctx.Pool(n) as pool:
        jobs = [
            pool.apply_async(_load, (db, data_path, rows, f"{tag}-{i}", i, start)) for i in range(n)
        ]
        waits = _reader(db, data_path, start, jobs)
        for j in jobs:
            j.get()
    return time.time() - start, max(waits) if waits else 0.0


def idle_read(db: str, data_path: str) -> float:
    """The same query with no writer about: what a session costs by itself (median of 5)."""
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        with open_warehouse(db, read_only=True, data_path=data_path) as wh:
            wh.query("SELECT count(*) FROM articles")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _reader(
    db: str, data_path: str, start: float, jobs: Sequence[AsyncResult[float]]
) -> list[float]:
    waits: list[float] = []
    time.sleep(max(0.0, start - time.time()) + 0.05)
    while not all(j.ready() for j in jobs):
        t0 = time.perf_counter()
        while True:
            try:
                with open_warehouse(db, read_only=True, data_path=data_path) as wh:
                    wh.query("SELECT count(*) FROM articles")
                break
            except (WarehouseLockedError, WarehouseMissingError):
                time.sleep(0.01)  # the file's writer holds it: wait, as an analyst would
        waits.append(time.perf_counter() - t0)
        time.sleep(0.05)
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise SystemExit("bench_lake needs PostgreSQL (apt-get install postgresql)")
    rows: dict[str, list[tuple[float, float]]] = {}
    idle: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, throwaway_postgres(bin_dir) as catalog:
        for k in range(args.repeat):
            file_db = str(Path(tmp) / f"w{k}.duckdb")
            with open_warehouse(file_db):
                pass  # the schema, outside the timing
            rows.setdefault("file, 1 writer", []).append(
                writers(file_db, "", 1, args.rows, f"file{k}")
            )
            idle.setdefault("file", []).append(idle_read(file_db, ""))
            for n in (1, 2, 4):
                lake = "ducklake:postgres:" + create_database(catalog, f"lake{k}w{n}")
                data = str(Path(tmp) / f"lake{k}w{n}") + "/"
                with open_warehouse(lake, data_path=data):
                    pass
                rows.setdefault(f"lake, {n} writer{'s' if n > 1 else ''}", []).append(
                    writers(lake, data, n, args.rows, f"lake{k}w{n}")
                )
                idle.setdefault("lake", []).append(idle_read(lake, data))
    base = statistics.median(args.rows / s for s, _ in rows["file, 1 writer"])
    print(f"lake: batches of {args.rows:,} articles, median of {args.repeat} runs")
    for label, runs in rows.items():
        writers_n = int(label.split(", ")[1].split()[0])
        rate = statistics.median(writers_n * args.rows / s for s, _ in runs)
        wait = statistics.median(w for _, w in runs)
        alone = statistics.median(idle[label.split(",")[0]])
        print(
            f"  {label:16} {rate:8,.0f} articles/s  = {rate / base:.2f}× the file's;"
            f"  a reader's query took at most {wait:.2f} s (alone: {alone:.2f} s)"
        )


if __name__ == "__main__":
    main()
