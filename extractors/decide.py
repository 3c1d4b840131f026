"""Scheduling decisions, as pure functions: which feeds are due, when to poll next."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from extractors.models import FeedSpec, FeedState

__all__ = ["is_due", "next_due"]

MAX_BACKOFF = timedelta(hours=6)


def is_due(
    spec: FeedSpec, state: FeedState | None, now: datetime, *, poll_all: bool = False
) -> bool:
    """A feed is due when never polled or its next_due_at has passed; disabled feeds never are."""
    if state is None:
        return True
    if state.disabled_reason:
        return False
    return poll_all or state.next_due_at is None or state.next_due_at <= now


def next_due(
    interval_seconds: int,
    now: datetime,
    *,
    ok: bool,
    error_count: int,
    rng: random.Random | None = None,
) -> datetime:
    """The next poll time: the interval after a success; exponential backoff after errors.

    Jitter (±10 %) keeps feeds added together from being polled in lockstep.
    Backoff doubles per consecutive error up to MAX_BACKOFF; it never gives up.
    """
    rng = rng or random.Random()
    base = timedelta(seconds=interval_seconds)
    if not ok and error_count > 0:
        base = min(base * (2 ** min(error_count - 1, 16)), max(MAX_BACKOFF, base))
    return now + base * rng.uniform(0.9, 1.1)
