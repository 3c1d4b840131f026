"""Extraction in worker processes over extraction in line, measured in the same run.

    python benchmarks/bench_extract.py [--copies 5] [--repeat 3]

The real news pages of the shared corpus (else the demo's), `--copies` times
over (905 pages by default), extracted by flows.extract.extract_pages with one
worker (in line) and with every core (a process pool, its start included).
The figure is the ratio of the two times (median of several runs); on n cores
the floor is about 1/n.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import page_fetches

from flows.extract import extract_pages, usable_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    label, pages = page_fetches(args.copies)
    cores = usable_cores()
    in_line, pooled = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        extract_pages(pages, workers=1)
        in_line.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        extract_pages(pages, workers=cores)
        pooled.append(time.perf_counter() - t0)
    a, b = statistics.median(in_line), statistics.median(pooled)
    print(f"extract: {len(pages)} pages ({label}), {cores} cores, median of {args.repeat}")
    print(f"  in line:           {a:.2f} s ({1000 * a / len(pages):.1f} ms a page)")
    print(f"  {cores} worker processes: {b:.2f} s   ratio {b / a:.2f} (floor ≈ {1 / cores:.2f})")


if __name__ == "__main__":
    main()
