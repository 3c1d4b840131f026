"""Extraction in worker processes over extraction in line, measured in the same run.

    python benchmarks/bench_extract.py [--copies 5] [--repeat 3] [--dask]

The real news pages of the shared corpus (else the demo's), `--copies` times
over (905 pages by default), extracted by flows.extract.extract_pages with one
worker (in line) and with every core (a process pool, its start included).
The figure is the ratio of the two times (median of several runs); on n cores
the floor is about 1/n. With --dask, also on a Dask cluster of one worker
process a core started for the run (prefect-dask; a Prefect server runs beside),
its start included: what a single machine pays for the path past it.
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
from _pages import page_fetches

from flows.demo.prefect_server import prefect_server
from flows.extract import extract_on_dask, extract_pages, usable_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dask", action="store_true")
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
    if args.dask:
        on_dask = []
        with tempfile.TemporaryDirectory() as tmp, prefect_server(Path(tmp)) as env:
            os.environ.update({k: v for k, v in env.items() if k.startswith("PREFECT_")})
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                extract_on_dask(pages, "local", cores)
                on_dask.append(time.perf_counter() - t0)
        c = statistics.median(on_dask)
        print(f"  Dask, {cores} local workers:  {c:.2f} s   ratio {c / a:.2f}")


if __name__ == "__main__":
    main()
