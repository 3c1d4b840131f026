"""The poll's network tasks: feeds and pages fetched in groups of whole hosts, a few
threads each (the Fetcher keeps every host's limits), each page handed to
extraction the moment it arrives. Tasks work on a group, never on one article, so
Prefect's cost per task stays a small share of the run; their large arguments are
quoted, so Prefect does not walk thousands of pages looking for futures.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from extractors.decide import cache_lifetime, describe_failure, feed_url
from extractors.errors import FeedwatchError, FetchError, redact, redact_url
from extractors.feeds import parse_feed
from extractors.http import Fetcher
from extractors.models import Entries, FeedPoll, FeedSpec, FeedState, PageFetch
from extractors.plan import in_turn
from flows.extract import PageExtractor
from flows.logs import run_logger
from flows.progress import progress

__all__ = ["TASK_WORKERS", "fetch_feeds", "fetch_pages", "poll_feed", "unwalked"]

T = TypeVar("T")
X = TypeVar("X")
TASK_WORKERS = 8  # groups (Prefect tasks) at once; requests in flight are capped by the Fetcher
FEED_THREADS = 4  # feeds a poll-feed-group task keeps going
# Requests a fetch-pages task keeps going: 8 × 2 threads fill the Fetcher's 16 slots.
# Twice as many waited for the GIL more than for the network: with 4, the flow's
# process spent 4.4 s of CPU on a poll of 905 pages, with 2, 2.9 s, in the same time.
PAGE_THREADS = 2


def unwalked(value: T) -> T:
    """`value` as a task argument Prefect passes on without walking it for futures
    (a run's pages: thousands of objects)."""
    return cast(T, quote(value))


def poll_feed(spec: FeedSpec, state: FeedState | None, fetcher: Fetcher) -> FeedPoll:
    """Fetch and parse one feed. Never raises: a failure is recorded in the result."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    url = feed_url(spec, state)
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
        failure = describe_failure(e)
        if isinstance(e, FeedwatchError):
            run_logger().warning("feed %s failed: %s", spec.name, failure.message)
        else:
            run_logger().exception("feed %s: unexpected error", spec.name)
        return FeedPoll(
            feed=spec,
            started_at=started,
            url=url,
            ok=False,
            status=failure.status,
            error=failure.message,
            transient=failure.transient,
            retry_after=failure.retry_after,
            duration_ms=_ms(t0),
        )


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)


def _threaded(fn: Callable[[X], T], items: Sequence[X], threads: int) -> list[T]:
    """fn over items on a few threads, in order, each call in a copy of the caller's
    context: without the task run's context, log lines would miss the Prefect UI."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), threads))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [f.result() for f in futures]


def _label(names: list[str], unit: str = "more") -> str:
    return names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1} {unit}"


@task(name="poll-feed-group", task_run_name="poll {label}", cache_policy=NO_CACHE)
def poll_group(
    label: str, feeds: list[tuple[FeedSpec, FeedState | None]], fetcher: Fetcher
) -> list[FeedPoll]:
    """Poll a group of feeds concurrently."""

    def one(feed: tuple[FeedSpec, FeedState | None]) -> FeedPoll:
        result = poll_feed(feed[0], feed[1], fetcher)
        progress().advance("feeds")
        return result

    return _threaded(one, feeds, FEED_THREADS)


def fetch_feeds(
    due: Sequence[FeedSpec], states: dict[str, FeedState], fetcher: Fetcher
) -> list[FeedPoll]:
    """Every due feed, in at most TASK_WORKERS tasks of whole hosts."""
    progress().start("feeds", len(due))
    feeds = [(s, states.get(s.name)) for s in due]
    groups = in_turn(feeds, lambda f: feed_url(*f), TASK_WORKERS)
    futures = [
        poll_group.submit(_label([s.name for s, _ in g]), unwalked(g), fetcher) for _, g in groups
    ]
    return [p for f in futures for p in f.result()]


@task(name="fetch-pages", task_run_name="fetch pages from {label}", cache_policy=NO_CACHE)
def fetch_page_group(
    label: str, items: list[tuple[str, Entries]], fetcher: Fetcher, extractor: PageExtractor
) -> list[PageFetch]:
    """Fetch a group of hosts' pages (taken in turn), each handed to extraction as soon
    as it arrives."""

    def fetch(item: tuple[str, Entries]) -> PageFetch:
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


def fetch_pages(
    pages: dict[str, Entries], fetcher: Fetcher, extractor: PageExtractor
) -> list[PageFetch]:
    """Every page to fetch, in at most TASK_WORKERS tasks of whole hosts."""
    if pages:
        progress().start("pages", len(pages))
    groups: list[tuple[list[str], list[Any]]] = in_turn(
        list(pages.items()), lambda p: p[0], TASK_WORKERS
    )
    futures = [
        fetch_page_group.submit(_label(hosts, "more hosts"), unwalked(items), fetcher, extractor)
        for hosts, items in groups
    ]
    return [p for f in futures for p in f.result()]
