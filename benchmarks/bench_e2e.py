"""A whole poll of 905 new articles over a bare serial trafilatura loop, measured in the same run.

    python benchmarks/bench_e2e.py [--copies 5] [--hosts 150] [--repeat 3]

The real news pages of the shared corpus (else the demo's), `--copies` times
over under as many URL prefixes, served on loopback by `--hosts` outlets on
their own addresses (127.0.0.2, 127.0.0.3, …), each with a feed of its pages,
so per-host politeness stays on (1 s between two requests to an outlet). A
Prefect server runs beside; each poll goes into an empty warehouse.

Printed, as medians of `--repeat` runs:
  - the poll's time over a serial loop of `trafilatura.extract` on the same pages
    (run before and after each poll, averaged);
  - the poll's CPU, all its processes by role, over the serial loop's CPU;
  - orchestration: the same shape of flow run (its tasks, artifacts and events)
    with nothing to do, over the poll's time;
  - the peak resident memory of the poll's processes (the flow's and its
    extraction workers; the Prefect server's apart).
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
from _pages import article_pages
from _usage import ProcessUse

from flows.demo.prefect_server import prefect_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    label, bodies = article_pages()
    n = len(bodies) * args.copies

    with tempfile.TemporaryDirectory() as tmp, prefect_server(Path(tmp)) as env:
        os.environ.update({k: env[k] for k in env if k.startswith(("PREFECT_", "FEEDWATCH_"))})
        # Imported once the environment points at the server.
        import trafilatura
        from prefect import flow, task
        from prefect.artifacts import create_markdown_artifact, create_table_artifact

        from flows.extract import usable_cores
        from flows.fetch import FEED_TASKS
        from flows.poll import poll_feeds
        from flows.runtime.prefect_api import without_heartbeats

        @task
        def nothing(*_: object) -> None:
            return None

        @flow(name="orchestration-only")
        def same_shape(tasks: int) -> None:
            # What the poll asks of Prefect: its task runs (the feed groups, the page
            # groups, the spool check, extraction, load), two artifacts.
            for f in [nothing.submit(t) for t in range(tasks)]:
                f.result()
            create_markdown_artifact(key="poll-summary", markdown="nothing")
            create_table_artifact(key="poll-hits", table=[{"topic": "t"}])

        # As `feedwatch run` runs a flow: without Prefect's heartbeats (flows.runtime.prefect_api).
        with Outlets(n, args.hosts) as outlets, without_heartbeats():
            feeds = write_feeds_yaml(Path(tmp) / "feeds.yaml", outlets.feeds)
            topics = TOPICS
            serial, serial_cpu, polls, shapes, uses = [], [], [], [], []

            def bare_loop() -> tuple[float, float]:
                t0, c0 = time.perf_counter(), time.process_time()
                for body in bodies * args.copies:
                    trafilatura.extract(body)
                return time.perf_counter() - t0, time.process_time() - c0

            for r in range(args.repeat):
                # The baseline before and after the poll, averaged: this machine's speed
                # drifts by ±15 % over a minute, and the poll sits between the two.
                before = bare_loop()
                with ProcessUse() as use:
                    t0 = time.perf_counter()
                    summary = poll_feeds(str(feeds), str(topics), str(Path(tmp) / f"{r}.duckdb"))
                    polls.append(time.perf_counter() - t0)
                uses.append(use)
                assert summary.pages_fetched == n and not summary.failed, summary
                after = bare_loop()
                serial.append((before[0] + after[0]) / 2)
                serial_cpu.append((before[1] + after[1]) / 2)

                t0 = time.perf_counter()
                same_shape(min(FEED_TASKS, args.hosts) + 4)
                shapes.append(time.perf_counter() - t0)
                cpu = ", ".join(f"{k} {v:.1f}" for k, v in use.cpu_by_role().items())
                steps = ", ".join(f"{k} {v:.1f}" for k, v in summary.timeline.items())
                total = sum(use.cpu_by_role().values())
                print(
                    f"  run {r + 1}: serial {serial[-1]:.1f} s (CPU {serial_cpu[-1]:.1f} s), "
                    f"poll {polls[-1]:.1f} s ({summary.new_articles} new articles, "
                    f"{summary.duplicate_articles} copies), orchestration {shapes[-1]:.2f} s\n"
                    f"    CPU s: {cpu}; {total / serial_cpu[-1]:.2f} of the serial loop's\n"
                    f"    timeline s: {steps}",
                    file=sys.stderr,
                )

    a, b, c = statistics.median(serial), statistics.median(polls), statistics.median(shapes)
    cpu_ratios = [sum(u.cpu_by_role().values()) / s for u, s in zip(uses, serial_cpu, strict=True)]
    cpu_s = statistics.median(sum(u.cpu_by_role().values()) for u in uses)
    roles = {
        k: statistics.median(u.cpu_by_role().get(k, 0.0) for u in uses)
        for k in uses[0].cpu_by_role()
    }
    rss = max(u.peak_rss for u in uses) / 2**20
    pss = max(u.peak_pss for u in uses) / 2**20
    print(
        f"end to end: {n} pages ({label} × {args.copies}) from {args.hosts} outlets, "
        f"{usable_cores()} cores, median of {args.repeat}"
    )
    print(f"  serial trafilatura.extract loop: {a:.1f} s ({1000 * a / n:.1f} ms a page)")
    print(f"  poll (fetch, extract, detect, load): {b:.1f} s   ratio {b / a:.2f} (goal ≤ 0.65)")
    print(
        f"  CPU of the poll, all processes: {cpu_s:.1f} s ({1000 * cpu_s / n:.1f} ms a page): "
        + ", ".join(f"{k} {1000 * v / n:.1f}" for k, v in roles.items() if v >= 0.05)
    )
    print(
        f"  per-article CPU / the serial loop's: {statistics.median(cpu_ratios):.2f} (goal ≤ 1.2;"
        f" runs {', '.join(f'{x:.2f}' for x in cpu_ratios)}; a fork server started in a run"
        " counts in it)"
    )
    print(f"  orchestration (same flow shape, no work): {c:.2f} s = {c / b:.1%} of the poll")
    print(f"  peak memory of the poll's processes: {pss:.0f} MiB (PSS), {rss:.0f} MiB (RSS summed)")


if __name__ == "__main__":
    main()
