"""The poll-feeds flow: due feeds → fetch → parse → new entries → pages → extract → detect → load.

Thin glue: every decision lives in extractors (pure) or warehouse (the
writer). Tasks work on a group of feeds, a group of hosts' pages or a whole
batch, never on a single article, so Prefect's cost per task stays a small
share of the run however many feeds there are; their large arguments are
quoted, so Prefect does not walk thousands of pages looking for futures.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from extractors.decide import cache_lifetime, due_feeds, feeds_to_poll
from extractors.dedup import canonical_url
from extractors.errors import (
    FeedwatchError,
    FetchError,
    WarehouseError,
    WarehouseLockedError,
    redact,
    redact_url,
)
from extractors.feeds import parse_feed
from extractors.http import Fetcher
from extractors.models import (
    ArticleRecord,
    EntryData,
    FeedPoll,
    FeedSpec,
    FeedState,
    PageFetch,
    PollBatch,
)
from extractors.topics import TopicSet
from flows.alerts import emit_hit_events, story_hits
from flows.extract import Extracted, PageExtractor, extract_on_dask
from flows.logs import run_logger
from flows.progress import progress
from flows.settings import load_feeds_config, load_topics
from flows.summary import RunSummary, summary_markdown
from warehouse import spool
from warehouse.queries import STORED_SOURCES, FeedHealth
from warehouse.staging import StagedBatch, stage
from warehouse.store import LoadResult, Warehouse

__all__ = ["RunSummary", "poll_feeds"]

T = TypeVar("T")
X = TypeVar("X")
TASK_WORKERS = 8  # Prefect task threads; requests in flight are capped by the Fetcher


def poll_feed(spec: FeedSpec, state: FeedState | None, fetcher: Fetcher) -> FeedPoll:
    """Fetch and parse one feed. Never raises: a failure is recorded in the result."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    url = _feed_url(spec, state)
    same = state is not None and state.url == url
    try:
        response = fetcher.fetch_feed(
            url,
            etag=state.etag if same and state else None,
            last_modified=state.last_modified if same and state else None,
        )
        fetched = FeedPoll(
            feed=spec,
            started_at=started,
            url=url,
            ok=True,
            status=response.status,
            bytes=len(response.content),
            final_url=response.final_url,
            permanent_redirect=response.permanent_redirect,
            cache_seconds=cache_lifetime(response.headers, started),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        if response.not_modified:  # nothing changed: no parsing at all
            return replace(fetched, duration_ms=_ms(t0))
        feed = parse_feed(response.content, response.headers, response.final_url)
        hints = [h for h in (fetched.cache_seconds, feed.ttl_seconds) if h]
        return replace(
            fetched,
            duration_ms=_ms(t0),
            cache_seconds=max(hints) if hints else None,
            title=feed.title,
            site_url=feed.link,
            warning=f"not well-formed, read anyway: {feed.bozo_reason}" if feed.bozo else None,
            entries=feed.entries,
        )
    except Exception as e:  # one broken feed must never stop the others
        status, transient, retry_after, message = _describe_failure(e)
        if isinstance(e, FeedwatchError):
            run_logger().warning("feed %s failed: %s", spec.name, message)
        else:
            run_logger().exception("feed %s: unexpected error", spec.name)
        return FeedPoll(
            feed=spec,
            started_at=started,
            url=url,
            ok=False,
            status=status,
            error=message,
            transient=transient,
            retry_after=retry_after,
            duration_ms=_ms(t0),
        )


def _feed_url(spec: FeedSpec, state: FeedState | None) -> str:
    """The stored URL follows permanent moves of the configured one."""
    return state.url if state and state.config_url == spec.url else spec.url


def _describe_failure(e: Exception) -> tuple[int | None, bool, float | None, str]:
    """(HTTP status, worth retrying soon, Retry-After, message) for a failed poll."""
    if isinstance(e, FetchError):
        return e.status, e.transient, e.retry_after, str(e)
    if isinstance(e, FeedwatchError):  # fetched fine, but not a feed
        return 200, False, None, str(e)
    return None, True, None, redact(f"internal error: {type(e).__name__}: {e}")


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)


@task(name="poll-feed-group", task_run_name="poll {label}", cache_policy=NO_CACHE)
def poll_group(
    label: str, feeds: list[tuple[FeedSpec, FeedState | None]], fetcher: Fetcher
) -> list[FeedPoll]:
    """Poll a group of feeds concurrently (the Fetcher keeps each host's limits)."""

    def one(feed: tuple[FeedSpec, FeedState | None]) -> FeedPoll:
        result = poll_feed(feed[0], feed[1], fetcher)
        progress().advance("feeds")
        return result

    return _threaded(one, feeds, 4)


def _threaded(fn: Callable[[X], T], items: Sequence[X], threads: int) -> list[T]:
    """fn over items on a few threads, in order, each call in a copy of the caller's
    context: without the task run's context, log lines would miss the Prefect UI."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), threads))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [f.result() for f in futures]


PAGE_THREADS = 4  # requests a fetch-pages task keeps going (the Fetcher caps the total)


@task(name="fetch-pages", task_run_name="fetch pages from {label}", cache_policy=NO_CACHE)
def fetch_pages(
    label: str,
    items: list[tuple[str, tuple[tuple[str, EntryData], ...]]],
    fetcher: Fetcher,
    extractor: PageExtractor,
) -> list[PageFetch]:
    """Fetch a group of hosts' pages, each handed to extraction as soon as it arrives.

    `items` take the hosts in turn, so a thread rarely waits for a host's
    politeness delay while another host's page is ready.
    """

    def fetch(item: tuple[str, tuple[tuple[str, EntryData], ...]]) -> PageFetch:
        url, entries = item
        fetched_at = datetime.now(UTC)
        try:
            r = fetcher.fetch_page(url)
            page = PageFetch(url, entries, fetched_at, r.final_url, r.status, r.content)
        except FetchError as e:
            run_logger().warning("page %s: %s", redact_url(url), redact(e.reason))
            page = PageFetch(url, entries, fetched_at, status=e.status, error=e.reason)
        started = extractor.start(page)  # without its HTML once a worker has it
        progress().advance("pages")
        return started

    return _threaded(fetch, items, PAGE_THREADS)


@task(name="extract-and-detect", cache_policy=NO_CACHE)
def extract_and_detect(
    pages: list[PageFetch], topics: TopicSet, extractor: PageExtractor | Extracted
) -> list[ArticleRecord]:
    """Each page's text (the feed's text when the page has none), matched against the
    topics as it comes out of extraction."""
    records = []
    progress().start("articles", len(pages))
    for page, article in zip(pages, extractor.articles(pages), strict=True):
        feed_id, _ = page.entries[0]
        matches = topics.match(article.title, article.text)
        records.append(
            ArticleRecord(
                article=article,
                feed_id=feed_id,
                entries=page.entries,
                fetched_at=page.fetched_at,
                fetch_status=page.status,
                fetch_error=page.error,
                matches=tuple(matches),
            )
        )
        progress().advance("articles")
    return records


def _unwalked(value: T) -> T:
    """`value` as a task argument Prefect passes on without walking it for futures
    (a run's pages: thousands of objects)."""
    return cast(T, quote(value))


LOAD_WAITS = (1.0, 4.0)  # seconds between attempts to load while another process holds the file


@task(name="load-batch", cache_policy=NO_CACHE)
def load_batch(db: str, staged: StagedBatch) -> tuple[LoadResult | None, list[FeedHealth]]:
    """Load the staged batch in one transaction. While another process holds the file (an
    analyst's query, for a moment), wait and try again; if it still does, spool the batch
    for the next run. A held warehouse is expected, not a failure: no failed task."""
    for wait in (*LOAD_WAITS, None):
        try:
            with Warehouse.open(db) as wh:
                return wh.load(staged), wh.feed_health()
        except WarehouseLockedError as e:
            if wait is None:
                path = spool.write(db, staged.batch)
                run_logger().warning("%s; batch kept in %s, to load at the next run", e, path)
                return None, []
            time.sleep(wait)
    raise AssertionError("unreachable")


@task(name="load-spooled", cache_policy=NO_CACHE)
def load_spooled(db: str) -> int:
    """Load batches spooled by earlier runs, oldest first. Returns how many were loaded."""
    loaded = 0
    for path in spool.pending(db):
        try:
            batch = spool.read(path)
        except WarehouseError as e:  # e.g. written by another feedwatch version: keep it
            run_logger().warning("spooled batch left in place: %s", e)
            continue
        staged = stage(batch)
        try:
            with Warehouse.open(db) as wh:
                wh.load(staged)
        except WarehouseLockedError:
            break  # still held: they wait for the next run
        spool.remove(path)
        loaded += 1
    if loaded:
        run_logger().info("loaded %d spooled batches", loaded)
    return loaded


class _State:
    """What the run knows from the warehouse; empty when it cannot be read at all."""

    def __init__(self, db: str):
        self.db = db
        self.readable = True

    @contextmanager
    def session(self) -> Iterator[Warehouse | None]:
        """Read-write if possible, else read-only beside another reader, else nothing."""
        try:
            with Warehouse.open(self.db) as wh:
                yield wh
                return
        except WarehouseLockedError:
            pass
        try:
            with Warehouse.open(self.db, read_only=True) as wh:
                yield wh
                return
        except WarehouseError:
            self.readable = False
            yield None


def _run_name() -> str:
    return f"poll {datetime.now(UTC):%Y-%m-%d %H:%M}Z"


# Fetching is I/O: threads overlap the waiting. Bounded (Prefect's default is not).
_TASK_RUNNER: TaskRunner[Any] = ThreadPoolTaskRunner(max_workers=TASK_WORKERS)


@flow(name="poll-feeds", flow_run_name=_run_name, task_runner=_TASK_RUNNER)
def poll_feeds(
    feeds_path: str = "feeds.yaml",
    topics_path: str = "topics.yaml",
    db: str = "data/feedwatch.duckdb",
    poll_all: bool = False,
    feed_source: str = "config",
    extract_workers: int | None = None,
    dask_address: str | None = None,
) -> RunSummary:
    """Poll every due feed once (all enabled feeds with poll_all) and load what is new.

    extract_workers: processes extracting pages (default: every core once a run has
    enough pages to pay for starting them; 1: in the flow's process).
    dask_address: extract on a Dask cluster instead (docs/scaling.md): its scheduler's
    address, or "local" for a cluster of extract_workers processes on this machine.
    """
    started = datetime.now(UTC)
    t0 = time.monotonic()
    log = run_logger()
    config = load_feeds_config(feeds_path)
    topics = load_topics(topics_path)
    summary = RunSummary(run_id=uuid.uuid4().hex[:12], flow_run_id=flow_run.get_id())

    def mark(step: str) -> None:
        summary.timeline[step] = round(time.monotonic() - t0, 2)

    summary.spooled_loaded = load_spooled(db)
    state = _State(db)
    states: dict[str, FeedState] = {}
    stored: list[FeedSpec] = []
    with state.session() as wh:
        if wh is not None:
            states = wh.feed_states()
            stored = [s for s, _ in wh.stored_feeds(STORED_SOURCES)]
    if not state.readable:
        log.warning("the warehouse is held by another process: polling without its state")
    specs = feeds_to_poll(config.feeds, stored)
    mark("state read")
    due = due_feeds(specs, states, started, poll_all=poll_all)
    summary.feeds_due, summary.feeds_skipped = len(due), len(specs) - len(due)
    log.info("%d of %d feeds due", len(due), len(specs))
    progress().start("feeds", len(due))

    with ExitStack() as stack:
        fetcher = stack.enter_context(Fetcher(config.http))
        groups = _feed_groups([(s, states.get(s.name)) for s in due], TASK_WORKERS)
        futures = [poll_group.submit(label, _unwalked(g), fetcher) for label, g in groups]
        polls = [p for f in futures for p in f.result()]
        mark("feeds fetched")
        with state.session() as wh:
            fetch_feeds = {s.name for s in due if s.fetch_pages}
            new_entries = (
                wh.unknown_entries([p for p in polls if p.ok]) if wh else _all_entries(polls)
            )
            to_fetch, to_keep, linked = _plan_pages(wh, new_entries, fetch_feeds)
        mark("new entries found")
        # Extraction starts with the first page fetched (on Dask: once all are in).
        if to_fetch:
            progress().start("pages", len(to_fetch))
        expected = len(to_fetch) + len(to_keep)
        extractor = stack.enter_context(
            PageExtractor(expected, 1 if dask_address else extract_workers)
        )
        page_futures = [
            fetch_pages.submit(label, _unwalked(items), fetcher, extractor)
            for label, items in _page_groups(to_fetch, TASK_WORKERS)
        ]
        pages = [p for f in page_futures for p in f.result()]
        fetcher.close()
        mark("pages fetched")

        # Entries of feeds that do not fetch pages go on with the feed's own text.
        now = datetime.now(UTC)
        pages += [PageFetch(url, entries, now) for url, entries in to_keep.items()]
        source: PageExtractor | Extracted = extractor
        if dask_address and pages:
            source = Extracted(extract_on_dask(pages, dask_address, extract_workers))
        records = extract_and_detect(_unwalked(pages), topics, source) if pages else []
        mark("pages extracted")
    batch = PollBatch(
        run_id=summary.run_id,
        started_at=started,
        feeds=tuple(config.feeds),
        feed_source=feed_source,
        polls=tuple(polls),
        new_entries=tuple(new_entries),
        articles=tuple(records),
        linked=tuple(linked),
        topics=tuple(ct.topic for ct in topics),
        flow_run_id=summary.flow_run_id,
    )
    progress().start("load", 1)
    # Staged before the file is opened: it stays locked only while loading.
    loaded, health = load_batch(db, _unwalked(stage(batch)))
    progress().advance("load")
    mark("loaded")
    if loaded is None:
        summary.spooled = True
    result = loaded or LoadResult()

    summary.feeds_polled = len(polls)
    summary.not_modified = sum(p.status == 304 for p in polls)
    summary.failed = [(p.feed.name, p.error or "") for p in polls if not p.ok]
    summary.entries_seen = sum(len(p.entries) for p in polls)
    summary.new_entries = result.new_entries
    summary.pages_fetched = len(pages) - len(to_keep)
    summary.new_articles = result.new_articles
    summary.duplicate_articles = result.duplicate_articles
    summary.hits = result.hits
    summary.unhealthy = [h for h in health if h.needs_care]
    summary.stale_topics = result.stale_topics
    if result.stale_topics:
        log.warning(
            "topics changed since the last rescore: %s; stored articles still carry the old "
            "matches (run 'feedwatch rescore')",
            ", ".join(result.stale_topics),
        )
    summary.seconds = round(time.monotonic() - t0, 2)
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
    log.info(
        "polled %d feeds (%d failed, %d not modified): %d new entries, %d new articles, %d hits",
        summary.feeds_polled,
        len(summary.failed),
        summary.not_modified,
        summary.new_entries,
        summary.new_articles,
        len(summary.hits),
    )
    return summary


def _in_turn(items: list[X], url: Callable[[X], str], n: int) -> list[tuple[list[str], list[X]]]:
    """Split items into at most n groups (one Prefect task each) of whole hosts, balanced
    by count; each group takes its hosts in turn, so that a thread rarely waits out a
    host's politeness delay while another host's request is ready. (hosts, items) each."""
    by_host: dict[str, list[X]] = defaultdict(list)
    for item in items:
        by_host[urlsplit(url(item)).netloc.lower()].append(item)
    groups: list[list[str]] = [[] for _ in range(min(n, len(by_host)))]
    load = [0] * len(groups)
    for host in sorted(by_host, key=lambda h: -len(by_host[h])):  # largest first, to the lightest
        i = load.index(min(load))
        groups[i].append(host)
        load[i] += len(by_host[host])
    return [
        (hosts, [x for turn in zip_longest(*(by_host[h] for h in hosts)) for x in turn if x])
        for hosts in groups
    ]


def _feed_groups(
    feeds: list[tuple[FeedSpec, FeedState | None]], n: int
) -> list[tuple[str, list[tuple[FeedSpec, FeedState | None]]]]:
    """The feeds in at most n groups of whole hosts, labelled by their feeds' names."""
    out = []
    for _, group in _in_turn(feeds, lambda f: _feed_url(*f), n):
        names = [s.name for s, _ in group]
        out.append((names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1} more", group))
    return out


Entries = tuple[tuple[str, EntryData], ...]  # (feed, entry) pairs leading to one page
Pages = dict[str, Entries]


def _all_entries(polls: Sequence[FeedPoll]) -> list[tuple[str, EntryData]]:
    """Every entry, first occurrence only: what is new when the warehouse cannot tell."""
    seen: dict[tuple[str, str], EntryData] = {}
    for p in polls:
        if p.ok:
            for e in p.entries:
                seen.setdefault((p.feed.name, e.guid), e)
    return [(feed_id, e) for (feed_id, _), e in seen.items()]


def _plan_pages(
    wh: Warehouse | None, new_entries: Sequence[tuple[str, EntryData]], fetch_feeds: set[str]
) -> tuple[Pages, Pages, list[tuple[str, str, str]]]:
    """Group new entries by the page they lead to; skip pages stored already.

    Returns the pages to fetch (url → the entries leading there: fetched once,
    however many feeds carry it), the pages to keep without fetching (their
    feeds do not fetch pages), and (feed, guid, article_id) links for pages
    already stored.
    """
    groups: dict[str, list[tuple[str, EntryData]]] = defaultdict(list)
    first_url: dict[str, str] = {}
    for feed_id, entry in new_entries:
        if not entry.link or urlsplit(entry.link).scheme not in {"http", "https"}:
            continue  # nothing to fetch; the entry keeps the feed's own text
        key = canonical_url(entry.link)
        first_url.setdefault(key, entry.link)
        groups[key].append((feed_id, entry))
    stored = wh.stored_canonical_urls(list(groups)) if wh else {}
    linked = [
        (feed_id, entry.guid, stored[key])
        for key, items in groups.items()
        if key in stored
        for feed_id, entry in items
    ]
    to_fetch: Pages = {}
    to_keep: Pages = {}
    for key, items in groups.items():
        if key in stored:
            continue
        wanted = any(feed_id in fetch_feeds for feed_id, _ in items)
        (to_fetch if wanted else to_keep)[first_url[key]] = tuple(items)
    return to_fetch, to_keep, linked


def _page_groups(pages: Pages, n: int) -> list[tuple[str, list[tuple[str, Entries]]]]:
    """The pages in at most n groups of whole hosts, labelled by their hosts."""
    return [
        (hosts[0] if len(hosts) == 1 else f"{hosts[0]} +{len(hosts) - 1} more hosts", items)
        for hosts, items in _in_turn(list(pages.items()), lambda p: p[0], n)
    ]
