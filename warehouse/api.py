"""What flows need of a warehouse, whatever its backend: the `Warehouse` protocol and
the read models that cross it. The DuckDB file (store.DuckDBWarehouse) implements
it today; a lake of Parquet files with a shared catalog is the next one.

Flows hold a `Warehouse`, never a connection: they open one with
`warehouse.open_warehouse(db, read_only=...)`, ask it, and close it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from extractors.models import FeedRegistration, FeedSpec, FeedState, Topic, TopicMatch

__all__ = ["STORED_SOURCES", "FeedHealth", "Hit", "LoadResult", "Result", "Warehouse"]

STORED_SOURCES = ("cli", "opml")  # feeds added outside feeds.yaml, polled alongside it
Result = tuple[list[str], list[tuple[Any, ...]]]  # an analyst's query: column names, rows


@dataclass(frozen=True)
class Hit:
    """A new topic match with matched = true, for summaries and alerts."""

    topic: str
    score: float
    article_id: str
    title: str | None
    url: str
    snippet: str | None
    cluster_id: str = ""


@dataclass
class LoadResult:
    """What loading a poll's batch added."""

    new_entries: int = 0
    new_articles: int = 0
    duplicate_articles: int = 0  # fetched, but already stored under another URL or the same text
    hits: list[Hit] = field(default_factory=list)
    # After the load: (topic, version) → applied to the stored articles, and whether
    # there are any (decide.topics_to_rescore tells the stale topics from them).
    topic_versions: dict[tuple[str, str], bool] = field(default_factory=dict)
    has_articles: bool = False


@dataclass(frozen=True)
class FeedHealth:
    """One feed's health, as `feedwatch feeds status` and the run's artifact show it."""

    feed_id: str
    url: str
    source: str
    status: str  # ok, failing, stale, disabled, new
    error_count: int
    last_error: str | None
    disabled_reason: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    newest_entry_at: datetime | None
    usual_gap_hours: float | None
    next_due_at: datetime | None

    @property
    def needs_care(self) -> bool:
        return self.status in {"failing", "stale", "disabled"}

    @property
    def problem(self) -> str:
        if self.status == "disabled":
            return self.disabled_reason or "disabled"
        if self.status == "failing":
            if self.error_count == 1:
                return f"the last poll failed: {self.last_error}"
            return f"{self.error_count} failed polls in a row: {self.last_error}"
        if self.status == "stale":
            gap = f"{self.usual_gap_hours:.1f} h" if self.usual_gap_hours else "?"
            newest = f"{self.newest_entry_at:%Y-%m-%d}" if self.newest_entry_at else "never"
            return f"no new entry since {newest} (usual gap {gap})"
        return ""


class Warehouse(Protocol):
    """A session on a warehouse: open it briefly (a read-write one may lock it)."""

    path: Path

    # -- feeds -------------------------------------------------------------
    def feed_states(self) -> dict[str, FeedState]: ...
    def stored_feeds(self, sources: Sequence[str] | None = None) -> list[tuple[FeedSpec, str]]: ...
    def feed_titles(self) -> dict[str, str | None]: ...
    def feed_health(self) -> list[FeedHealth]: ...
    def add_feeds(self, feeds: Sequence[FeedRegistration], source: str) -> list[str]: ...
    def set_disabled(self, name: str, reason: str | None) -> bool: ...

    # -- what a poll asks before it loads -----------------------------------
    def stored_entries(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def stored_canonical_urls(self, urls: Sequence[str]) -> dict[str, str]: ...

    # -- the one write of a poll -------------------------------------------
    def load(self, batch: Any) -> LoadResult: ...  # a staging.StagedBatch

    # -- topics, matches, labels -------------------------------------------
    def register_topics(self, topics: Sequence[Topic]) -> None: ...
    def topic_versions(self) -> dict[tuple[str, str], bool]: ...
    def current_topics(self) -> list[str]: ...
    def count_articles(self) -> int: ...
    def article_batches(self, size: int = 2000) -> Iterator[list[tuple[str, str | None, str]]]: ...
    def replace_matches(self, topics: Sequence[Topic]) -> None: ...
    def insert_matches(self, matches: Sequence[tuple[str, TopicMatch]]) -> None: ...
    def mark_rescored(self, topics: Sequence[Topic]) -> None: ...
    def set_label(
        self, article_id: str, topic: str, label: bool, note: str | None, by: str
    ) -> None: ...
    def labelled_cases(self, topic: str | None = None) -> list[dict[str, Any]]: ...

    # -- what analysts read ------------------------------------------------
    def article(self, article: str) -> dict[str, Any]: ...
    def stored_match(self, article_id: str, topic: str) -> dict[str, Any] | None: ...
    def review_items(self, topic: str, limit: int = 50) -> dict[str, list[dict[str, Any]]]: ...
    def top_hits(self, limit: int = 10) -> list[dict[str, Any]]: ...
    def new_stories(self, since: datetime, topic: str | None = None) -> list[dict[str, Any]]: ...
    def reported_figures(
        self, topic: str, since: datetime | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]: ...
    def daily_counts(self, first_day: date, last_day: date) -> dict[str, dict[date, int]]: ...
    def latest_hit_days(self) -> dict[str, date]: ...
    def query(self, sql: str) -> list[Result]: ...
    def export(
        self,
        folder: Path,
        fmt: str,
        on_start: Callable[[int], None] | None = None,
        on_written: Callable[[str, int], None] | None = None,
    ) -> dict[str, int]: ...
    def prune(self, cutoff: datetime) -> dict[str, int]: ...
