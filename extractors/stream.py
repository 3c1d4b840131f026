"""What a streaming poll has planned, fetched and loaded, and what each batch holds,
as one pure object (no I/O): the flow feeds it polls as feeds answer and articles
as pages are extracted, and takes batches from it to load.

The rules that keep a run's guarantees while it loads in batches:

- a page is fetched once per run however many feeds lead to it: a feed polled
  later whose entry leads to a page still under way joins that page's entries;
- an entry is loaded in the batch of the article it leads to (or in the next batch,
  when it leads to none, or to an article stored before);
- a feed's poll (its new ETag, next due time) is loaded only in the batch that
  completes its entries, never before: a run killed part way leaves the feeds it
  had not finished due, and the next run fetches what is missing (the entries
  loaded are known, so nothing is stored twice);
- the configured feeds are registered by the first batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from extractors.decide import update_after_poll
from extractors.dedup import canonical_url
from extractors.models import (
    ArticleRecord,
    Entries,
    EntryData,
    FeedPoll,
    FeedRegistration,
    FeedState,
    PollBatch,
    Topic,
)
from extractors.plan import candidate_urls, first_entries, is_fetchable, new_entries, plan_pages

__all__ = ["PollLedger", "RunInfo"]


@dataclass(frozen=True)
class RunInfo:
    """What every batch of a run carries."""

    run_id: str
    started_at: datetime
    feeds: tuple[FeedRegistration, ...]  # registered by the first batch
    feed_source: str
    topics: tuple[Topic, ...]
    flow_run_id: str | None = None


@dataclass
class _Page:
    url: str  # the first link seen: where it is fetched from
    entries: list[tuple[str, EntryData]]


@dataclass
class _Feed:
    poll: FeedPoll
    new: int = 0  # its entries new to the warehouse
    outstanding: int = 0  # of those, not yet in a batch


@dataclass
class PollLedger:
    """A run's bookkeeping between the feeds it polls and the batches it loads."""

    run: RunInfo
    states: Mapping[str, FeedState]
    fetch_feeds: Collection[str]  # feeds whose entries' pages are fetched
    _pages: dict[str, _Page] = field(default_factory=dict)  # canonical URL → under way
    _done: list[tuple[str, ArticleRecord]] = field(default_factory=list)  # (key, record)
    _entries: list[tuple[str, EntryData]] = field(default_factory=list)  # with no page
    _linked: list[tuple[str, str, str]] = field(default_factory=list)
    _feeds: dict[str, _Feed] = field(default_factory=dict)  # polled, not yet loaded
    _batches: int = 0

    # -- planning, as feeds answer -------------------------------------------
    @staticmethod
    def seen(polls: Sequence[FeedPoll]) -> list[tuple[str, str]]:
        """The (feed, GUID) pairs these polls hold: what to ask the warehouse about."""
        return list(first_entries(polls))

    @staticmethod
    def candidates(polls: Sequence[FeedPoll]) -> list[str]:
        """The canonical URLs their entries lead to: what else to ask the warehouse."""
        return candidate_urls([(p.feed.name, e) for p in polls if p.ok for e in p.entries])

    def plan(
        self,
        polls: Sequence[FeedPoll],
        stored_entries: Collection[tuple[str, str]],
        stored_urls: Mapping[str, str],
    ) -> tuple[dict[str, Entries], dict[str, Entries]]:
        """Take in these polls, given what the warehouse holds of their entries and the
        pages they lead to: (pages to fetch, pages to keep with the feed's own text),
        each url → the entries leading there, as plan.plan_pages decides. A page
        already under way in this run is neither: its entries join it."""
        for p in polls:
            self._feeds[p.feed.name] = _Feed(p)
        fresh: list[tuple[str, EntryData]] = []
        for feed_id, entry in new_entries(polls, stored_entries):
            feed = self._feeds[feed_id]
            feed.new += 1
            feed.outstanding += 1
            key = canonical_url(entry.link or "") if is_fetchable(entry) else None
            if key is None:  # no page: the entry keeps the feed's text
                self._entries.append((feed_id, entry))
            elif key in self._pages:
                self._pages[key].entries.append((feed_id, entry))
            else:
                fresh.append((feed_id, entry))
        plan = plan_pages(fresh, self.fetch_feeds, stored_urls)
        entry_of = {(feed_id, entry.guid): entry for feed_id, entry in fresh}
        for feed_id, guid, article_id in plan.linked:
            self._linked.append((feed_id, guid, article_id))
            self._entries.append((feed_id, entry_of[(feed_id, guid)]))
        for url, items in (*plan.fetch.items(), *plan.keep.items()):
            self._pages[canonical_url(url)] = _Page(url, list(items))
        return plan.fetch, plan.keep

    # -- articles, as pages are extracted -------------------------------------
    def done(self, url: str, record: ArticleRecord) -> None:
        """The article of the page at `url` (as plan gave it), extracted and matched:
        ready for the next batch."""
        self._done.append((canonical_url(url), record))

    @property
    def ready(self) -> int:
        """Articles waiting for a batch."""
        return len(self._done)

    @property
    def under_way(self) -> int:
        """Pages planned and not extracted yet."""
        return len(self._pages) - len(self._done)

    # -- batches ----------------------------------------------------------------
    def take(self) -> PollBatch | None:
        """The next batch: every article ready, with every entry leading to it (also
        those that joined after it was fetched), the entries with no page, and the
        polls of the feeds this batch completes. None when there is nothing to load
        (once the first batch has registered the feeds)."""
        records: list[ArticleRecord] = []
        entries = self._entries
        for key, record in self._done:
            page = self._pages.pop(key)
            records.append(replace(record, entries=tuple(page.entries)))
            entries += page.entries
        counts: dict[str, int] = defaultdict(int)
        for feed_id, _ in entries:
            counts[feed_id] += 1
        complete = []
        for name, feed in self._feeds.items():
            feed.outstanding -= counts.get(name, 0)
            if feed.outstanding == 0:
                complete.append(name)
        polls = [self._feeds.pop(name) for name in complete]
        if not (records or entries or polls) and self._batches:
            self._entries, self._done = [], []
            return None
        batch = PollBatch(
            run_id=self.run.run_id,
            started_at=self.run.started_at,
            feeds=self.run.feeds if not self._batches else (),
            feed_source=self.run.feed_source,
            polls=tuple(f.poll for f in polls),
            updates=tuple(
                replace(update_after_poll(self.states.get(name), f.poll), new_entries=f.new)
                for name, f in zip(complete, polls, strict=True)
            ),
            new_entries=tuple(entries),
            articles=tuple(records),
            linked=tuple(self._linked),
            topics=self.run.topics,
            flow_run_id=self.run.flow_run_id,
            seq=self._batches,
        )
        self._batches += 1
        self._entries, self._done, self._linked = [], [], []
        return batch

    @property
    def batches(self) -> int:
        return self._batches

    @property
    def finished(self) -> bool:
        """Nothing under way, nothing waiting."""
        return not (self._pages or self._entries or self._linked or self._feeds)
