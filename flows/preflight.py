"""What a command would do, known before Prefect starts: nothing to do costs nothing.

`feedwatch run` with no feed due, `feedwatch rescore` with no topic changed and
any command with a bad argument end here, in well under a second, instead of
after the ~10 s a Prefect server takes to start. The warehouse is only read,
on a read-only connection: never the write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from extractors.decide import due_feeds, feeds_to_poll, topics_to_rescore
from extractors.errors import WarehouseError, WarehouseLockedError, WarehouseOutdatedError
from extractors.models import FeedSpec, FeedState
from extractors.topics import TopicSet
from warehouse import check_path, may_exist, open_warehouse
from warehouse.api import STORED_SOURCES
from warehouse.spool import pending

__all__ = ["RunPlan", "plan_rescore", "plan_run"]

# A feed's first poll finds its whole list, ten items and often more: ten such
# feeds reach the pages that pay for worker processes (flows.extract.POOL_MIN_PAGES).
FIRST_POLLS_FOR_WORKERS = 10


@dataclass(frozen=True)
class RunPlan:
    """What `feedwatch run` finds before it starts polling."""

    feeds: int  # feeds known: feeds.yaml's and the stored ones
    due: int  # due now (all enabled ones with --all)
    disabled: int
    spooled: int  # batches spooled by earlier runs, waiting to be loaded
    next_due: tuple[str, datetime] | None  # the enabled feed due soonest
    state_known: bool = True  # False: the warehouse is held by a writer, so: poll
    first_polls: int = 0  # due feeds never polled before whose pages are fetched

    @property
    def looks_large(self) -> bool:
        """Enough feeds polled for the first time (a new user's first run, a batch of
        new feeds) that the run will surely extract pages in worker processes."""
        return self.first_polls >= FIRST_POLLS_FOR_WORKERS

    @property
    def has_work(self) -> bool:
        return self.due > 0 or self.spooled > 0 or not self.state_known


def plan_run(
    configured: list[FeedSpec], db: Path, now: datetime, *, poll_all: bool = False
) -> RunPlan:
    check_path(db)  # a --db that cannot be a warehouse fails now, not after Prefect started
    states: dict[str, FeedState] = {}
    stored: list[FeedSpec] = []
    known = True
    if may_exist(db):
        try:
            with open_warehouse(db, read_only=True) as wh:
                states = wh.feed_states()
                stored = [s for s, _ in wh.stored_feeds(STORED_SOURCES)]
        except WarehouseLockedError:
            known = False  # a writer holds it: the run finds out (and spools)
        except WarehouseError:
            known = False  # e.g. an older schema: the run upgrades it
    specs = feeds_to_poll(configured, stored)
    due = due_feeds(specs, states, now, poll_all=poll_all)
    enabled = [s for s in specs if not (states.get(s.name) and states[s.name].disabled_reason)]
    upcoming = sorted(
        (states[s.name].next_due_at, s.name)
        for s in enabled
        if s.name in states and states[s.name].next_due_at is not None
    )
    return RunPlan(
        feeds=len(specs),
        due=len(due),
        disabled=len(specs) - len(enabled),
        spooled=len(pending(db)),
        next_due=(upcoming[0][1], upcoming[0][0]) if upcoming else None,  # type: ignore[arg-type]
        state_known=known,
        first_polls=sum(s.fetch_pages and s.name not in states for s in due),
    )


def plan_rescore(topics: TopicSet, db: Path, *, all_topics: bool = False) -> list[str]:
    """The topics a rescore would re-match (every one with all_topics)."""
    every = [ct.topic.name for ct in topics]
    try:
        with open_warehouse(db, read_only=True) as wh:
            versions, has_articles = wh.topic_versions(), wh.count_articles() > 0
        return (
            every
            if all_topics
            else topics_to_rescore([ct.topic for ct in topics], versions, has_articles)
        )
    except WarehouseOutdatedError:
        return every  # the rescore upgrades it, then knows
