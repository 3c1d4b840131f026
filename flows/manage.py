"""Managing the list of feeds: add by URL (with discovery), OPML in and out, enable/disable.

Feeds added here live in the warehouse beside those of feeds.yaml; a feed of
feeds.yaml wins over a stored feed of the same name.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from extractors.decide import register_feed
from extractors.errors import ConfigError, FetchError, ParseError, WarehouseMissingError
from extractors.feeds import discover_feeds, parse_feed
from extractors.http import Fetcher, HttpSettings
from extractors.models import FeedSpec
from extractors.opml import OpmlFeed, parse_opml, write_opml
from flows.settings import DEFAULT_INTERVAL, load_feeds, slugify
from warehouse import Warehouse, may_exist, open_warehouse
from warehouse.api import STORED_SOURCES

__all__ = ["FoundFeed", "add_feed", "disable_feed", "export_opml", "import_opml"]


@dataclass(frozen=True)
class FoundFeed:
    url: str
    title: str | None
    entries: int


def find_feeds(url: str, fetcher: Fetcher) -> list[FoundFeed]:
    """The feed at `url`, or the feeds a page at `url` advertises (each fetched to check it)."""
    response = fetcher.fetch_page(url)
    try:
        feed = parse_feed(response.content, response.headers, response.final_url)
        return [FoundFeed(response.final_url, feed.title, len(feed.entries))]
    except ParseError:
        pass
    found = []
    for candidate in discover_feeds(response.content, response.final_url):
        try:
            r = fetcher.fetch_feed(candidate)
            feed = parse_feed(r.content, r.headers, r.final_url)
        except (FetchError, ParseError):
            continue  # advertised but broken: not worth adding
        found.append(FoundFeed(r.final_url, feed.title, len(feed.entries)))
    return found


def _unique_name(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def add_feed(
    db: Path,
    url: str,
    *,
    name: str | None = None,
    interval_seconds: int = DEFAULT_INTERVAL,
    tags: tuple[str, ...] = (),
    fetch_pages: bool = True,
    http: HttpSettings | None = None,
) -> list[FeedSpec]:
    """Add the feed at `url`, or every feed the page at `url` advertises. Returns what was added."""
    with Fetcher(http) as fetcher:
        found = find_feeds(url, fetcher)
    if not found:
        raise ConfigError(f"{url}: neither a feed nor a page that links to one")
    if name and len(found) > 1:
        raise ConfigError(
            f"{url} advertises {len(found)} feeds; --name fits only one: add them one by one"
        )
    with open_warehouse(db) as wh:
        specs = _add_new(
            wh,
            [
                (f.url, name or slugify(f.title or f.url), (interval_seconds, tags, fetch_pages))
                for f in found
            ],
            "cli",
        )
    return specs


def _add_new(
    wh: Warehouse, found: list[tuple[str, str, tuple[int, tuple[str, ...], bool]]], source: str
) -> list[FeedSpec]:
    """Store the feeds (url, name, (interval, tags, fetch_pages)) feedwatch does not know
    by URL yet, under names not taken yet; return them."""
    states = wh.feed_states()
    known_urls = {s.config_url for s in states.values()} | {s.url for s in states.values()}
    taken = set(states)
    specs = [
        FeedSpec(_unique_name(name, taken), url, interval, tags, fetch_pages)
        for url, name, (interval, tags, fetch_pages) in found
        if url not in known_urls
    ]
    wh.add_feeds([register_feed(s, None) for s in specs], source)
    return specs


def import_opml(db: Path, path: Path) -> tuple[list[FeedSpec], int]:
    """Add the feeds of an OPML file. Returns (added, already known)."""
    try:
        feeds = parse_opml(path.read_bytes(), str(path))
    except OSError as e:
        raise ConfigError(f"cannot read: {e}", path=str(path)) from e
    except ParseError as e:
        raise ConfigError(str(e)) from e
    with open_warehouse(db) as wh:
        specs = _add_new(
            wh,
            [(f.url, slugify(f.title or f.url), (DEFAULT_INTERVAL, f.tags, True)) for f in feeds],
            "opml",
        )
    return specs, len(feeds) - len(specs)


def export_opml(db: Path, feeds_path: Path | None) -> bytes:
    """feeds.yaml's feeds and the stored ones, as OPML 2.0."""
    config = load_feeds(feeds_path) if feeds_path and feeds_path.exists() else []
    titles: dict[str, str | None] = {}
    stored: list[FeedSpec] = []
    if may_exist(db):
        with contextlib.suppress(WarehouseMissingError), open_warehouse(db, read_only=True) as wh:
            stored = [s for s, _ in wh.stored_feeds(STORED_SOURCES)]  # read-only: no lock
            titles = wh.feed_titles()
    names = {s.name for s in config}
    specs = config + [s for s in stored if s.name not in names]
    return write_opml([OpmlFeed(s.url, titles.get(s.name) or s.name, s.tags) for s in specs])


def disable_feed(db: Path, name: str, reason: str | None, feeds_path: Path | None) -> None:
    """Disable (reason given) or enable (None) a feed, from feeds.yaml or stored."""
    with open_warehouse(db) as wh:
        if name not in wh.feed_states() and feeds_path and feeds_path.exists():
            configured = [s for s in load_feeds(feeds_path) if s.name == name]
            wh.add_feeds([register_feed(s, None) for s in configured], "config")
        if not wh.set_disabled(name, reason):
            raise ConfigError(f"no feed named {name!r} (see 'feedwatch feeds status --all')")
