"""A poll where nothing changed (every feed answers 304) over the poll that loaded them.

    python benchmarks/bench_steady.py [--feeds 500] [--hosts 250] [--entries 10] [--repeat 3]

`--feeds` feeds on loopback, `--feeds / --hosts` per outlet, each outlet on
its own address (127.0.0.2, …) with politeness on (1 s between two requests
to an outlet); each feed lists `--entries` articles, the corpus's real pages
served in turn (a news feed lists 10 to 50). A Prefect server runs beside.
The first poll loads everything into an empty warehouse; the second polls
every feed again at once (all due), and every feed answers 304 Not Modified.
Goal: the second under 1/20 of the first, and under 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _outlets import TOPICS, Outlets, write_feeds_yaml
from _usage import ProcessUse

from flows.demo.prefect_server import prefect_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, prefect_server(Path(tmp)) as env:
        os.environ.update({k: env[k] for k in env if k.startswith(("PREFECT_", "FEEDWATCH_"))})
        from flows.poll import poll_feeds
        from flows.runtime.prefect_api import without_heartbeats

        pages = args.feeds * args.entries
        # As `feedwatch run` runs a flow: without Prefect's heartbeats (flows.runtime.prefect_api).
        with (
            Outlets(pages, args.hosts, feeds_per_host=args.feeds // args.hosts) as outlets,
            without_heartbeats(),
        ):
            feeds = write_feeds_yaml(Path(tmp) / "feeds.yaml", outlets.feeds)
            topics = TOPICS
            firsts, seconds, loaded = [], [], 0
            for r in range(args.repeat):
                db = str(Path(tmp) / f"{r}.duckdb")
                t0 = time.perf_counter()
                first = poll_feeds(str(feeds), str(topics), db)
                firsts.append(time.perf_counter() - t0)
                with ProcessUse() as use:
                    t0 = time.perf_counter()
                    second = poll_feeds(str(feeds), str(topics), db, poll_all=True)
                    seconds.append(time.perf_counter() - t0)
                assert not first.failed and first.feeds_polled == len(outlets.feeds), first
                assert second.not_modified == len(outlets.feeds) and not second.new_entries
                loaded = first.new_entries
                steps = ", ".join(f"{k} {v:.2f}" for k, v in second.timeline.items())
                cpu = sum(use.cpu_by_role().values())
                print(
                    f"  run {r + 1}: first {firsts[-1]:.1f} s ({first.new_entries} entries, "
                    f"{first.pages_fetched} pages), second {seconds[-1]:.2f} s (CPU {cpu:.2f} s; "
                    f"{steps})",
                    file=sys.stderr,
                )

    a, b = statistics.median(firsts), statistics.median(seconds)
    print(
        f"steady state: {len(outlets.feeds)} feeds on {args.hosts} outlets, median of {args.repeat}"
    )
    print(f"  first poll ({loaded} new entries, their pages fetched and extracted): {a:.1f} s")
    print(f"  second poll (every feed 304): {b:.2f} s   ratio {b / a:.3f} = 1/{a / b:.0f}")


if __name__ == "__main__":
    main()
