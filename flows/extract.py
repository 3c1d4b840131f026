"""Extraction on every core. trafilatura is pure Python and CPU-bound (15–27 ms a
page here), so threads cannot share it out: a batch large enough to pay for
starting worker processes is extracted in a process pool, the rest in line.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from extractors.articles import extract_article
from extractors.models import Article, EntryData, PageFetch

__all__ = ["POOL_MIN_PAGES", "extract_pages", "usable_cores"]

# Starting the pool costs about a second here (docs/performance.md): it pays off
# from about 100 pages; fewer are extracted in line.
POOL_MIN_PAGES = 96

_Job = tuple[bytes | None, str, str | None, EntryData]


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def extract_pages(pages: Sequence[PageFetch], workers: int | None = None) -> list[Article]:
    """The Article of each page, in order, in `workers` processes (1: in line).

    By default, every core once there are POOL_MIN_PAGES pages, else in line.
    """
    jobs: list[_Job] = [(p.html, p.url, p.final_url, p.entries[0][1]) for p in pages]
    if workers is None:
        workers = usable_cores() if len(jobs) >= POOL_MIN_PAGES else 1
    if workers < 2 or len(jobs) < 2:
        return [_extract(job) for job in jobs]
    # forkserver, not fork: the flow's process runs threads (Prefect's, the fetcher's),
    # and forking a threaded process can deadlock the child.
    context = multiprocessing.get_context("forkserver")
    # The fork server imports trafilatura once; each worker then starts as a fork of it.
    context.set_forkserver_preload([__name__])
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            # Chunks of 8 pages: fewer round trips, still an even spread over the workers.
            return list(pool.map(_extract, jobs, chunksize=8))
    except BrokenProcessPool as e:
        # Workers that cannot start (a main module they cannot import, e.g. code
        # piped to python) or that died: the pages are still extracted, in line.
        logging.getLogger("feedwatch").warning("extraction workers failed (%s): in line", e)
        return [_extract(job) for job in jobs]


def _extract(job: _Job) -> Article:
    html, url, final_url, entry = job
    return extract_article(html, url=url, final_url=final_url, entry=entry)
