"""extractors.feeds: bytes → FeedData, on the demo feeds and on real-world feeds."""

from __future__ import annotations

import re

import pytest

from conftest import corpora
from extractors.errors import ParseError
from extractors.feeds import html_to_text, parse_feed
from flows.demo import ATOM_PATH, RSS_PATH, render_site


def test_demo_rss_and_atom_parse() -> None:
    routes = render_site("http://127.0.0.1:1")
    rss = parse_feed(routes[RSS_PATH].body)
    atom = parse_feed(routes[ATOM_PATH].body)
    assert rss.version == "rss20" and atom.version == "atom10"
    assert not rss.bozo and not atom.bozo
    assert len(rss.entries) == 13 and len(atom.entries) == 11
    e = rss.entries[0]
    assert e.guid.startswith("https://www.peninsulamonitor.example/story/")
    assert e.link and e.link.startswith("http://127.0.0.1:1/")
    assert e.published is not None and e.published.tzinfo is not None
    assert e.summary and "<" not in e.summary
    # The World desk links the Kursk story with tracking parameters.
    assert any("utm_source=atom" in (x.link or "") for x in atom.entries)


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02garbage", b"<html><body>Hello</body></html>", b'{"json": true}'],
)
def test_not_a_feed_raises_parse_error(content: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(content, url="http://x/feed")


def test_entry_without_id_or_link_gets_a_stable_guid() -> None:
    doc = b"<rss version='2.0'><channel><item><title>A</title><description>B</description></item></channel></rss>"
    a, b = parse_feed(doc).entries[0], parse_feed(doc).entries[0]
    assert a.guid == b.guid and a.guid.startswith("sha1:")


def test_html_to_text() -> None:
    assert html_to_text("<p>One &amp; <b>two</b></p><p>three</p>") == "One & two\nthree"
    assert html_to_text("plain") == "plain"
    assert html_to_text(None) == ""


_ROW = re.compile(r"^\| (\S+) \| .*? \| (\w+) \| \S+ \| (\d) .*?\| (\d+) \|", re.MULTILINE)


@pytest.mark.corpora
def test_real_feeds_parse_with_expected_entry_counts() -> None:
    """Every real feed in feeds_real/ parses, with the entry count SOURCES.md measured."""
    root = corpora() / "feeds_real"
    rows = _ROW.findall((root / "SOURCES.md").read_text(encoding="utf-8"))
    assert len(rows) >= 40
    for name, _version, _bozo, count in rows:
        feed = parse_feed((root / name).read_bytes(), url=name)
        assert len(feed.entries) == int(count), name
        assert all(e.guid for e in feed.entries), name
        assert len({e.guid for e in feed.entries}) >= 1


@pytest.mark.corpora
def test_feedparser_fixtures_never_raise_anything_but_parse_error() -> None:
    """2,000+ well-formed, ill-formed and oddly encoded documents: read or refused cleanly."""
    root = corpora() / "feeds"
    files = sorted(p for p in root.rglob("*.xml"))
    assert len(files) > 2000
    read = refused = 0
    for path in files:
        try:
            parse_feed(path.read_bytes(), url=str(path))
            read += 1
        except ParseError:
            refused += 1
    assert read > 1900, (read, refused)
