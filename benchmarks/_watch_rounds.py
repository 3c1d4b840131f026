"""feedwatch watch's checks in one long-lived process, driven by bench_reader.py.

    python benchmarks/_watch_rounds.py FEEDS_YAML TOPICS_YAML

As `feedwatch watch` runs: Prefect is set up once (PREFECT_API_URL: the
benchmark's long-lived server), then each check plans and polls in this process
(flows.watch.check). For every line of standard input, a warehouse path, it makes
two checks into that warehouse with every feed due (a first round that reads every
entry, then one where every feed answers 304) and prints one JSON line: each
check's wall time (configuration, plan and poll), the poll's own time as it
reports it, and this process's CPU for it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.runtime.prefect_api import prefect_api


def main() -> None:
    feeds, topics = Path(sys.argv[1]), Path(sys.argv[2])
    with prefect_api(preload=["flows.poll"]):
        from flows.watch import check

        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            db, rounds = Path(line.strip()), []
            for _ in range(2):
                cpu0, t0 = time.process_time(), time.perf_counter()
                c = check(feeds, topics, db, poll_all=True)
                wall = time.perf_counter() - t0
                if c.summary is None or c.summary.failed:
                    raise SystemExit(f"the check failed: {c.error or c.summary}")
                rounds.append(
                    {
                        "wall": wall,
                        "work": c.summary.seconds,
                        "cpu": time.process_time() - cpu0,
                        "new_entries": c.summary.new_entries,
                        "not_modified": c.summary.not_modified,
                    }
                )
            print(json.dumps(rounds), flush=True)


if __name__ == "__main__":
    main()
