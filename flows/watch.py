"""`feedwatch watch`: polling from one long-lived process, as a feed reader's daemon does.

`feedwatch run` from cron is a new process every time: it imports Prefect and the
flow's modules (~2.4 s of CPU) and, without a long-lived Prefect server, starts a
temporary one (~5 s more). Here both happen once, for the life of the process.

Every check plans as `feedwatch run` does (the warehouse's state, read-only, and no
Prefect work when nothing is due) and polls what is due as one poll-feeds flow run,
which the Prefect UI shows as any other. feeds.yaml and topics.yaml are read again at
every check, so edits apply without a restart; an edit that cannot be read is
reported, and nothing is polled until it is fixed. A poll that fails is reported and
the next check comes as usual: the watch ends only when it is asked to.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from extractors.errors import FeedwatchError
from flows.preflight import RunPlan, plan_run
from flows.runtime.progress import Reporter, reporting
from flows.settings import load_feeds, load_topics
from flows.summary import RunSummary

__all__ = ["MIN_WAIT", "Check", "check", "next_wait", "watch"]

logger = logging.getLogger("feedwatch.watch")

MIN_WAIT = 1.0  # seconds between two checks, at least: a feed overdue again is not a busy loop


@dataclass(frozen=True)
class Check:
    """One check of the watch: what it found, and the poll it ran if anything was due."""

    at: datetime
    plan: RunPlan | None  # None: the configuration or the warehouse could not be read
    summary: RunSummary | None  # None: nothing was due, or the poll failed
    error: Exception | None  # a FeedwatchError, or what else made the poll fail
    seconds: float  # the check's wall time: reading the configuration, planning, the poll

    @property
    def polled(self) -> bool:
        return self.summary is not None


def check(
    feeds: Path,
    topics: Path,
    db: Path,
    *,
    poll_all: bool = False,
    extract_workers: int | None = None,
    dask_address: str | None = None,
    reporter: Callable[[], Reporter] | None = None,
) -> Check:
    """Plan, and poll what is due as one flow run. Prefect must be ready (prefect_api)."""
    from flows.poll import poll_feeds  # imported by the caller's prefect_api(preload=...)

    at, t0 = datetime.now(UTC), time.perf_counter()
    try:
        configured = load_feeds(feeds)
        load_topics(topics)
        plan = plan_run(configured, db, at, poll_all=poll_all)
    except FeedwatchError as e:
        return Check(at, None, None, e, time.perf_counter() - t0)
    except Exception as e:  # e.g. the warehouse's file gone bad under it: the next check retries
        logger.exception("the check failed")
        return Check(at, None, None, e, time.perf_counter() - t0)
    if not plan.has_work:
        return Check(at, plan, None, None, time.perf_counter() - t0)
    summary: RunSummary | None = None
    error: Exception | None = None
    try:
        with reporting(reporter()) if reporter else nullcontext():
            summary = poll_feeds(
                feeds_path=str(feeds),
                topics_path=str(topics),
                db=str(db),
                poll_all=poll_all,
                feed_source="config",
                extract_workers=extract_workers,
                dask_address=dask_address,
            )
    except FeedwatchError as e:
        error = e
    except Exception as e:  # the flow run is marked failed in Prefect; the watch goes on
        logger.exception("the poll failed")
        error = e
    return Check(at, plan, summary, error, time.perf_counter() - t0)


def next_wait(last: Check, every: float, now: datetime) -> float:
    """Seconds to the next check: when the next feed is due, and at most `every`, so
    that new feeds and edits are seen within it."""
    wait = every
    if last.plan is not None and last.plan.next_due is not None:
        wait = min(wait, (last.plan.next_due[1] - now).total_seconds())
    return max(MIN_WAIT, wait)


def watch(
    feeds: Path,
    topics: Path,
    db: Path,
    *,
    every: float,
    stop: threading.Event,
    on_check: Callable[[Check], None],
    checks: int | None = None,
    extract_workers: int | None = None,
    dask_address: str | None = None,
    reporter: Callable[[], Reporter] | None = None,
) -> int:
    """Check, wait, check again, until `stop` is set (or after `checks` checks); the
    number of checks made. A poll under way when `stop` is set finishes first."""
    made = 0
    while not stop.is_set():
        last = check(
            feeds,
            topics,
            db,
            extract_workers=extract_workers,
            dask_address=dask_address,
            reporter=reporter,
        )
        made += 1
        on_check(last)
        if checks is not None and made >= checks:
            break
        stop.wait(next_wait(last, every, datetime.now(UTC)))
    return made
