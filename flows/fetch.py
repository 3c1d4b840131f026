"""The poll's network tasks: feeds polled in groups of whole hosts, a few threads
each, every feed handed on the moment it is read; pages fetched from a queue the
run fills as it plans each feed, every page handed to extraction the moment it
arrives (the Fetcher keeps every host's limits). Tasks work on a group, never on
one article, so Prefect's cost per task stays a small share of the run; their
large arguments are quoted, so Prefect does not walk thousands of pages looking
for futures.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar, cast
from urllib.parse import urlsplit

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from extractors.decide import cache_lifetime, describe_failure, feed_url
from extractors.errors import FeedwatchError, FetchError, redact, redact_url
from extractors.feeds import parse_feed
from extractors.http import Fetcher
from extractors.models import Entries, FeedPoll, FeedSpec, FeedState, PageFetch
from extractors.plan import in_turn
from flows.runtime.logs import run_logger
from flows.runtime.progress import progress

__all__ = [
    "FEED_TASKS",
    "PAGES_IN_HAND",
    "PageQueue",
    "fetch_feeds",
    "fetch_page",
    "fetch_pages",
    "poll_feed",
    "unwalked",
]

T = TypeVar("T")
X = TypeVar("X")
FEED_TASKS = 4  # poll-feed-group tasks at once; requests in flight are capped by the Fetcher
FEED_THREADS = 4  # feeds a poll-feed-group task keeps going


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
    label: str,
    feeds: list[tuple[FeedSpec, FeedState | None]],
    fetcher: Fetcher,
    sink: Callable[[FeedPoll], None] | None = None,
) -> list[FeedPoll]:
    """Poll a group of feeds concurrently, each handed to `sink` as soon as it is read."""

    def one(feed: tuple[FeedSpec, FeedState | None]) -> FeedPoll:
        result = poll_feed(feed[0], feed[1], fetcher)
        progress().advance("feeds")
        if sink is not None:
            sink(result)
        return result

    return _threaded(one, feeds, FEED_THREADS)


def fetch_feeds(
    due: Sequence[FeedSpec],
    states: dict[str, FeedState],
    fetcher: Fetcher,
    sink: Callable[[FeedPoll], None] | None = None,
) -> list[PrefectFuture[list[FeedPoll]]]:
    """Every due feed, in at most FEED_TASKS tasks of whole hosts, each feed handed to
    `sink` as it is read; the tasks' futures."""
    progress().start("feeds", len(due))
    feeds = [(s, states.get(s.name)) for s in due]
    groups = in_turn(feeds, lambda f: feed_url(*f), FEED_TASKS)
    return [
        poll_group.submit(_label([s.name for s, _ in g]), unwalked(g), fetcher, unwalked(sink))
        for _, g in groups
    ]


def fetch_page(url: str, entries: Entries, fetcher: Fetcher) -> PageFetch:
    """One page, or why it could not be had. Never raises."""
    fetched_at = datetime.now(UTC)
    try:
        r = fetcher.fetch_page(url)
        return PageFetch(url, entries, fetched_at, r.final_url, r.status, r.content)
    except FetchError as e:
        run_logger().warning("page %s: %s", redact_url(url), redact(e.reason))
        return PageFetch(url, entries, fetched_at, status=e.status, error=e.reason)


# Pages fetched and not yet extracted, at most: their HTML is what a run holds in
# memory, so a large run that fetches faster than it extracts waits for extraction
# instead of growing (~100 KB a page; two workers take ~100 pages a second).
PAGES_IN_HAND = 128


class PageQueue:
    """The pages to fetch, added as each feed is planned, fetched by a few threads that
    take the host whose next request may start soonest (and has a connection free):
    a thread rarely waits out one host's politeness delay while another host's page
    is ready. Each page goes to `on_page` as it arrives; at most `room` are in hand
    until `finished`."""

    def __init__(
        self, fetcher: Fetcher, on_page: Callable[[PageFetch], None], room: int = PAGES_IN_HAND
    ):
        self._fetcher = fetcher
        self._on_page = on_page
        self._room = room
        self._in_hand: set[str] = set()  # handed on, not yet finished (extracted)
        self._per_host = max(1, fetcher.settings.per_host)
        self._cond = threading.Condition()
        self._hosts: dict[str, deque[tuple[str, Entries]]] = {}
        self._busy: Counter[str] = Counter()  # this queue's requests in flight, by host
        self._closed = False
        self.added = 0

    def add(self, pages: Mapping[str, Entries]) -> None:
        if not pages:
            return
        progress().grow("pages", len(pages))
        with self._cond:
            for url, entries in pages.items():
                host = urlsplit(url).netloc.lower()
                self._hosts.setdefault(host, deque()).append((url, entries))
            self.added += len(pages)
            self._cond.notify_all()

    def close(self) -> None:
        """No more pages will be added: the threads end once the queue is empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def finished(self, url: str) -> None:
        """The page at `url` is done with (extracted): room for another."""
        with self._cond:
            if url in self._in_hand:
                self._in_hand.discard(url)
                self._cond.notify_all()

    def _take(self) -> tuple[str, str, Entries] | None:
        with self._cond:
            while True:
                if len(self._in_hand) >= self._room:  # extraction is behind: wait for it
                    self._cond.wait()
                    continue
                free = [h for h, q in self._hosts.items() if q and self._busy[h] < self._per_host]
                if free:
                    host = min(free, key=self._fetcher.next_start)
                    url, entries = self._hosts[host].popleft()
                    if not self._hosts[host]:
                        del self._hosts[host]
                    self._busy[host] += 1
                    self._in_hand.add(url)
                    return host, url, entries
                if self._closed and not self._hosts:
                    return None
                self._cond.wait()

    def _work(self) -> None:
        while (item := self._take()) is not None:
            host, url, entries = item
            try:
                try:
                    page = fetch_page(url, entries, self._fetcher)
                except Exception as e:  # one broken page must never stop the others
                    run_logger().exception("page %s: unexpected error", redact_url(url))
                    page = PageFetch(url, entries, datetime.now(UTC), error=redact(repr(e)))
                self._on_page(page)
                progress().advance("pages")
            finally:
                with self._cond:
                    self._busy[host] -= 1
                    self._cond.notify_all()

    def run(self, threads: int) -> int:
        """Fetch until closed and empty, on `threads` threads; the pages fetched."""
        progress().start("pages", 0)
        _threaded(lambda _: self._work(), list(range(threads)), threads)
        return self.added


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_pages(queue: PageQueue, threads: int) -> int:
    """Every page the run plans, fetched as the feeds are planned (PageQueue), for as
    long as the run adds pages; how many."""
    return queue.run(threads)
