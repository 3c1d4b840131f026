"""The poll-feeds flow: read the state, then stream: each feed is planned as soon as
it is read, its new pages fetched and extracted as they come, and the articles
loaded in batches, each its own transaction.

The flow only moves data: what to poll, which entries are new, which pages to
fetch, what each batch holds and each feed's next state are decided by pure
code in extractors (decide, stream), which pages are copies and which story an
article joins by extractors.dedup inside the load; the warehouse writes what it
is handed. The network tasks are in flows.fetch, extraction in flows.extract,
the run's report in flows.summary.
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from extractors.decide import due_feeds, feeds_to_poll, register_feed
from extractors.errors import FeedwatchError, WarehouseError, WarehouseLockedError, redact_url
from extractors.http import Fetcher
from extractors.models import (
    Article,
    ArticleRecord,
    FeedPoll,
    FeedSpec,
    FeedState,
    PageFetch,
    TopicMatch,
)
from extractors.stream import PollLedger, RunInfo
from extractors.topics import TopicSet
from flows.alerts import emit_hit_events
from flows.extract import DaskExtractor, PageExtractor
from flows.fetch import FEED_TASKS, PageQueue, fetch_feeds, fetch_pages, unwalked
from flows.runtime.liveness import with_signs_of_life
from flows.runtime.logs import run_logger
from flows.runtime.progress import progress
from flows.settings import load_feeds_config, load_topics, use_data_path
from flows.summary import RunSummary, story_hits, summary_markdown
from warehouse import Warehouse, open_warehouse, spool
from warehouse.api import STORED_SOURCES, FeedHealth, LoadResult
from warehouse.staging import StagedBatch, stage

__all__ = ["RunSummary", "poll_feeds"]

LOAD_WAITS = (1.0, 4.0)  # seconds between attempts to load while another process holds the file


@dataclass
class Known:
    """What the run knows from the warehouse before it fetches anything."""

    states: dict[str, FeedState] = field(default_factory=dict)
    stored: list[FeedSpec] = field(default_factory=list)  # feeds added by the CLI or OPML
    spooled_loaded: int = 0
    readable: bool = True


@contextmanager
def _session(db: str) -> Iterator[Warehouse | None]:
    """Read-write if possible (it upgrades the schema), else read-only beside another
    reader, else nothing: a writer holds the file, and the run goes on without it."""
    try:
        with open_warehouse(db) as wh:
            yield wh
            return
    except WarehouseLockedError:
        pass
    try:
        with open_warehouse(db, read_only=True) as wh:
            yield wh
            return
    except WarehouseError:
        yield None


@task(name="read-state", cache_policy=NO_CACHE)
def read_state(db: str) -> Known:
    """Load the batches earlier runs spooled, then read every feed's state."""
    known = Known(spooled_loaded=load_spooled(db))
    with _session(db) as wh:
        if wh is None:
            known.readable = False
            run_logger().warning(
                "the warehouse is held by another process: polling without its state"
            )
        else:
            known.states = wh.feed_states()
            known.stored = [s for s, _ in wh.stored_feeds(STORED_SOURCES)]
    return known


def load_spooled(db: str) -> int:
    """Load batches spooled by earlier runs, oldest first. Returns how many were loaded."""
    loaded = 0
    for path in spool.pending(db):
        try:
            batch = spool.read(path)
        except WarehouseError as e:  # e.g. written by another feedwatch version: keep it
            run_logger().warning("spooled batch left in place: %s", e)
            continue
        try:
            with open_warehouse(db) as wh:
                wh.load(stage(batch))
        except WarehouseLockedError:
            break  # still held: they wait for the next run
        spool.remove(path)
        loaded += 1
    if loaded:
        run_logger().info("loaded %d spooled batches", loaded)
    return loaded


def lookup(db: str, ledger: PollLedger, polls: list[FeedPoll]) -> tuple[set[Any], dict[str, str]]:
    """What the warehouse holds of these polls' entries and of the pages they lead to
    (one short read-only session). While another process writes (a concurrent run's
    batch), wait a moment; if it goes on, everything counts as new: the load keeps
    every entry and story once all the same."""
    seen = ledger.seen(polls)
    if not seen:  # every feed unchanged or failed: nothing to ask
        return set(), {}
    for wait in (*LOOKUP_WAITS, None):
        try:
            with open_warehouse(db, read_only=True) as wh:
                return wh.stored_entries(seen), wh.stored_canonical_urls(ledger.candidates(polls))
        except WarehouseLockedError:
            if wait is None:
                break
            time.sleep(wait)
        except WarehouseError:  # not there yet: everything is new
            break
    return set(), {}


@task(name="load-batch", task_run_name="load batch {n}", cache_policy=NO_CACHE)
def load_batch(
    db: str, staged: StagedBatch, n: int, final: bool = False
) -> tuple[LoadResult | None, list[FeedHealth]]:
    """Load the staged batch in one transaction (with the run's last, read the feeds'
    health). While another process holds the file (an analyst's query, for a moment),
    wait and try again; if it still does, spool the batch for the next run. A held
    warehouse is expected, not a failure: no failed task."""
    for wait in (*LOAD_WAITS, None):
        try:
            with open_warehouse(db) as wh:
                return wh.load(staged), wh.feed_health() if final else []
        except WarehouseLockedError as e:
            if wait is None:
                path = spool.write(db, staged.batch)
                run_logger().warning("%s; batch kept in %s, to load at the next run", e, path)
                return None, []
            time.sleep(wait)
    raise AssertionError("unreachable")


# What other threads tell the run's loop: ("poll", FeedPoll), ("page", (url,
# ArticleRecord)), or ("failed", (PageFetch, the exception)).
Event = tuple[str, Any]


class Stream:
    """The run's loop, on the flow's own thread: it plans each feed as it is read,
    puts its pages in the fetch queue, collects the extracted articles, and loads
    them in batches, every BATCH_ARTICLES articles or BATCH_SECONDS after the first
    waiting one, whichever comes first (the run's first batch: FIRST_BATCH_SECONDS).
    Planning and loading take turns on this one thread, so a page loaded is never
    planned again and a page under way is never fetched twice."""

    def __init__(
        self,
        db: str,
        ledger: PollLedger,
        extractor: PageExtractor | DaskExtractor,
        summary: RunSummary,
        feeds: int,
    ):
        self.db, self.ledger, self.extractor, self.summary = db, ledger, extractor, summary
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.feeds_left = feeds
        self.health: list[FeedHealth] = []
        self._waiting_since: float | None = None
        self.pages: PageQueue | None = None

    # Called from other threads: they only queue.
    def polled(self, poll: FeedPoll) -> None:
        self.events.put(("poll", poll))

    def page(self, page: PageFetch) -> None:
        try:
            self.extractor.submit(page, self.extracted, self.failed)
        except BaseException as e:  # reported to the loop, which would wait for it forever
            self.failed(page, e)
            raise

    def extracted(self, page: PageFetch, article: Article, matches: tuple[TopicMatch, ...]) -> None:
        record = ArticleRecord(
            article=article,
            feed_id=page.entries[0][0],
            entries=page.entries,
            fetched_at=page.fetched_at,
            fetch_status=page.status,
            fetch_error=page.error,
            matches=matches,
        )
        self.events.put(("page", (page.url, record)))
        if self.pages is not None:
            self.pages.finished(page.url)
        progress().advance("articles")

    def failed(self, page: PageFetch, error: BaseException) -> None:
        self.events.put(("failed", (page, error)))

    def run(self, pages: PageQueue) -> None:
        """Until every feed is read and every page planned is loaded."""
        self.pages = pages
        progress().start("articles", 0)
        if not self.feeds_left:
            pages.close()
        while True:
            events = self._next()
            polls = [value for kind, value in events if kind == "poll"]
            if polls:  # the feeds read meanwhile are planned together: one lookup
                self._plan(polls)
            for kind, value in events:
                if kind == "page":
                    self.ledger.done(*value)
                    if self._waiting_since is None:
                        self._waiting_since = time.monotonic()
                elif kind == "failed":
                    page, error = value
                    raise FeedwatchError(f"page {redact_url(page.url)}: {error}") from error
            self.extractor.pump()
            over = not self.feeds_left and not self.ledger.under_way
            waited = self._waiting_since is not None and (
                time.monotonic() - self._waiting_since >= self._batch_seconds
            )
            if over or waited or self.ledger.ready >= BATCH_ARTICLES:
                self._load(final=over)
            if over:
                return

    def _next(self) -> list[Event]:
        """The events so far, waiting a moment for one."""
        wait = PUMP_SECONDS
        if self._waiting_since is not None:
            due = self._waiting_since + self._batch_seconds
            wait = min(wait, max(0.0, due - time.monotonic()))
        try:
            events = [self.events.get(timeout=wait)]
        except queue.Empty:
            return []
        while True:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                return events

    @property
    def _batch_seconds(self) -> float:
        return BATCH_SECONDS if self.ledger.batches else FIRST_BATCH_SECONDS

    def _plan(self, polls: list[FeedPoll]) -> None:
        stored, urls = lookup(self.db, self.ledger, polls)
        fetch, keep = self.ledger.plan(polls, stored, urls)
        self.feeds_left -= len(polls)
        self.extractor.expect(len(fetch) + len(keep))
        progress().grow("articles", len(fetch) + len(keep))
        assert self.pages is not None
        self.pages.add(fetch)
        now = datetime.now(UTC)
        for url, entries in keep.items():  # no page: the feed's own text, extracted here
            self.page(PageFetch(url, entries, now))
        if not self.feeds_left:
            self.pages.close()
        if "first feed planned" not in self.summary.timeline:
            self.summary.mark("first feed planned")

    def _load(self, *, final: bool) -> None:
        self._waiting_since = None
        batch = self.ledger.take()
        if batch is None:
            return
        n = batch.seq + 1
        progress().start("load", 1)  # each batch's load: a line when it starts, and ends
        loaded, health = load_batch(self.db, unwalked(stage(batch)), n, final)
        self.summary.add(batch, loaded)
        if final:
            self.health = health
        progress().advance("load")


def _extractor(
    topics: TopicSet, workers: int | None, dask_address: str | None
) -> PageExtractor | DaskExtractor:
    if dask_address:
        return DaskExtractor(dask_address, workers, topics)
    return PageExtractor(0, workers, topics)


BATCH_ARTICLES = 200  # a batch loads once this many articles wait,
BATCH_SECONDS = 2.0  # or this long after the first of them came, whichever is first;
FIRST_BATCH_SECONDS = 0.5  # the run's first batch sooner: its first stories, queryable
PUMP_SECONDS = 0.25  # the loop looks at the clock at least this often
LOOKUP_WAITS = (0.1, 0.3, 1.0)  # seconds between lookups while another process writes


def _run_name() -> str:
    return f"poll {datetime.now(UTC):%Y-%m-%d %H:%M}Z"


# Fetching is I/O: threads overlap the waiting. Bounded (Prefect's default is not):
# the feed groups, and the page queue's task beside them.
_TASK_RUNNER: TaskRunner[Any] = ThreadPoolTaskRunner(max_workers=FEED_TASKS + 1)


@flow(name="poll-feeds", flow_run_name=_run_name, task_runner=_TASK_RUNNER)
@with_signs_of_life
def poll_feeds(
    feeds_path: str = "feeds.yaml",
    topics_path: str = "topics.yaml",
    db: str = "data/feedwatch.duckdb",
    poll_all: bool = False,
    feed_source: str = "config",
    extract_workers: int | None = None,
    dask_address: str | None = None,
    data_path: str | None = None,
) -> RunSummary:
    """Poll every due feed once (all enabled feeds with poll_all) and load what is new,
    in batches as it comes.

    extract_workers: processes extracting pages (default: every core once a run has
    enough pages to pay for starting them; 1: in the flow's process).
    dask_address: extract on a Dask cluster instead (docs/scaling.md): its scheduler's
    address, or "local" for a cluster of extract_workers processes on this machine.
    data_path: where a lake (db = ducklake:…) keeps its Parquet files (docs/scaling.md).
    """
    use_data_path(data_path)
    started, t0 = datetime.now(UTC), time.monotonic()
    config, topics = load_feeds_config(feeds_path), load_topics(topics_path)
    summary = RunSummary(run_id=uuid.uuid4().hex[:12], flow_run_id=flow_run.get_id())
    known = read_state(db)
    due = due_feeds(
        feeds_to_poll(config.feeds, known.stored), known.states, started, poll_all=poll_all
    )
    summary.start(known.spooled_loaded, len(due), len(config.feeds) + len(known.stored), t0)
    run_logger().info(
        "%d of %d feeds due", summary.feeds_due, summary.feeds_due + summary.feeds_skipped
    )
    ledger = PollLedger(
        RunInfo(
            run_id=summary.run_id,
            started_at=started,
            feeds=tuple(register_feed(s, known.states.get(s.name)) for s in config.feeds),
            feed_source=feed_source,
            topics=tuple(ct.topic for ct in topics),
            flow_run_id=summary.flow_run_id,
        ),
        known.states,
        {s.name for s in due if s.fetch_pages},
    )
    with (
        Fetcher(config.http) as fetcher,
        _extractor(topics, extract_workers, dask_address) as extractor,
    ):
        stream = Stream(db, ledger, extractor, summary, len(due))
        pages = PageQueue(fetcher, stream.page)
        fetching = fetch_pages.submit(unwalked(pages), fetcher.settings.max_concurrency)
        polling = fetch_feeds(due, known.states, fetcher, stream.polled)
        try:
            stream.run(pages)
        finally:
            pages.close()
        fetching.result()
        for f in polling:
            f.result()
    summary.finish(stream.health, pages_fetched=pages.added)
    _publish(summary)
    return summary


def _publish(summary: RunSummary) -> None:
    """The run's artifacts (summary, table of new stories), events and last log line."""
    create_markdown_artifact(
        key="poll-summary", markdown=summary_markdown(summary), description="What this poll did"
    )
    stories = story_hits(summary.hits)
    if stories:
        create_table_artifact(
            key="poll-hits",
            table=[
                {
                    "topic": h.topic,
                    "score": h.score,
                    "title": h.title or "",
                    "link": redact_url(h.url),
                    "copies": copies,
                }
                for h, copies in stories
            ],
            description="New topic hits of this poll, one per story",
        )
        summary.events = emit_hit_events(summary.hits)
    log = run_logger()
    if summary.stale_topics:
        log.warning(
            "topics changed since the last rescore: %s; stored articles still carry the old "
            "matches (run 'feedwatch rescore')",
            ", ".join(summary.stale_topics),
        )
    log.info(
        "polled %d feeds (%d failed, %d not modified): %d new entries, %d new articles, %d hits",
        summary.feeds_polled,
        len(summary.failed),
        summary.not_modified,
        summary.new_entries,
        summary.new_articles,
        len(summary.hits),
    )
