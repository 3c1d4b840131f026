"""What a poll run did: the summary the CLI prints and the Prefect artifact shows."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, overload

from extractors.decide import topics_to_rescore
from extractors.errors import redact_url
from extractors.models import PollBatch
from flows.units import counted
from warehouse.api import FeedHealth, Hit, LoadResult

__all__ = ["Rows", "RunSummary", "story_hits", "summary_markdown"]

T = TypeVar("T")


class Rows(Sequence[T]):
    """A run's rows (its hits, its feeds that need care), read-only.

    Not a list, on purpose: Prefect walks a flow's return value for futures, into
    every list, dict and dataclass, and 500 feeds needing care took 0.17 s of every
    poll that way (their hits, and failed feeds, would too). A Sequence of its own it leaves alone.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items = tuple(items)

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...
    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows):
            return self._items == other._items
        return isinstance(other, list | tuple) and self._items == tuple(other)

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Rows({list(self._items)!r})"


def story_hits(hits: Sequence[Hit]) -> list[tuple[Hit, int]]:
    """One per topic and story (cluster of copies): its best-scoring copy, and how many
    of these hits are copies of that story for that topic. (The warehouse's view
    topic_stories is the same rule for stored hits.)"""
    best: dict[tuple[str, str], Hit] = {}
    copies: Counter[tuple[str, str]] = Counter()
    for h in hits:
        key = (h.topic, h.cluster_id or h.article_id)
        copies[key] += 1
        if key not in best or h.score > best[key].score:
            best[key] = h
    ranked = sorted(best.items(), key=lambda kv: (-kv[1].score, kv[1].topic, kv[1].article_id))
    return [(h, copies[key]) for key, h in ranked]


@dataclass
class RunSummary:
    """What a poll run did, for the CLI, the artifact and the tests."""

    run_id: str
    flow_run_id: str | None = None
    feeds_due: int = 0
    feeds_skipped: int = 0
    feeds_polled: int = 0
    not_modified: int = 0
    failed: Rows[tuple[str, str]] = field(default_factory=Rows)  # (feed, error)
    entries_seen: int = 0
    new_entries: int = 0
    pages_fetched: int = 0
    new_articles: int = 0
    duplicate_articles: int = 0
    hits: Rows[Hit] = field(default_factory=Rows)
    unhealthy: Rows[FeedHealth] = field(default_factory=Rows)
    spooled: bool = False  # the warehouse was held: a batch waits in the spool
    spooled_loaded: int = 0  # batches of earlier runs loaded at the start of this one
    stale_topics: list[str] = field(default_factory=list)  # changed since the last rescore
    seconds: float = 0.0
    # Seconds from the start of the run to the end of each step, in order:
    # where the time of a run went (feeds, pages, extraction, load).
    timeline: dict[str, float] = field(default_factory=dict)
    events: int = 0  # alert events emitted: one per new story per topic
    batches: int = 0  # batches loaded (or spooled): a run loads as it goes
    _t0: float = field(default=0.0, repr=False)

    def start(self, spooled_loaded: int, due: int, known: int, t0: float) -> None:
        self._t0 = t0
        self.spooled_loaded = spooled_loaded
        self.feeds_due, self.feeds_skipped = due, known - due
        self.mark("state read")

    def mark(self, step: str) -> None:
        """Seconds from the start of the run to the end of this step."""
        self.timeline[step] = round(time.monotonic() - self._t0, 2)

    def add(self, batch: PollBatch, loaded: LoadResult | None) -> None:
        """What one of the run's batches did, once loaded (or spooled: loaded is None)."""
        if not self.batches:
            self.mark("first batch loaded")
        self.batches += 1
        result = loaded or LoadResult()
        polls = batch.polls
        self.spooled = self.spooled or loaded is None
        self.feeds_polled += len(polls)
        self.not_modified += sum(p.status == 304 for p in polls)
        self.failed = Rows(
            [*self.failed, *((p.feed.name, p.error or "") for p in polls if not p.ok)]
        )
        self.entries_seen += sum(len(p.entries) for p in polls)
        self.new_entries += result.new_entries
        self.new_articles += result.new_articles
        self.duplicate_articles += result.duplicate_articles
        self.hits = Rows([*self.hits, *result.hits])
        if loaded is not None:
            self.stale_topics = topics_to_rescore(
                batch.topics, result.topic_versions, result.has_articles
            )

    def finish(self, health: list[FeedHealth], *, pages_fetched: int) -> None:
        """The run is over: every batch loaded (or spooled)."""
        self.mark("loaded")
        self.pages_fetched = pages_fetched
        self.unhealthy = Rows(h for h in health if h.needs_care)
        self.seconds = round(time.monotonic() - self._t0, 2)

    def hits_per_topic(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for h in self.hits:
            counts[h.topic] += 1
        return dict(counts)

    def stories_per_topic(self) -> dict[str, int]:
        """Distinct stories (clusters of near-duplicate copies) among the new hits."""
        counts: dict[str, int] = defaultdict(int)
        for h, _ in story_hits(self.hits):
            counts[h.topic] += 1
        return dict(counts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(s: RunSummary) -> str:
    lines = [
        f"# Poll run `{s.run_id}`",
        "",
        "| feeds due | polled | not modified | failed | new entries | new articles | duplicates | hits | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {s.feeds_due} | {s.feeds_polled} | {s.not_modified} | {len(s.failed)} | {s.new_entries}"
        f" | {s.new_articles} | {s.duplicate_articles} | {len(s.hits)} | {s.seconds} |",
        "",
    ]
    if s.hits:
        lines += ["## Hits per topic", ""]
        stories = s.stories_per_topic()
        lines += [
            f"- **{t}**: {counted(n, 'article')}, {counted(stories[t], 'story', 'stories')}"
            for t, n in sorted(s.hits_per_topic().items())
        ]
        lines += ["", "## New hits", "", "| topic | score | title |", "|---|---|---|"]
        for h in s.hits[:50]:
            link = redact_url(h.url)
            lines.append(f"| {h.topic} | {h.score:g} | [{_cell(h.title or link)}]({link}) |")
        lines.append("")
    if s.failed:
        lines += ["## Failed in this run", "", "| feed | error |", "|---|---|"]
        lines += [f"| {name} | {_cell(err)[:200]} |" for name, err in s.failed]
        lines.append("")
    if s.spooled:
        lines += [
            "## Warehouse busy",
            "",
            "Another process held the warehouse: batches of this run wait in the spool and load"
            " at the next run. The counts above leave them out.",
            "",
        ]
    if s.stale_topics:
        lines += [
            "## Topics changed since the last rescore",
            "",
            f"{', '.join(s.stale_topics)}: run `feedwatch rescore` (or the rescore-topics"
            " deployment) to re-match stored articles.",
            "",
        ]
    if s.unhealthy:
        lines += ["## Feeds needing attention", "", "| feed | status | problem |", "|---|---|---|"]
        lines += [f"| {h.feed_id} | {h.status} | {_cell(h.problem)[:200]} |" for h in s.unhealthy]
        lines.append("")
    return "\n".join(lines)
