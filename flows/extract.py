"""Extraction on every core, started as pages arrive. trafilatura is pure Python
and CPU-bound (15–27 ms a page here), so threads cannot share it out: a run with
enough pages to pay for starting worker processes extracts them in a process
pool while the rest are still being fetched; smaller runs extract in line.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import partial
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from extractors.errors import ConfigError
from extractors.models import Article, PageFetch, TopicMatch
from extractors.topics import TopicSet
from flows.extract_worker import (
    PRELOAD,
    Extraction,
    Job,
    extract_and_match,
    extract_job,
    start_worker,
    warm_up,
)
from flows.runtime import lifeline

__all__ = [
    "DASK_CHUNK",
    "POOL_MIN_PAGES",
    "DaskExtractor",
    "Done",
    "Failed",
    "PageExtractor",
    "extract_on_dask",
    "extract_pages",
    "usable_cores",
]

# One page at a time in this process, whichever thread hands it over: trafilatura
# parses with one lxml parser of its own, and lxml parsers are not to be shared
# between threads (two fetch threads extracting at once corrupted the heap).
_IN_LINE = threading.Lock()

# Starting the pool costs about a second here (docs/performance.md): it pays off
# from about 100 pages; fewer are extracted in line.
POOL_MIN_PAGES = 96


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# What an extractor hands back for each page: the page (without its HTML), its
# Article and its topic matches. Called from whichever thread finished the page.
Done = Callable[[PageFetch, Article, tuple[TopicMatch, ...]], None]
# Where it reports a page it could not extract (a bug: extraction takes any bytes).
Failed = Callable[[PageFetch, BaseException], None]


class PageExtractor:
    """Pages in (from any thread, as they are fetched), each page's Article and topic
    matches out, to the `done` given with it.

    With `workers` ≥ 2 (default: every core once the pages expected, `expect`, reach
    POOL_MIN_PAGES), pages are extracted and matched in worker processes while the
    rest are still being fetched; until then, and with workers = 1, in the thread that
    hands them over.
    """

    def __init__(
        self, expected: int = 0, workers: int | None = None, topics: TopicSet | None = None
    ):
        self._workers = workers
        self._topics = topics
        self._expected = 0
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: Connection | None = None
        self._closed = False
        self._failed = False
        self._starting: threading.Thread | None = None
        self._starting_done = False
        self._pending: list[tuple[PageFetch, Done, Failed | None]] = []  # while it starts
        self.expect(expected, wait=True)

    @property
    def workers(self) -> int:
        """Processes extracting now (1: in line)."""
        return self._pool_size() if self._pool is not None else 1

    def _pool_size(self) -> int:
        return self._workers or usable_cores()

    def expect(self, pages: int, *, wait: bool = False) -> None:
        """`pages` more are on their way: the pool starts once they pay for it, in the
        background (pages handed over meanwhile are extracted in line), or before this
        returns with `wait`."""
        with self._lock:
            self._expected += pages
            if (
                self._starting is None
                and not self._closed
                and self._pool_size() >= 2
                and self._expected >= (2 if self._workers else POOL_MIN_PAGES)
            ):
                self._starting = threading.Thread(target=self._start_pool, name="start-workers")
                self._starting.start()
        if wait and self._starting is not None:
            self._starting.join()

    def _start_pool(self) -> None:
        """In a thread of its own: the fork server's imports take a second or two, which
        a run planning its feeds does not wait for."""
        # forkserver, not fork: the flow's process runs threads (Prefect's, the
        # fetcher's), and forking a threaded process can deadlock the child.
        context = multiprocessing.get_context("forkserver")
        # The fork server loads extraction's libraries and models once (not Prefect);
        # each worker starts as a fork of it.
        context.set_forkserver_preload(PRELOAD)
        # Each worker ends with this process, however it ends (flows.runtime.lifeline): a
        # worker's parent is the fork server, which outlives this process for as
        # long as its workers do.
        self._lifeline = Connection(os.dup(lifeline.read_end()), writable=False)
        pool = ProcessPoolExecutor(
            max_workers=self._pool_size(),
            mp_context=context,
            initializer=start_worker,
            initargs=(self._topics, self._lifeline),  # sent once to each worker, not per page
        )
        try:
            # Start the workers now, while the pages are still on their way.
            ready = [pool.submit(warm_up, None) for _ in range(self._pool_size())]
            for f in ready:
                f.result()
        except (BrokenProcessPool, RuntimeError) as e:
            pool.shutdown(wait=False, cancel_futures=True)
            self._broken(e)
        else:
            with self._lock:
                if not self._closed:
                    self._pool = pool
            if self._pool is not pool:  # closed meanwhile
                pool.shutdown(wait=True)
        with self._lock:
            waiting, self._pending = self._pending, []
            self._starting_done = True
        for page, done, failed in waiting:  # to the workers, or in line if there are none
            self.submit(page, done, failed)

    def __enter__(self) -> PageExtractor:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the pages handed over, then stop the workers."""
        if self._starting is not None:
            self._starting.join()
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None

    def submit(self, page: PageFetch, done: Done, failed: Failed | None = None) -> None:
        """Extract and match `page`, in a worker if there are workers (thread-safe), and
        hand the outcome to `done`. In line, an error is raised; from a worker, it goes
        to `failed` (or is raised in the pool's thread, which only logs it)."""
        with self._lock:
            pool = self._pool
            if pool is None and self._starting is not None and not self._starting_done:
                # The workers are on their way: extracted in line, the page would
                # hold up the thread that fetched it, and the pool would wait idle.
                self._pending.append((page, done, failed))
                return
        job = _job(page)
        if pool is not None:
            try:
                future = pool.submit(extract_and_match, job)
            except (BrokenProcessPool, RuntimeError) as e:  # broken, or shut down meanwhile
                self._broken(e)
            else:
                page = replace(page, html=None)
                future.add_done_callback(partial(self._finish, page, job, done, failed))
                return
        self._in_line(page, job, done)

    def _finish(
        self, page: PageFetch, job: Job, done: Done, failed: Failed | None, f: Future[Extraction]
    ) -> None:
        try:
            try:
                article, matches = f.result()
            except (BrokenProcessPool, CancelledError) as e:
                self._broken(e)
                self._in_line(page, job, done)
                return
            done(page, article, matches if matches is not None else self._match(article))
        except Exception as e:
            if failed is None:
                raise
            failed(page, e)

    def _in_line(self, page: PageFetch, job: Job, done: Done) -> None:
        with _IN_LINE:
            article = extract_job(job)
            matches = self._match(article)
        done(replace(page, html=None), article, matches)

    def _match(self, article: Article) -> tuple[TopicMatch, ...]:
        if self._topics is None:
            return ()
        return tuple(self._topics.match(article.title, article.text))

    def _broken(self, e: BaseException) -> None:
        # Workers that cannot start (a main module they cannot import, e.g. code
        # piped to python) or that died: the pages are still extracted, in line.
        with self._lock:
            pool, self._pool = self._pool, None
            first, self._failed = not self._failed, True
            self._closed = True  # no second pool for this run
        if first:  # once, however many pages were on their way
            logging.getLogger("feedwatch").warning("extraction workers failed (%s): in line", e)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def pump(self, final: bool = False) -> None:
        """Nothing to send on: pages go to the workers as they are handed over."""


# Pages a Dask task extracts: enough that a task's cost (a task run reported to
# Prefect, the pages sent to a worker) stays small beside ~30 ms a page.
DASK_CHUNK = 16
DASK_WAIT = 0.5  # seconds a short chunk waits for more pages before it goes


@task(name="extract-chunk", task_run_name="extract pages {first}–{last}", cache_policy=NO_CACHE)
def extract_chunk(jobs: list[Job], first: int, last: int) -> list[Article]:
    return [extract_job(job) for job in jobs]


class DaskExtractor:
    """Pages extracted by tasks (one per DASK_CHUNK pages) that prefect-dask runs on the
    scheduler at `address`, or with "local" on a cluster of `workers` processes
    (default: every core) started for this run; handed back as PageExtractor does.

    Pages are handed over from any thread; chunks are sent by `pump`, which the flow's
    own thread calls (Prefect submits task runs from the flow's context). The task
    runner is used directly, not through a subflow: a flow run's parameters are stored
    by the Prefect server (at most 512 KB), and a run's pages are megabytes.
    """

    def __init__(self, address: str, workers: int | None = None, topics: TopicSet | None = None):
        try:
            from prefect_dask.task_runners import DaskTaskRunner
        except ImportError as e:
            raise ConfigError(
                "extraction on Dask needs prefect-dask: pip install 'feedwatch[dask]'"
            ) from e
        if address == "local":
            self._runner = DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": workers or usable_cores(),
                    "threads_per_worker": 1,  # trafilatura holds the GIL: one page a process
                    "processes": True,
                    "dashboard_address": None,
                }
            )
        else:
            self._runner = DaskTaskRunner(address=address)
        self._topics = topics
        self._lock = threading.Lock()
        self._chunk: list[tuple[PageFetch, Done, Failed | None]] = []
        self._since = 0.0  # when the chunk's first page came
        self._sent = 0
        self._waiting = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dask-results")
        self._runner.__enter__()  # type: ignore[no-untyped-call]
        self.workers = workers or usable_cores()

    def __enter__(self) -> DaskExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def expect(self, pages: int) -> None:
        pass

    def submit(self, page: PageFetch, done: Done, failed: Failed | None = None) -> None:
        with self._lock:
            if not self._chunk:
                self._since = time.monotonic()
            self._chunk.append((page, done, failed))

    def pump(self, final: bool = False) -> None:
        """Send every full chunk, and a short one that waited DASK_WAIT (or `final`)."""
        with self._lock:
            items, self._chunk = self._chunk, []
            waited = time.monotonic() - self._since >= DASK_WAIT
        while items:
            chunk, items = items[:DASK_CHUNK], items[DASK_CHUNK:]
            if len(chunk) < DASK_CHUNK and not (final or waited):
                with self._lock:
                    self._chunk = chunk + self._chunk
                return
            jobs = [_job(page) for page, _, _ in chunk]
            future = self._runner.submit(
                extract_chunk,
                {"jobs": jobs, "first": self._sent + 1, "last": self._sent + len(jobs)},
            )
            self._sent += len(jobs)
            self._waiting.submit(self._finish, future, chunk)

    def _finish(self, future: Any, chunk: list[tuple[PageFetch, Done, Failed | None]]) -> None:
        try:
            articles = future.result()
        except Exception as e:  # the task failed: every page of it
            for page, _, failed in chunk:
                if failed is not None:
                    failed(page, e)
            return
        for (page, done, _), article in zip(chunk, articles, strict=True):
            topics = self._topics
            matches = () if topics is None else tuple(topics.match(article.title, article.text))
            done(replace(page, html=None), article, matches)

    def close(self) -> None:
        self.pump(final=True)
        self._waiting.shutdown(wait=True)
        self._runner.__exit__(None, None, None)


def extract_on_dask(
    pages: Sequence[PageFetch], address: str, workers: int | None = None
) -> list[Article]:
    """Each page's Article, in order, extracted on Dask (DaskExtractor)."""
    out: dict[int, Article] = {}
    with DaskExtractor(address, workers) as ex:
        for i, page in enumerate(pages):
            ex.submit(page, partial(_keep, out, i))
        ex.pump(final=True)
    return [out[i] for i in range(len(pages))]


def extract_pages(pages: Sequence[PageFetch], workers: int | None = None) -> list[Article]:
    """The Article of each page, in order, in `workers` processes (1: in line)."""
    out: dict[int, Article] = {}
    with PageExtractor(len(pages), workers) as extractor:
        for i, page in enumerate(pages):
            extractor.submit(page, partial(_keep, out, i))
    return [out[i] for i in range(len(pages))]


def _keep(out: dict[int, Article], i: int, page: PageFetch, article: Article, _: object) -> None:
    out[i] = article


def _job(page: PageFetch) -> Job:
    return (page.html, page.url, page.final_url, page.entries[0][1])
