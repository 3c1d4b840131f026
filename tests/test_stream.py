"""A streaming poll's bookkeeping (extractors.stream): which pages are fetched, what
each batch holds, and when a feed's new state may be written."""

from __future__ import annotations

from datetime import UTC, datetime

from extractors.decide import register_feed
from extractors.dedup import canonical_url
from extractors.models import Article, ArticleRecord, EntryData, FeedPoll, FeedSpec
from extractors.stream import PollLedger, RunInfo

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
SPECS = {name: FeedSpec(name, f"https://{name}.example/rss") for name in ("a", "b", "c")}


def _entry(guid: str, link: str | None) -> EntryData:
    return EntryData(guid, link, f"Item {guid}", NOW, None, "A summary.", None)


def _poll(name: str, *entries: EntryData, ok: bool = True) -> FeedPoll:
    return FeedPoll(SPECS[name], NOW, SPECS[name].url, ok, 200 if ok else 503, entries=entries)


def _ledger(fetching: tuple[str, ...] = ("a", "b", "c")) -> PollLedger:
    run = RunInfo(
        run_id="r1",
        started_at=NOW,
        feeds=tuple(register_feed(s, None) for s in SPECS.values()),
        feed_source="test",
        topics=(),
    )
    return PollLedger(run, {}, set(fetching))


def _record(url: str) -> ArticleRecord:
    article = Article(url, url, canonical_url(url), None, None, None, None, None, "t", "none", "h")
    return ArticleRecord(article, "?", (), NOW, 200, None, ())


def test_a_page_under_way_is_fetched_once_and_a_later_feeds_entry_joins_it() -> None:
    ledger = _ledger()
    fetch, keep = ledger.plan([_poll("a", _entry("1", "https://x.example/s?utm_source=a"))], (), {})
    assert list(fetch) == ["https://x.example/s?utm_source=a"] and not keep
    # Feed b, read while the page is being fetched, leads to the same page.
    fetch, keep = ledger.plan([_poll("b", _entry("9", "https://x.example/s"))], (), {})
    assert not fetch and not keep
    assert ledger.under_way == 1
    ledger.done("https://x.example/s?utm_source=a", _record("https://x.example/s?utm_source=a"))
    batch = ledger.take()
    assert batch is not None
    (record,) = batch.articles
    assert [(f, e.guid) for f, e in record.entries] == [("a", "1"), ("b", "9")]
    assert [(f, e.guid) for f, e in batch.new_entries] == [("a", "1"), ("b", "9")]
    assert {p.feed.name for p in batch.polls} == {"a", "b"}
    assert ledger.finished


def test_a_feeds_new_state_waits_for_the_batch_that_completes_it() -> None:
    ledger = _ledger()
    ledger.plan(
        [_poll("a", _entry("1", "https://x.example/1"), _entry("2", "https://x.example/2"))],
        (),
        {},
    )
    ledger.done("https://x.example/1", _record("https://x.example/1"))
    first = ledger.take()
    assert first is not None and first.seq == 0
    assert len(first.articles) == 1 and [e.guid for _, e in first.new_entries] == ["1"]
    assert first.polls == () and first.updates == ()  # feed a is not complete: still due
    assert [f.feed_id for f in first.feeds] == ["a", "b", "c"]  # registered by the first
    ledger.done("https://x.example/2", _record("https://x.example/2"))
    second = ledger.take()
    assert second is not None and second.seq == 1 and second.feeds == ()
    assert [p.feed.name for p in second.polls] == ["a"]
    assert [(u.feed_id, u.new_entries) for u in second.updates] == [("a", 2)]
    assert ledger.take() is None  # nothing left, and the feeds are registered


def test_entries_stored_before_or_without_a_page_go_in_the_next_batch() -> None:
    ledger = _ledger(fetching=("a",))
    fetch, keep = ledger.plan(
        [
            _poll(
                "a",
                _entry("old", "https://x.example/old"),
                _entry("nolink", None),
                _entry("linked", "https://x.example/stored"),
            ),
            _poll("b", _entry("k", "https://y.example/kept")),  # b does not fetch pages
            _poll("c", ok=False),
        ],
        {("a", "old")},
        {"https://x.example/stored": "article-1"},
    )
    assert not fetch and list(keep) == ["https://y.example/kept"]
    batch = ledger.take()
    assert batch is not None
    assert sorted(e.guid for _, e in batch.new_entries) == ["linked", "nolink"]
    assert batch.linked == (("a", "linked", "article-1"),)
    # a and c are complete; b waits for its kept page's article.
    assert sorted(p.feed.name for p in batch.polls) == ["a", "c"]
    ledger.done("https://y.example/kept", _record("https://y.example/kept"))
    last = ledger.take()
    assert last is not None and [p.feed.name for p in last.polls] == ["b"]
    assert ledger.finished


def test_the_first_batch_is_taken_even_with_nothing_new() -> None:
    ledger = _ledger()
    ledger.plan([_poll("a")], (), {})
    batch = ledger.take()
    assert (
        batch is not None and batch.articles == () and [p.feed.name for p in batch.polls] == ["a"]
    )
    assert ledger.take() is None
