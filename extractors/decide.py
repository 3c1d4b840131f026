"""Scheduling and feed-state decisions, as pure functions (no I/O).

When is a feed due, where it is fetched from, when to poll it next (interval,
server hints, backoff), when a redirect has moved it, when it is gone, why a
poll failed, which topics need a rescore: all decided here from data, so each
rule is tested on its own. The results are intents (FeedRegistration,
FeedUpdate) that the warehouse only writes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from extractors.errors import FeedwatchError, FetchError, redact
from extractors.models import (
    EntryData,
    Failure,
    FeedPoll,
    FeedRegistration,
    FeedSpec,
    FeedState,
    FeedUpdate,
    Topic,
)

__all__ = [
    "MAX_BACKOFF",
    "MAX_SERVER_HINT",
    "REDIRECTS_TO_MOVE",
    "cache_lifetime",
    "describe_failure",
    "due_feeds",
    "feed_updates",
    "feed_url",
    "feeds_to_poll",
    "is_due",
    "next_due",
    "register_feed",
    "topics_to_rescore",
    "update_after_poll",
]

MAX_BACKOFF = timedelta(hours=6)  # errors never push a feed further out than this
MAX_SERVER_HINT = timedelta(hours=24)  # nor do max-age, Expires, <ttl> or Retry-After
REDIRECTS_TO_MOVE = 3  # consecutive polls answered by the same permanent redirect
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def is_due(
    spec: FeedSpec, state: FeedState | None, now: datetime, *, poll_all: bool = False
) -> bool:
    """Never polled, or next_due_at has passed (or poll_all). Disabled feeds never are."""
    if state is None:
        return True
    if state.disabled_reason:
        return False
    return poll_all or state.next_due_at is None or state.next_due_at <= now


def register_feed(spec: FeedSpec, state: FeedState | None) -> FeedRegistration:
    """The configured feed as it is to be stored. The URL it is fetched from follows
    permanent moves of the configured one; editing the configured URL starts afresh."""
    reconfigured = state is not None and state.config_url != spec.url
    return FeedRegistration(
        feed_id=spec.name,
        url=state.url if state is not None and not reconfigured else spec.url,
        config_url=spec.url,
        tags=spec.tags,
        interval_seconds=spec.interval_seconds,
        fetch_pages=spec.fetch_pages,
        reconfigured=reconfigured,
    )


def feed_url(spec: FeedSpec, state: FeedState | None) -> str:
    """Where the feed is fetched from now."""
    return register_feed(spec, state).url


def describe_failure(e: Exception) -> Failure:
    """What a failed poll means for the schedule: HTTP status, whether it may pass by
    itself, how long the server asked to wait, and the message to record."""
    if isinstance(e, FetchError):
        return Failure(e.status, e.transient, e.retry_after, str(e))
    if isinstance(e, FeedwatchError):  # fetched fine, but not a feed
        return Failure(200, False, None, str(e))
    return Failure(None, True, None, redact(f"internal error: {type(e).__name__}: {e}"))


def feeds_to_poll(configured: Sequence[FeedSpec], stored: Sequence[FeedSpec]) -> list[FeedSpec]:
    """feeds.yaml's feeds, then the stored ones (added by the CLI or OPML) whose names
    feeds.yaml does not use: feeds.yaml wins over a stored feed of the same name."""
    names = {s.name for s in configured}
    return [*configured, *(s for s in stored if s.name not in names)]


def due_feeds(
    specs: Sequence[FeedSpec],
    states: Mapping[str, FeedState],
    now: datetime,
    *,
    poll_all: bool = False,
) -> list[FeedSpec]:
    """The feeds a run polls now."""
    return [s for s in specs if is_due(s, states.get(s.name), now, poll_all=poll_all)]


def cache_lifetime(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the server says the response stays fresh (Cache-Control max-age, else Expires)."""
    cache_control = headers.get("cache-control", "")
    if "no-cache" in cache_control.lower() or "no-store" in cache_control.lower():
        return None
    m = _MAX_AGE.search(cache_control)
    if m:
        return float(m.group(1))
    expires = headers.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            return None  # "Expires: 0" and other junk mean "already stale"
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - now).total_seconds(), 0.0)
    return None


def next_due(
    interval_seconds: int,
    now: datetime,
    *,
    ok: bool,
    error_count: int,
    retry_after: float | None = None,
    server_hint: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The next poll time.

    Success: the feed's interval, or longer when the server asks for it
    (max-age, Expires, RSS <ttl>), capped at MAX_SERVER_HINT. Failure:
    exponential backoff from the interval, capped at MAX_BACKOFF, and never
    sooner than a Retry-After. Jitter (±10 %) keeps feeds from moving in
    lockstep. Transient failures never make feedwatch give up on a feed.
    """
    rng = rng or random.Random()
    base = timedelta(seconds=interval_seconds)
    if ok:
        if server_hint and server_hint > interval_seconds:
            base = min(timedelta(seconds=server_hint), max(MAX_SERVER_HINT, base))
        return now + base * rng.uniform(0.9, 1.1)
    backoff = min(base * (1 << min(max(error_count - 1, 0), 16)), max(MAX_BACKOFF, base))
    when = now + backoff * rng.uniform(0.9, 1.1)
    if retry_after:
        when = max(when, now + min(timedelta(seconds=retry_after), MAX_SERVER_HINT))
    return when


def feed_updates(
    polls: Sequence[FeedPoll],
    states: Mapping[str, FeedState],
    new_entries: Sequence[tuple[str, EntryData]],
) -> list[FeedUpdate]:
    """Each polled feed's new state, with how many of its entries were new."""
    counts: dict[str, int] = {}
    for feed_id, _ in new_entries:
        counts[feed_id] = counts.get(feed_id, 0) + 1
    return [
        replace(
            update_after_poll(states.get(p.feed.name), p), new_entries=counts.get(p.feed.name, 0)
        )
        for p in polls
    ]


def update_after_poll(
    prev: FeedState | None, poll: FeedPoll, *, rng: random.Random | None = None
) -> FeedUpdate:
    """The feed's new state after a poll: validators, errors, schedule, moves, gone
    (disabled_reason set only when this poll found the feed gone)."""
    spec = poll.feed
    url = poll.url  # where it was fetched from: the stored URL, or a reconfigured one
    same_url = prev is not None and prev.url == url
    error_count = 0 if poll.ok else (prev.error_count if prev else 0) + 1
    disabled = None  # a poll only ever disables; enabling is the analyst's
    if poll.status == 410:
        disabled = f"gone: {poll.url} answered HTTP 410 on {poll.started_at:%Y-%m-%d %H:%M}Z"

    # A permanent redirect moves the feed only when seen on several polls in a row:
    # one misconfigured answer should not lose a feed. Temporary redirects never move it.
    redirect_url, redirect_count = None, 0
    if poll.ok and poll.permanent_redirect and poll.final_url and poll.final_url != url:
        same = same_url and prev is not None and prev.redirect_url == poll.final_url
        redirect_url = poll.final_url
        redirect_count = (prev.redirect_count if same and prev else 0) + 1
        if redirect_count >= REDIRECTS_TO_MOVE:
            url, redirect_url, redirect_count = poll.final_url, None, 0

    # Validators: a 200 replaces them (or clears them); a 304 may refresh them.
    etag = prev.etag if prev else None
    last_modified = prev.last_modified if prev else None
    if poll.ok and poll.status == 200:
        etag, last_modified = poll.etag, poll.last_modified
    elif poll.ok:
        etag = poll.etag or etag
        last_modified = poll.last_modified or last_modified

    return FeedUpdate(
        feed_id=spec.name,
        url=url,
        polled_at=poll.started_at,
        ok=poll.ok,
        etag=etag,
        last_modified=last_modified,
        error_count=error_count,
        last_error=None if poll.ok else poll.error,
        next_due_at=next_due(
            spec.interval_seconds,
            poll.started_at,
            ok=poll.ok,
            error_count=error_count,
            retry_after=poll.retry_after,
            server_hint=poll.cache_seconds,
            rng=rng,
        ),
        disabled_reason=disabled,
        redirect_url=redirect_url,
        redirect_count=redirect_count,
        title=poll.title,
        site_url=poll.site_url,
    )


def topics_to_rescore(
    topics: Sequence[Topic], rescored: Mapping[tuple[str, str], bool], has_articles: bool
) -> list[str]:
    """The topics whose current definition has not been applied to the stored articles.

    rescored: (topic, version) → whether that version was applied to every article
    stored before it. A version never seen needs a rescore once articles exist.
    """
    return sorted(t.name for t in topics if not rescored.get((t.name, t.version), not has_articles))
