"""`feedwatch run` as a user runs it, on pages its tuning never saw, over a serial
trafilatura loop of the same pages measured in the same run.

    FEEDWATCH_CORPORA=../shared/corpora python benchmarks/bench_run.py
        [--copies 2] [--hosts 100] [--busiest 8] [--repeat 3] [--big 10000] [--timeline]

The 481 pages of trafilatura's evaluation corpus (development half), `--copies`
times over under different URLs, served on loopback by `--hosts` outlets on their
own addresses: the first outlet has `--busiest` section feeds on its one host
(politeness: 1 s between two requests to a host), every other outlet one feed.
A long-lived Prefect server runs beside; each run is `feedwatch run --all` as a
command (a cold process) into an empty warehouse.

Printed, each a median of `--repeat` runs:
  - the run's wall time over a serial loop of `trafilatura.extract` on the same
    pages, the loop run right after each run (goal ≤ 0.65);
  - from the first feed's answer (as the outlets saw it go out) to the first
    article queryable in the DuckDB file, read as an analyst would, read-only,
    every 50 ms (goal ≤ 5 s);
  - the peak memory of all feedwatch's processes (PSS summed: the command's and its
    extraction workers'; the Prefect server and the outlets apart);
and with `--big N`, one run of N pages (the same pages, more copies): its peak
memory over the first's (goal ≤ 1.2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _outlets import TOPICS, Outlets, client_env, write_feeds_yaml
from _pages import eval_pages
from _usage import ProcessUse

from flows.demo.prefect_server import prefect_server

FEEDWATCH = str(Path(sys.executable).with_name("feedwatch"))


def first_article(db: Path, running: subprocess.Popen[Any], found: list[float]) -> None:
    """Read the warehouse as an analyst would until an article is there."""
    while running.poll() is None and not found:
        try:
            con = duckdb.connect(str(db), read_only=True)
            try:
                n = con.execute("SELECT count(*) FROM articles").fetchone()
            finally:
                con.close()
            if n and n[0]:
                found.append(time.monotonic())
                return
        except duckdb.Error:
            pass  # not created yet, or a writer holds it
        time.sleep(0.05)


def one_run(env: dict[str, str], feeds: Path, db: Path, outlets: Outlets) -> dict[str, Any]:
    outlets.mark()
    found: list[float] = []
    with ProcessUse() as use:
        started = time.monotonic()
        running = subprocess.Popen(
            [
                FEEDWATCH,
                "run",
                "--all",
                "--feeds",
                str(feeds),
                "--topics",
                str(TOPICS),
                "--db",
                str(db),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        watcher = threading.Thread(target=first_article, args=(db, running, found))
        watcher.start()
        output, _ = running.communicate()
        wall = time.monotonic() - started
        watcher.join()
    if running.returncode != 0:
        raise SystemExit(f"feedwatch run failed:\n{output}")
    answered = outlets.first_answer()
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute("SELECT count(*) FROM articles").fetchone()
    con.close()
    return {
        "wall": wall,
        "first": (found[0] - answered) if found and answered else float("nan"),
        "pss": use.peak_pss,
        "articles": stored[0] if stored else 0,
        "timeline": timeline(started, wall, use.samples, outlets.requests(), found),
        "cpu": use.cpu_by_role(),
    }


def timeline(
    t0: float,
    wall: float,
    cpu: list[tuple[float, float]],
    requests: list[tuple[float, str]],
    found: list[float],
) -> list[str]:
    """Per second of the run: feeds and pages requested, CPU of feedwatch's processes
    (2.0: both cores), and when the first article could be read."""
    rows = []
    for second in range(int(wall) + 1):
        lo, hi = t0 + second, t0 + second + 1
        feeds = sum(lo <= t < hi and p.endswith(".xml") for t, p in requests)
        pages = sum(lo <= t < hi and not p.endswith(".xml") for t, p in requests)
        inside = [(t, c) for t, c in cpu if lo <= t < hi]
        used = (
            (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
            if len(inside) > 1
            else 0.0
        )
        first = " ← first article queryable" if found and lo <= found[0] < hi else ""
        rows.append(
            f"    {second:3d}–{second + 1:<3d} s  feeds {feeds:3d}  pages {pages:4d}  CPU {used:4.2f}{first}"
        )
    return rows


def serial(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        trafilatura.extract(body)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--busiest", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, default=0, help="pages of a memory run (0: none)")
    parser.add_argument("--timeline", action="store_true", help="print the median run's timeline")
    args = parser.parse_args()
    bodies = eval_pages()
    pages = len(bodies) * args.copies
    print(
        f"{pages} pages ({len(bodies)} × {args.copies}), {args.hosts} outlets,"
        f" {args.busiest} feeds on the first; {os.cpu_count()} cores;"
        f" medians of {args.repeat} runs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "server-home").mkdir()
        with prefect_server(tmpdir / "server-home") as server:
            env = client_env(server, tmpdir)
            runs = []
            with Outlets(pages, args.hosts, busiest=args.busiest, corpus="eval") as outlets:
                feeds = write_feeds_yaml(tmpdir / "feeds.yaml", outlets.feeds)
                one_run(env, feeds, tmpdir / "warm-up.duckdb", outlets)  # registers the flow
                for r in range(args.repeat):
                    run = one_run(env, feeds, tmpdir / f"run-{r}.duckdb", outlets)
                    run["serial"] = serial(bodies * args.copies)
                    runs.append(run)
                    print(
                        f"  run {r + 1}: {run['wall']:.1f} s, serial loop {run['serial']:.1f} s"
                        f" ({run['wall'] / run['serial']:.2f}); first article"
                        f" {run['first']:.1f} s after the first feed's answer; peak"
                        f" {run['pss'] / 2**20:.0f} MiB; {run['articles']} articles; CPU s "
                        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(run["cpu"].items())),
                        file=sys.stderr,
                    )
            ratio = statistics.median(r["wall"] / r["serial"] for r in runs)
            first = statistics.median(r["first"] for r in runs)
            peak = statistics.median(r["pss"] for r in runs)
            if args.timeline:
                middle = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
                print("  the median run, second by second:")
                print("\n".join(middle["timeline"]))
            print(f"  feedwatch run / serial loop:        {ratio:.2f}  (goal ≤ 0.65)")
            print(f"  first article queryable after:      {first:.1f} s  (goal ≤ 5 s)")
            print(f"  peak memory, all its processes:     {peak / 2**20:.0f} MiB  (goal < 1 GiB)")
            if args.big:
                with Outlets(args.big, args.hosts, busiest=args.busiest, corpus="eval") as big:
                    feeds = write_feeds_yaml(tmpdir / "big.yaml", big.feeds)
                    run = one_run(env, feeds, tmpdir / "big.duckdb", big)
                print(
                    f"  peak memory at {args.big} pages:  {run['pss'] / 2**20:.0f} MiB,"
                    f" {run['pss'] / peak:.2f} × that at {pages} (goal ≤ 1.2);"
                    f" {run['wall']:.0f} s, {run['articles']} articles"
                )


if __name__ == "__main__":
    main()
