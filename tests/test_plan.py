"""What a poll does with what it fetched (extractors.plan), on plain data: no network,
no warehouse, no Prefect."""

from __future__ import annotations

from datetime import UTC, datetime

from extractors.models import EntryData, FeedPoll, FeedSpec
from extractors.plan import candidate_urls, first_entries, in_turn, new_entries, plan_pages

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _entry(guid: str, link: str | None = None) -> EntryData:
    return EntryData(guid, link, None, None, None, None, None)


def _poll(name: str, *entries: EntryData, ok: bool = True) -> FeedPoll:
    spec = FeedSpec(name, f"https://{name}.example/rss")
    return FeedPoll(spec, NOW, spec.url, ok=ok, entries=entries)


def test_the_first_of_a_feed_and_guid_wins_and_failed_polls_give_nothing() -> None:
    a1, a1_again = _entry("1", "https://x.example/1"), _entry("1", "https://x.example/other")
    polls = [_poll("a", a1, a1_again), _poll("b", _entry("1")), _poll("c", _entry("9"), ok=False)]
    assert first_entries(polls) == {("a", "1"): a1, ("b", "1"): _entry("1")}
    assert new_entries(polls, {("b", "1")}) == [("a", a1)]


def test_a_page_is_fetched_once_however_many_feeds_carry_it() -> None:
    page = "https://news.example/story?utm_source=rss"
    entries = [
        ("a", _entry("1", page)),
        ("b", _entry("2", "https://NEWS.example/story#top")),  # the same canonical page
        ("a", _entry("3", "https://news.example/stored")),
        ("c", _entry("4", "https://news.example/summary-only")),
        ("a", _entry("5", None)),  # nothing to fetch
        ("a", _entry("6", "mailto:desk@news.example")),
    ]
    assert candidate_urls(entries) == [
        "https://news.example/story",
        "https://news.example/stored",
        "https://news.example/summary-only",
    ]
    plan = plan_pages(entries, {"a", "b"}, {"https://news.example/stored": "aid-9"})
    assert plan.fetch == {page: (entries[0], entries[1])}  # at the first link seen
    assert plan.keep == {"https://news.example/summary-only": (entries[3],)}  # c: no pages
    assert plan.linked == (("a", "3", "aid-9"),)


def test_work_goes_in_groups_of_whole_hosts_taken_in_turn() -> None:
    urls = (
        [f"https://big.example/{i}" for i in range(6)]
        + [f"https://a.example/{i}" for i in range(3)]
        + [f"https://b.example/{i}" for i in range(3)]
    )
    groups = in_turn(urls, lambda u: u, 2)
    assert [hosts for hosts, _ in groups] == [["big.example"], ["a.example", "b.example"]]
    # Hosts in turn: a host's next page waits behind the other host's.
    assert groups[1][1][:4] == [
        "https://a.example/0",
        "https://b.example/0",
        "https://a.example/1",
        "https://b.example/1",
    ]
    assert sorted(u for _, items in groups for u in items) == sorted(urls)
    assert len(in_turn(urls, lambda u: u, 8)) == 3  # never more groups than hosts
