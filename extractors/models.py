"""Frozen dataclasses that cross package boundaries (extractors → flows → warehouse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

TextSource = Literal["extracted", "feed_content", "feed_summary", "none"]


@dataclass(frozen=True)
class FeedSpec:
    """A feed to watch, as configured (feeds.yaml, OPML or the CLI)."""

    name: str
    url: str
    interval_seconds: int = 15 * 60
    tags: tuple[str, ...] = ()
    # Fetch each entry's page and extract it; off: keep the feed's own text only.
    fetch_pages: bool = True


@dataclass(frozen=True)
class FetchResult:
    """What one HTTP GET returned, after redirects."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    elapsed_seconds: float
    redirects: tuple[str, ...] = ()
    # True when every redirect hop was permanent (301/308): the resource has moved.
    permanent_redirect: bool = False

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class EntryData:
    """One item of a feed, as the feed describes it."""

    guid: str
    link: str | None
    title: str | None
    published: datetime | None
    author: str | None
    summary: str | None
    content: str | None


@dataclass(frozen=True)
class FeedData:
    """A parsed feed document."""

    title: str | None
    link: str | None
    version: str
    entries: tuple[EntryData, ...]
    ttl_seconds: int | None = None  # RSS <ttl>: how long the publisher says to cache the feed
    # feedparser's "bozo" flag: the document was not well-formed but was still read.
    bozo: bool = False
    bozo_reason: str | None = None


@dataclass(frozen=True)
class Article:
    """The text and metadata of one article page (or the feed's text when the page had none)."""

    url: str
    final_url: str
    canonical_url: str
    title: str | None
    author: str | None
    published: datetime | None
    language: str | None
    site_name: str | None
    text: str
    text_source: TextSource
    content_hash: str
    signature: bytes = b""  # MinHash of the text, for near-duplicates (b"" if too short)


@dataclass(frozen=True)
class Mention:
    """One place in an article where a topic term was found."""

    term: str
    field: str  # "title" or "text"
    start: int  # character offsets into that field
    end: int
    snippet: str


@dataclass(frozen=True)
class Topic:
    """A named topic: a boolean query, how its score is weighed, and the threshold a
    match must reach (extractors/topics/scoring.py has the formula)."""

    name: str
    query: str
    version: str
    min_score: float = 1.0
    min_sentences: int = 1  # sentences (the headline one of them) where the query must hold
    description: str = ""
    headline_weight: float = 2.0  # points when the query holds in the headline
    lead_weight: float = 1.0  # points for each of the first lead_sentences where it holds
    share_weight: float = 10.0  # points per unit of share: 10 × a fifth of the sentences = 2
    lead_sentences: int = 2  # how many of the body's first sentences are its lead


@dataclass(frozen=True)
class Figure:
    """A number a sentence reports (extractors/figures.py). `value` is None where the
    text gives no single number (a range, "dozens"); `low` and `high` are the range
    it implies (None where open: "more than 8,000" has no high)."""

    value: float | None
    low: float | None
    high: float | None
    hedge: str  # exact, about, more than, at least, up to, as many as, fewer than
    counted: str  # what is counted, as written
    kind: str  # one of extractors.figures.KINDS
    source: str | None  # who says so, where the sentence names it
    sentence: str
    start: int  # where the number starts in the sentence
    end: int
    in_headline: bool = False  # stated in the article's headline

    def reported(self) -> dict[str, object]:
        """What a figure says, as the warehouse and `figures check` give it."""
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "hedge": self.hedge,
            "counted": self.counted,
            "kind": self.kind,
            "source": self.source,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class TopicMatch:
    """How one topic matched one article: the score, its parts, the verdict and why.

    Made for every article with any of the topic's terms, hits and misses alike,
    so that both "why did this match?" and "why was this left out?" have an answer.
    """

    topic: str
    version: str
    score: float
    matched: bool
    terms: tuple[str, ...] = ()
    mentions: tuple[Mention, ...] = field(default=())
    snippet: str | None = None
    sentences: int = 0  # sentences where the query held, the headline one of them
    headline_points: float = 0.0  # the parts of the score: from the headline,
    lead_points: float = 0.0  # from the lead,
    share_points: float = 0.0  # from the share of the body's sentences where the query held
    carrying: int = 0  # body sentences where the query held
    total_sentences: int | None = 0  # body sentences (None: not counted, the query held nowhere)
    share: float = 0.0  # how much of the body carries the query (carrying / total)
    verdict: str = ""  # the rule that decided, in words
    units: tuple[tuple[int, float], ...] = ()  # (0: headline, k: body sentence k; its count)
    figures: tuple[Figure, ...] = ()  # a hit's figures: its headline's and where the query held


@dataclass(frozen=True)
class FeedState:
    """What the warehouse remembers about a feed between polls."""

    feed_id: str
    url: str  # where the feed is fetched now (moves after repeated permanent redirects)
    config_url: str | None = None  # the URL it was configured with
    etag: str | None = None
    last_modified: str | None = None
    next_due_at: datetime | None = None
    error_count: int = 0
    disabled_reason: str | None = None
    redirect_url: str | None = None  # where consecutive permanent redirects pointed
    redirect_count: int = 0


@dataclass(frozen=True)
class FeedRegistration:
    """A configured feed as the warehouse records it (decide.register_feed): its
    settings, and the URL it is fetched from, which follows permanent moves until
    the configured URL itself changes."""

    feed_id: str
    url: str  # where it is fetched from now
    config_url: str
    tags: tuple[str, ...]
    interval_seconds: int
    fetch_pages: bool
    reconfigured: bool  # the configured URL changed: moves seen before are forgotten


@dataclass(frozen=True)
class Failure:
    """Why a poll failed, as the schedule needs it (decide.describe_failure)."""

    status: int | None  # the HTTP status, when there was an answer
    transient: bool  # worth trying again soon
    retry_after: float | None  # seconds the server asked to wait
    message: str


@dataclass(frozen=True)
class FeedUpdate:
    """The new state of a feed after a poll: what the warehouse writes. An update
    older than the state already stored (a spooled batch loaded late) is not applied."""

    feed_id: str
    url: str
    polled_at: datetime
    ok: bool
    etag: str | None
    last_modified: str | None
    error_count: int
    last_error: str | None
    next_due_at: datetime
    disabled_reason: str | None
    redirect_url: str | None
    redirect_count: int
    title: str | None
    site_url: str | None
    new_entries: int = 0  # entries of this poll not seen before


@dataclass(frozen=True)
class FeedPoll:
    """The outcome of polling one feed: what happened and every entry the document held."""

    feed: FeedSpec
    started_at: datetime
    url: str
    ok: bool
    status: int | None = None
    error: str | None = None
    transient: bool = True  # for failures: worth trying again soon
    retry_after: float | None = None  # seconds, from a 429/503 Retry-After header
    bytes: int = 0
    duration_ms: float = 0.0
    final_url: str | None = None  # after redirects
    permanent_redirect: bool = False
    cache_seconds: float | None = None  # how long the server says the feed stays fresh
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    site_url: str | None = None
    warning: str | None = None  # e.g. the document was not well-formed but was read
    entries: tuple[EntryData, ...] = ()


Entries = tuple[tuple[str, EntryData], ...]  # (feed_id, entry) pairs


@dataclass(frozen=True)
class PagePlan:
    """What a poll does with the pages its new entries link to (plan.plan_pages)."""

    fetch: dict[str, Entries]  # url → the entries leading there: fetched once, however many
    keep: dict[str, Entries]  # pages not fetched (their feeds keep the feed's own text)
    linked: tuple[tuple[str, str, str], ...]  # (feed_id, guid, article_id): stored already


@dataclass(frozen=True)
class PageFetch:
    """An article page as fetched (or not), with the feed entries that lead to it."""

    url: str
    entries: tuple[tuple[str, EntryData], ...]  # (feed_id, entry)
    fetched_at: datetime
    final_url: str | None = None
    status: int | None = None
    html: bytes | None = None
    error: str | None = None


@dataclass(frozen=True)
class ArticleRecord:
    """An article ready to load: its text, where it came from, and its topic matches."""

    article: Article
    feed_id: str
    entries: tuple[tuple[str, EntryData], ...]  # (feed_id, entry) pairs that lead here
    fetched_at: datetime
    fetch_status: int | None
    fetch_error: str | None
    matches: tuple[TopicMatch, ...]


@dataclass(frozen=True)
class PollBatch:
    """What a poll run hands to the warehouse at once, loaded in one transaction: the
    whole run, or one of its batches."""

    run_id: str
    started_at: datetime
    feeds: tuple[FeedRegistration, ...]  # the configured feeds, to register or update
    feed_source: str
    polls: tuple[FeedPoll, ...]
    updates: tuple[FeedUpdate, ...]  # each polled feed's new state (decide.feed_updates)
    new_entries: tuple[tuple[str, EntryData], ...]  # (feed_id, entry) not seen before
    articles: tuple[ArticleRecord, ...]
    # (feed_id, guid, article_id) for new entries whose article was stored before.
    linked: tuple[tuple[str, str, str], ...] = ()
    topics: tuple[Topic, ...] = ()  # the topic definitions the articles were matched with
    flow_run_id: str | None = None
    seq: int = 0  # the batch's place in its run: a run loads in batches (extractors.stream)
