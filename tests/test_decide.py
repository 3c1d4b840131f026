"""Scheduling and feed-state decisions (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from extractors.decide import (
    MAX_BACKOFF,
    cache_lifetime,
    due_feeds,
    feeds_to_poll,
    is_due,
    next_due,
    topics_to_rescore,
    update_after_poll,
)
from extractors.http import parse_retry_after
from extractors.models import FeedPoll, FeedSpec, FeedState, Topic

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SPEC = FeedSpec("f", "https://a.example/feed", interval_seconds=900)


def _due(**kw: object) -> timedelta:
    return next_due(900, NOW, rng=random.Random(1), **kw) - NOW  # type: ignore[arg-type]


def test_success_waits_the_interval_with_jitter() -> None:
    gaps = {next_due(900, NOW, ok=True, error_count=0) - NOW for _ in range(50)}
    assert all(timedelta(seconds=810) <= g <= timedelta(seconds=990) for g in gaps)
    assert len(gaps) > 1  # jittered


def test_server_hints_stretch_the_interval_up_to_a_day() -> None:
    assert _due(ok=True, error_count=0, server_hint=7200) >= timedelta(seconds=6480)
    assert _due(ok=True, error_count=0, server_hint=60) <= timedelta(
        seconds=990
    )  # shorter: ignored
    assert _due(ok=True, error_count=0, server_hint=10 * 86400) <= timedelta(days=1.1)


def test_errors_back_off_exponentially_to_a_cap_and_never_stop() -> None:
    gaps = [_due(ok=False, error_count=n) for n in range(1, 12)]
    assert gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5
    assert max(gaps) <= MAX_BACKOFF * 1.1
    assert gaps[-1] >= MAX_BACKOFF * 0.9  # still polled, every 6 h or so


def test_retry_after_is_honoured() -> None:
    assert _due(ok=False, error_count=1, retry_after=3600) >= timedelta(seconds=3600)
    assert _due(ok=False, error_count=1, retry_after=30 * 86400) <= timedelta(days=1)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 Jan 2026 13:00:00 GMT", NOW) == 3600
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", NOW) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"cache-control": "public, max-age=3600"}, 3600),
        ({"cache-control": "max-age=600, must-revalidate"}, 600),
        ({"expires": "Thu, 01 Jan 2026 14:00:00 GMT"}, 7200),
        ({"cache-control": "max-age=60", "expires": "Thu, 01 Jan 2026 14:00:00 GMT"}, 60),
        ({"cache-control": "no-cache"}, None),
        ({"expires": "0"}, None),
        ({}, None),
    ],
)
def test_cache_lifetime(headers: dict[str, str], seconds: float | None) -> None:
    assert cache_lifetime(headers, NOW) == seconds


def test_due_and_disabled() -> None:
    state = FeedState("f", SPEC.url, SPEC.url, next_due_at=NOW + timedelta(minutes=5))
    assert is_due(SPEC, None, NOW)
    assert not is_due(SPEC, state, NOW)
    assert is_due(SPEC, state, NOW, poll_all=True)
    disabled = FeedState("f", SPEC.url, SPEC.url, disabled_reason="gone")
    assert not is_due(SPEC, disabled, NOW, poll_all=True)


def _poll(**kw: object) -> FeedPoll:
    base: dict[str, object] = {
        "feed": SPEC,
        "started_at": NOW,
        "url": SPEC.url,
        "ok": True,
        "status": 200,
    }
    base.update(kw)
    return FeedPoll(**base)  # type: ignore[arg-type]


def test_permanent_redirect_moves_the_feed_after_three_polls() -> None:
    new = "https://b.example/feed"
    state: FeedState | None = FeedState("f", SPEC.url, SPEC.url)
    for n in (1, 2):
        u = update_after_poll(state, _poll(final_url=new, permanent_redirect=True))
        assert (u.url, u.redirect_url, u.redirect_count) == (SPEC.url, new, n)
        state = FeedState(
            "f", u.url, SPEC.url, redirect_url=u.redirect_url, redirect_count=u.redirect_count
        )
    u = update_after_poll(state, _poll(final_url=new, permanent_redirect=True))
    assert (u.url, u.redirect_url, u.redirect_count) == (new, None, 0)


def test_temporary_or_interrupted_redirects_never_move_it() -> None:
    state = FeedState(
        "f", SPEC.url, SPEC.url, redirect_url="https://b.example/feed", redirect_count=2
    )
    u = update_after_poll(
        state, _poll(final_url="https://b.example/feed", permanent_redirect=False)
    )
    assert (u.url, u.redirect_count) == (SPEC.url, 0)
    u = update_after_poll(state, _poll(final_url="https://c.example/feed", permanent_redirect=True))
    assert (u.url, u.redirect_url, u.redirect_count) == (SPEC.url, "https://c.example/feed", 1)


def test_410_disables_and_errors_count() -> None:
    state = FeedState("f", SPEC.url, SPEC.url, error_count=2)
    u = update_after_poll(state, _poll(ok=False, status=410, error="HTTP 410"))
    assert u.disabled_reason and "410" in u.disabled_reason
    assert u.error_count == 3 and u.last_error == "HTTP 410"
    u = update_after_poll(state, _poll(ok=False, status=404, error="HTTP 404"))
    assert u.disabled_reason is None and u.error_count == 3
    assert update_after_poll(state, _poll()).error_count == 0


def test_validators_are_replaced_on_200_and_refreshed_on_304() -> None:
    state = FeedState("f", SPEC.url, SPEC.url, etag='"old"', last_modified="Mon")
    u = update_after_poll(state, _poll(status=200, etag='"new"', last_modified=None))
    assert (u.etag, u.last_modified) == ('"new"', None)
    u = update_after_poll(state, _poll(status=304, etag=None, last_modified=None))
    assert (u.etag, u.last_modified) == ('"old"', "Mon")
    u = update_after_poll(state, _poll(status=304, etag='"newer"'))
    assert u.etag == '"newer"'
    u = update_after_poll(state, _poll(ok=False, status=500))
    assert u.etag == '"old"'


def test_feeds_yaml_wins_over_a_stored_feed_of_the_same_name() -> None:
    configured = [FeedSpec("a", "https://a.example/new"), FeedSpec("b", "https://b.example/")]
    stored = [FeedSpec("a", "https://a.example/old"), FeedSpec("c", "https://c.example/")]
    assert [(s.name, s.url) for s in feeds_to_poll(configured, stored)] == [
        ("a", "https://a.example/new"),
        ("b", "https://b.example/"),
        ("c", "https://c.example/"),
    ]


def test_due_feeds() -> None:
    specs = [FeedSpec(n, f"https://{n}.example/") for n in "abcd"]
    states = {
        "a": FeedState("a", "https://a.example/", next_due_at=NOW - timedelta(minutes=1)),
        "b": FeedState("b", "https://b.example/", next_due_at=NOW + timedelta(minutes=5)),
        "c": FeedState("c", "https://c.example/", disabled_reason="gone"),
    }  # d: never polled
    assert [s.name for s in due_feeds(specs, states, NOW)] == ["a", "d"]
    assert [s.name for s in due_feeds(specs, states, NOW, poll_all=True)] == ["a", "b", "d"]


def test_topics_to_rescore() -> None:
    old, new = Topic("t", "q", "v1"), Topic("t", "q2", "v2")
    # A version never applied to the stored articles needs a rescore, once there are any.
    assert topics_to_rescore([new], {("t", "v1"): True}, has_articles=True) == ["t"]
    assert topics_to_rescore([new], {("t", "v1"): True}, has_articles=False) == []
    assert topics_to_rescore([old], {("t", "v1"): True}, has_articles=True) == []
    assert topics_to_rescore([old], {("t", "v1"): False}, has_articles=True) == ["t"]
