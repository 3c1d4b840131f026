"""What a poll does with what it fetched, as pure functions (no I/O): which entries are
new, which pages to fetch, and how the work is shared out among tasks.

Each takes plain data (the polls, what the warehouse says it holds already) and
returns what to do; the flow moves the data, the warehouse writes the outcome.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import zip_longest
from typing import TypeVar
from urllib.parse import urlsplit

from extractors.dedup import canonical_url
from extractors.models import Entries, EntryData, FeedPoll, PagePlan

__all__ = [
    "candidate_urls",
    "first_entries",
    "in_turn",
    "is_fetchable",
    "new_entries",
    "plan_pages",
]

X = TypeVar("X")


def first_entries(polls: Sequence[FeedPoll]) -> dict[tuple[str, str], EntryData]:
    """Every entry of the successful polls, keyed (feed, GUID); the first of a key wins
    (a feed that lists an item twice, or a batch that meets it again)."""
    seen: dict[tuple[str, str], EntryData] = {}
    for p in polls:
        if p.ok:
            for e in p.entries:
                seen.setdefault((p.feed.name, e.guid), e)
    return seen


def new_entries(
    polls: Sequence[FeedPoll], stored: Collection[tuple[str, str]]
) -> list[tuple[str, EntryData]]:
    """The (feed, entry) pairs not stored yet, in the order the feeds listed them."""
    return [
        (feed, e) for (feed, guid), e in first_entries(polls).items() if (feed, guid) not in stored
    ]


def is_fetchable(entry: EntryData) -> bool:
    return bool(entry.link) and urlsplit(entry.link or "").scheme in {"http", "https"}


def candidate_urls(entries: Sequence[tuple[str, EntryData]]) -> list[str]:
    """The canonical URLs the new entries lead to: what to ask the warehouse about."""
    return list(dict.fromkeys(canonical_url(e.link or "") for _, e in entries if is_fetchable(e)))


def plan_pages(
    entries: Sequence[tuple[str, EntryData]],
    fetch_feeds: Collection[str],
    stored: Mapping[str, str],
) -> PagePlan:
    """Group new entries by the page they lead to (its canonical URL): a page stored
    already is linked, not fetched; a page only feeds without fetch_pages lead to is
    kept with the feed's own text; any other is fetched, once however many feeds
    carry it, at the first link seen. Entries without an http(s) link keep the
    feed's text and lead to no page."""
    groups: dict[str, list[tuple[str, EntryData]]] = defaultdict(list)
    first_url: dict[str, str] = {}
    for feed_id, entry in entries:
        if is_fetchable(entry):
            key = canonical_url(entry.link or "")
            first_url.setdefault(key, entry.link or "")
            groups[key].append((feed_id, entry))
    fetch: dict[str, Entries] = {}
    keep: dict[str, Entries] = {}
    linked: list[tuple[str, str, str]] = []
    for key, items in groups.items():
        if key in stored:
            linked += [(feed_id, entry.guid, stored[key]) for feed_id, entry in items]
        elif any(feed_id in fetch_feeds for feed_id, _ in items):
            fetch[first_url[key]] = tuple(items)
        else:
            keep[first_url[key]] = tuple(items)
    return PagePlan(fetch, keep, tuple(linked))


def in_turn(items: Sequence[X], url: Callable[[X], str], n: int) -> list[tuple[list[str], list[X]]]:
    """Split items into at most n groups (one task each) of whole hosts, balanced by
    count; each group takes its hosts in turn, so that a thread rarely waits out a
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
