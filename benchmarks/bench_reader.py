"""feedwatch beside lemon24/reader, the feed reader a user would pick, on the same feeds.

    python benchmarks/bench_reader.py --reader-python .venv-reader/bin/python
        [--feeds 500] [--hosts 250] [--entries 10] [--repeat 5]

`--feeds` feeds on `--hosts` loopback outlets (two feeds an outlet, each on its
own address), `--entries` entries a feed, served from a separate process. Each
run starts both from an empty database: a first round that reads every entry,
then a second where every feed answers 304 Not Modified. Neither fetches the
articles' pages (feedwatch: `fetch_pages: false`); feedwatch keeps its politeness
(1 s between two requests to an outlet), reader has none.

reader runs in its own venv (`make bench` makes .venv-reader: reader 3.26 and
sgmllib3k), one command a round: `update_feeds_iter(scheduled=False,
workers=16)`. feedwatch runs as a user runs it, two ways, against a long-lived
Prefect server: `feedwatch run --all`, one command a round, as from cron; and
`feedwatch watch`, one long-lived process for every round (its checks, with every
feed due: _watch_rounds.py). Printed, medians of `--repeat` runs: each one's own
time for the round (reader's update call, feedwatch's poll as it reports it) and
its wall time (the command's; a watch round's is its check's: reading the
configuration, planning and the poll); and the slowest 304 round of feedwatch's,
each way (goal: under 3 s in every run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _outlets import TOPICS, Outlets, client_env
from bench_overhead import timed

from flows.demo.prefect_server import prefect_server

HERE = Path(__file__).resolve().parent


def reader_round(python: str, db: Path, urls: Path) -> dict[str, float]:
    wall0 = time.perf_counter()
    result = subprocess.run(
        [python, str(HERE / "_reader_poll.py"), str(db), str(urls)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - wall0
    return {**json.loads(result.stdout.splitlines()[-1]), "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader-python", required=True)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    pages = args.feeds * args.entries
    with (
        tempfile.TemporaryDirectory() as tmp,
        Outlets(pages, args.hosts, feeds_per_host=args.feeds // args.hosts) as outlets,
    ):
        tmpdir = Path(tmp)
        urls = tmpdir / "feeds.json"
        urls.write_text(json.dumps(outlets.feeds))
        feeds = tmpdir / "feeds.yaml"
        feeds.write_text(
            "feeds:\n"
            + "".join(
                f"  - name: feed-{i}\n    url: {u}\n    fetch_pages: false\n"
                for i, u in enumerate(outlets.feeds)
            )
        )
        (tmpdir / "server-home").mkdir()
        with prefect_server(tmpdir / "server-home") as env:
            served = client_env(env, tmpdir)

            def feedwatch(db: Path) -> dict[str, float]:
                common = ("--feeds", str(feeds), "--topics", str(TOPICS), "--db", str(db))
                return timed(served, "run", "--all", *common)

            feedwatch(tmpdir / "warm-up.duckdb")  # the first run registers the flow
            # `feedwatch watch`: one process for every run, as a long-lived poller is.
            watcher = subprocess.Popen(
                [sys.executable, str(HERE / "_watch_rounds.py"), str(feeds), str(TOPICS)],
                env=served | {"PREFECT_LOGGING_LEVEL": "WARNING"},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert watcher.stdin is not None and watcher.stdout is not None
            json.loads(watcher.stdout.readline())  # ready: Prefect set up, the flow imported

            def watched(db: Path) -> list[dict[str, float]]:
                assert watcher.stdin is not None and watcher.stdout is not None
                watcher.stdin.write(f"{db}\n")
                watcher.stdin.flush()
                return list(json.loads(watcher.stdout.readline()))

            watched(tmpdir / "warm-up-watch.duckdb")  # its first poll imports the rest
            names = ("reader 1", "reader 2", "feedwatch 1", "feedwatch 2", "watch 1", "watch 2")
            rounds: dict[str, list[dict[str, float]]] = {k: [] for k in names}
            for r in range(args.repeat):
                for k in (1, 2):
                    rounds[f"reader {k}"].append(
                        reader_round(args.reader_python, tmpdir / f"reader-{r}.sqlite", urls)
                    )
                for k in (1, 2):
                    rounds[f"feedwatch {k}"].append(feedwatch(tmpdir / f"fw-{r}.duckdb"))
                for k, one in enumerate(watched(tmpdir / f"watch-{r}.duckdb"), 1):
                    rounds[f"watch {k}"].append(one)
                assert rounds["watch 1"][-1]["new_entries"] == pages, rounds["watch 1"][-1]
                assert rounds["watch 2"][-1]["not_modified"] == args.feeds, rounds["watch 2"][-1]
                first, second = rounds["reader 1"][-1], rounds["reader 2"][-1]
                assert first["new"] == pages and not first["errors"], first
                assert second["unchanged"] == args.feeds and not second["errors"], second
                print(
                    f"  run {r + 1}: "
                    + ", ".join(
                        f"{name} {v[-1].get('seconds', v[-1].get('work', 0.0)):.2f} s"
                        f" ({v[-1]['wall']:.2f} s wall)"
                        for name, v in rounds.items()
                    ),
                    file=sys.stderr,
                )
            watcher.stdin.close()
            watcher.wait(timeout=60)

    def own(name: str) -> float:
        key = "seconds" if name.startswith("reader") else "work"
        return statistics.median(x[key] for x in rounds[name])

    def wall(name: str) -> float:
        return statistics.median(x["wall"] for x in rounds[name])

    print(
        f"beside reader 3.26: {args.feeds} feeds on {args.hosts} outlets, {args.entries} entries"
        f" each, no pages; {os.cpu_count()} cores, median of {args.repeat}"
    )
    for k, label in ((1, "first round (every entry new)"), (2, "second round (every feed 304)")):
        a, b = own(f"feedwatch {k}"), own(f"reader {k}")
        c, d = wall(f"feedwatch {k}"), wall(f"reader {k}")
        e, f = own(f"watch {k}"), wall(f"watch {k}")
        print(f"  {label}")
        print(
            f"    own time:  feedwatch run {a:.2f} s, feedwatch watch {e:.2f} s, reader {b:.2f} s"
            f"   ratios {a / b:.2f}, {e / b:.2f} (goal ≤ 1)"
        )
        print(
            f"    wall time: feedwatch run {c:.2f} s, feedwatch watch {f:.2f} s, reader {d:.2f} s"
            f"   ratios {c / d:.2f}, {f / d:.2f} (goal ≤ 1)"
        )
    for name in ("feedwatch 2", "watch 2"):
        slowest = max(x["work"] for x in rounds[name])
        print(
            f"  the slowest 304 round of feedwatch {name.split()[0].replace('feedwatch', 'run')}:"
            f" {slowest:.2f} s (goal < 3 s in every run)"
        )


if __name__ == "__main__":
    main()
