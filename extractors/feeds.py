"""Feed bytes → FeedData (pure; feedparser does the parsing)."""

from __future__ import annotations

import calendar
import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.html
from lxml.etree import ParserError as LxmlParserError

from extractors.errors import ParseError, redact_url
from extractors.models import EntryData, FeedData

__all__ = ["discover_feeds", "html_to_text", "parse_feed"]


def parse_feed(content: bytes, headers: Mapping[str, str] | None = None, url: str = "") -> FeedData:
    """Parse a feed document. Raises ParseError when the bytes are not a feed at all.

    A document that is not well-formed but still yields entries is accepted and
    flagged (`bozo`), as feed readers do: real feeds are often slightly broken.
    """
    try:
        parsed = feedparser.parse(
            content,
            response_headers=dict(headers or {}),
            # We keep plain text only, so sanitising and URI rewriting are wasted work.
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # feedparser should not raise, but bytes come from strangers
        raise ParseError(
            f"{redact_url(url) or 'feed'}: feedparser failed: {type(e).__name__}: {e}"
        ) from e
    bozo_reason = _bozo_reason(parsed)
    if not parsed.get("version") and not parsed.entries:
        raise ParseError(
            f"{redact_url(url) or 'feed'}: not a feed ({bozo_reason or 'no RSS/Atom root element'})"
        )
    feed = parsed.get("feed", {})
    entries = tuple(_entry(e, url) for e in parsed.entries)
    return FeedData(
        title=_clean(feed.get("title")),
        link=feed.get("link"),
        version=parsed.get("version") or "unknown",
        entries=entries,
        ttl_seconds=_ttl(feed.get("ttl")),
        bozo=bool(parsed.get("bozo")),
        bozo_reason=bozo_reason,
    )


def _ttl(value: Any) -> int | None:
    """RSS <ttl> is in minutes."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _bozo_reason(parsed: Any) -> str | None:
    exc = parsed.get("bozo_exception")
    if not parsed.get("bozo") or exc is None:
        return None
    return f"{type(exc).__name__}: {exc}"[:300]


def _entry(e: Any, feed_url: str) -> EntryData:
    link = e.get("link") or None
    title = _clean(e.get("title"))
    published = _datetime(e.get("published_parsed") or e.get("updated_parsed"))
    summary = html_to_text(e.get("summary")) or None
    content = None
    if e.get("content"):
        content = html_to_text(" ".join(c.get("value", "") for c in e["content"])) or None
    guid = e.get("id") or link
    if not guid:
        # No id and no link: identify the item by what it says.
        basis = f"{feed_url}\n{title}\n{published}\n{summary}"
        guid = "sha1:" + hashlib.sha1(basis.encode()).hexdigest()
    return EntryData(
        guid=str(guid).strip(),
        link=link,
        title=title,
        published=published,
        author=_clean(e.get("author")),
        summary=summary,
        content=content,
    )


def _datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(html_to_text(value).split())
    return text or None


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment (feed summaries and content are often HTML)."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return fragment.strip()
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (LxmlParserError, ValueError):
        return fragment.strip()
    for br in root.iter("br", "p", "div", "li"):
        br.tail = "\n" + (br.tail or "")
    return "\n".join(line.strip() for line in root.text_content().splitlines() if line.strip())


def discover_feeds(html: bytes, page_url: str) -> list[str]:
    """Feed URLs a page advertises (<link rel="alternate" type="application/rss+xml">, …).

    trafilatura's feed finder does the looking; feedwatch does the fetching.
    """
    from trafilatura.feeds import FeedParameters, determine_feed

    parts = urlsplit(page_url)
    base = f"{parts.scheme}://{parts.netloc}"
    params = FeedParameters(base, parts.hostname or "", page_url)
    text = html.decode("utf-8", errors="replace")
    return [str(u) for u in determine_feed(text, params)]
