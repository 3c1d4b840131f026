"""Extraction on every core, started as pages arrive. trafilatura is pure Python
and CPU-bound (15–27 ms a page here), so threads cannot share it out: a run with
enough pages to pay for starting worker processes extracts them in a process
pool while the rest are still being fetched; smaller runs extract in line.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import partial
from multiprocessing.connection import Connection
from types import TracebackType

from prefect import task
from prefect.cache_policies import NO_CACHE

from extractors.errors import ConfigError
from extractors.models import Article, PageFetch
from extractors.topics import TopicSet
from flows import lifeline
from flows.extract_worker import (
    Extraction,
    Job,
    extract_and_match,
    extract_job,
    start_worker,
    warm_up,
)

__all__ = [
    "DASK_CHUNK",
    "POOL_MIN_PAGES",
    "Extracted",
    "PageExtractor",
    "extract_on_dask",
    "extract_pages",
    "usable_cores",
]

# Starting the pool costs about a second here (docs/performance.md): it pays off
# from about 100 pages; fewer are extracted in line.
POOL_MIN_PAGES = 96


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class PageExtractor:
    """Pages in (from any thread, as they are fetched), Articles out, in page order.

    With `workers` ≥ 2 (default: every core once `expected` pages reach
    POOL_MIN_PAGES), pages handed over with `start` are extracted at once in
    worker processes, and matched there against `topics` if given; every other
    page is extracted in line by `articles` or `extracted` (and not matched).
    """

    def __init__(self, expected: int, workers: int | None = None, topics: TopicSet | None = None):
        if workers is None:
            workers = usable_cores() if expected >= POOL_MIN_PAGES else 1
        self.workers = workers if expected >= 2 else 1
        self._futures: dict[str, Future[Extraction]] = {}
        self._jobs: dict[str, Job] = {}  # pages in a worker, kept until extracted
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: Connection | None = None
        if self.workers >= 2:
            # forkserver, not fork: the flow's process runs threads (Prefect's, the
            # fetcher's), and forking a threaded process can deadlock the child.
            context = multiprocessing.get_context("forkserver")
            # The fork server loads extraction's libraries and models once (not Prefect);
            # each worker starts as a fork of it.
            context.set_forkserver_preload(["flows._preload"])
            # Each worker ends with this process, however it ends (flows.lifeline): a
            # worker's parent is the fork server, which outlives this process for as
            # long as its workers do.
            self._lifeline = Connection(os.dup(lifeline.read_end()), writable=False)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=start_worker,
                initargs=(topics, self._lifeline),  # sent once to each worker, not per page
            )
            # Start the workers now, while the pages are still on their way.
            for _ in range(self.workers):
                self._submit(None, warm_up)

    def __enter__(self) -> PageExtractor:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None

    def start(self, page: PageFetch) -> PageFetch:
        """Begin extracting `page` in a worker, if there are workers (thread-safe).

        Returns the page to keep meanwhile: without its HTML when a worker has it
        (held here only until extracted, in case the worker dies)."""
        job = _job(page)
        future = self._submit(job, extract_and_match)
        if future is None:
            return page
        self._futures[page.url] = future
        self._jobs[page.url] = job
        future.add_done_callback(partial(self._done, page.url))
        return replace(page, html=None)

    def articles(self, pages: Sequence[PageFetch]) -> Iterator[Article]:
        """Each page's Article, in order: waited for if started, else extracted now."""
        return (article for article, _ in self.extracted(pages))

    def extracted(self, pages: Sequence[PageFetch]) -> Iterator[Extraction]:
        """Each page's Article and, if a worker matched it, its topic matches, in order."""
        for page in pages:
            future = self._futures.pop(page.url, None)
            if future is not None:
                try:
                    yield future.result()
                    continue
                except (BrokenProcessPool, CancelledError) as e:
                    self._broken(e)
            job = self._jobs.pop(page.url, None)
            yield extract_job(job or _job(page)), None

    def _done(self, url: str, future: Future[Extraction]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._jobs.pop(url, None)

    def _submit(self, job: Job | None, fn: object) -> Future[Extraction] | None:
        pool = self._pool
        if pool is None:
            return None
        try:
            return pool.submit(fn, job)  # type: ignore[arg-type]
        except (BrokenProcessPool, RuntimeError) as e:  # broken, or shut down meanwhile
            self._broken(e)
            return None

    def _broken(self, e: BaseException) -> None:
        # Workers that cannot start (a main module they cannot import, e.g. code
        # piped to python) or that died: the pages are still extracted, in line.
        if self._pool is not None:
            logging.getLogger("feedwatch").warning("extraction workers failed (%s): in line", e)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class Extracted:
    """Articles extracted elsewhere (on Dask), handed out as PageExtractor would."""

    def __init__(self, articles: Sequence[Article]):
        self._articles = articles

    def extracted(self, pages: Sequence[PageFetch]) -> Iterator[Extraction]:
        return ((article, None) for article in self._articles)


# Pages a Dask task extracts: enough that a task's cost (a task run reported to
# Prefect, the pages sent to a worker) stays small beside ~30 ms a page.
DASK_CHUNK = 16


@task(name="extract-chunk", task_run_name="extract pages {first}–{last}", cache_policy=NO_CACHE)
def extract_chunk(jobs: list[Job], first: int, last: int) -> list[Article]:
    return [extract_job(job) for job in jobs]


def extract_on_dask(
    pages: Sequence[PageFetch], address: str, workers: int | None = None
) -> list[Article]:
    """Each page's Article, in order, extracted by tasks (one per DASK_CHUNK pages) that
    prefect-dask runs on the scheduler at `address`, or with "local" on a cluster of
    `workers` processes (default: every core) started for this run.

    The task runner is used directly, not through a subflow: a flow run's parameters
    are stored by the Prefect server (at most 512 KB), and a run's pages are megabytes.
    """
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as e:
        raise ConfigError(
            "extraction on Dask needs prefect-dask: pip install 'feedwatch[dask]'"
        ) from e
    if address == "local":
        runner = DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers or usable_cores(),
                "threads_per_worker": 1,  # trafilatura holds the GIL: one page a process
                "processes": True,
                "dashboard_address": None,
            }
        )
    else:
        runner = DaskTaskRunner(address=address)
    jobs = [_job(p) for p in pages]
    with runner:
        futures = [
            runner.submit(
                extract_chunk,
                {"jobs": jobs[i : i + DASK_CHUNK], "first": i + 1, "last": i + len(chunk)},
            )
            for i in range(0, len(jobs), DASK_CHUNK)
            for chunk in [jobs[i : i + DASK_CHUNK]]
        ]
        return [a for f in futures for a in f.result()]


def extract_pages(pages: Sequence[PageFetch], workers: int | None = None) -> list[Article]:
    """The Article of each page, in order, in `workers` processes (1: in line)."""
    with PageExtractor(len(pages), workers) as extractor:
        for page in pages:
            extractor.start(page)
        return list(extractor.articles(pages))


def _job(page: PageFetch) -> Job:
    return (page.html, page.url, page.final_url, page.entries[0][1])
