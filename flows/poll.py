"""The poll-feeds flow: read the state, fetch, decide, extract and detect, load.

The flow only moves data: what to poll, which entries are new, which pages to
fetch and each feed's next state are decided by pure functions in extractors
(decide, plan), which pages are copies and which story an article joins by
extractors.dedup inside the load; the warehouse writes what it is handed. The
network tasks are in flows.fetch; the run's report in flows.summary.
"""

from __future__ import annotations

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

from extractors.decide import due_feeds, feed_updates, feeds_to_poll, register_feed
from extractors.errors import WarehouseError, WarehouseLockedError, redact_url
from extractors.http import Fetcher
from extractors.models import (
    ArticleRecord,
    EntryData,
    FeedPoll,
    FeedSpec,
    FeedState,
    PageFetch,
    PagePlan,
    PollBatch,
)
from extractors.plan import candidate_urls, first_entries, new_entries, plan_pages
from extractors.topics import TopicSet
from flows.alerts import emit_hit_events
from flows.extract import Extracted, PageExtractor, extract_on_dask
from flows.fetch import TASK_WORKERS, fetch_feeds, fetch_pages, unwalked
from flows.liveness import with_signs_of_life
from flows.logs import run_logger
from flows.progress import progress
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


@task(name="find-new-entries", cache_policy=NO_CACHE)
def plan_run(
    db: str, polls: list[FeedPoll], fetch_feeds: set[str]
) -> tuple[list[tuple[str, EntryData]], PagePlan]:
    """Ask the warehouse what it holds of these entries and pages (one read-only
    session), and decide: the new entries, and the pages to fetch, keep or link."""
    seen = list(first_entries(polls))
    if not seen:  # every feed unchanged or failed: nothing to ask the warehouse
        return [], plan_pages([], fetch_feeds, {})
    try:
        with open_warehouse(db, read_only=True) as wh:
            stored = wh.stored_entries(seen)
            entries = new_entries(polls, stored)
            urls = wh.stored_canonical_urls(candidate_urls(entries))
    except WarehouseError:  # not there yet, or held by a writer: everything is new
        entries, urls = new_entries(polls, ()), {}
    return entries, plan_pages(entries, fetch_feeds, urls)


@task(name="extract-and-detect", cache_policy=NO_CACHE)
def extract_and_detect(
    pages: list[PageFetch], topics: TopicSet, extractor: PageExtractor | Extracted
) -> list[ArticleRecord]:
    """Each page's text (the feed's text when the page has none), matched against the
    topics as it comes out of extraction (by the worker that extracted it, if any)."""
    records = []
    progress().start("articles", len(pages))
    for page, (article, matches) in zip(pages, extractor.extracted(pages), strict=True):
        if matches is None:
            matches = tuple(topics.match(article.title, article.text))
        records.append(
            ArticleRecord(
                article=article,
                feed_id=page.entries[0][0],
                entries=page.entries,
                fetched_at=page.fetched_at,
                fetch_status=page.status,
                fetch_error=page.error,
                matches=matches,
            )
        )
        progress().advance("articles")
    return records


@task(name="load-batch", cache_policy=NO_CACHE)
def load_batch(db: str, staged: StagedBatch) -> tuple[LoadResult | None, list[FeedHealth]]:
    """Load the staged batch in one transaction. While another process holds the file (an
    analyst's query, for a moment), wait and try again; if it still does, spool the batch
    for the next run. A held warehouse is expected, not a failure: no failed task."""
    progress().start("load", 1)
    for wait in (*LOAD_WAITS, None):
        try:
            with open_warehouse(db) as wh:
                loaded = wh.load(staged), wh.feed_health()
            progress().advance("load")
            return loaded
        except WarehouseLockedError as e:
            if wait is None:
                path = spool.write(db, staged.batch)
                run_logger().warning("%s; batch kept in %s, to load at the next run", e, path)
                progress().advance("load")
                return None, []
            time.sleep(wait)
    raise AssertionError("unreachable")


def fetch_and_extract(
    plan: PagePlan,
    fetcher: Fetcher,
    topics: TopicSet,
    summary: RunSummary,
    *,
    workers: int | None,
    dask_address: str | None,
) -> tuple[list[PageFetch], list[ArticleRecord]]:
    """The planned pages fetched (and those already stored kept), extracted as they
    arrive (or on Dask), and matched against the topics."""
    # Only fetched pages go to the workers: kept ones (no page fetched) have no HTML.
    with PageExtractor(len(plan.fetch), 1 if dask_address else workers, topics) as ex:
        pages = fetch_pages(plan.fetch, fetcher, ex)
        summary.mark("pages fetched")
        pages += [PageFetch(url, items, datetime.now(UTC)) for url, items in plan.keep.items()]
        source = (
            Extracted(extract_on_dask(pages, dask_address, workers))
            if dask_address and pages
            else ex
        )
        records = extract_and_detect(unwalked(pages), topics, source) if pages else []
    summary.mark("pages extracted")
    return pages, records


def _run_name() -> str:
    return f"poll {datetime.now(UTC):%Y-%m-%d %H:%M}Z"


# Fetching is I/O: threads overlap the waiting. Bounded (Prefect's default is not).
_TASK_RUNNER: TaskRunner[Any] = ThreadPoolTaskRunner(max_workers=TASK_WORKERS)


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
    """Poll every due feed once (all enabled feeds with poll_all) and load what is new.

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
    with Fetcher(config.http) as fetcher:
        polls = fetch_feeds(due, known.states, fetcher)
        summary.mark("feeds fetched")
        entries, plan = plan_run(db, unwalked(polls), {s.name for s in due if s.fetch_pages})
        summary.mark("new entries found")
        pages, records = fetch_and_extract(
            plan, fetcher, topics, summary, workers=extract_workers, dask_address=dask_address
        )
    batch = PollBatch(
        run_id=summary.run_id,
        started_at=started,
        feeds=tuple(register_feed(s, known.states.get(s.name)) for s in config.feeds),
        feed_source=feed_source,
        polls=tuple(polls),
        updates=tuple(feed_updates(polls, known.states, entries)),
        new_entries=tuple(entries),
        articles=tuple(records),
        linked=plan.linked,
        topics=tuple(ct.topic for ct in topics),
        flow_run_id=summary.flow_run_id,
    )
    loaded, health = load_batch(db, unwalked(stage(batch)))  # staged before the file is opened
    summary.finish(batch, loaded, health, pages_fetched=len(pages) - len(plan.keep))
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
