"""The real world through the real poll path: 2,100 feed documents served on loopback.

feedparser's own fixture suite (well-formed, ill-formed, odd encodings,
entities; the `Header:` lines of its HTTP fixtures served as headers) and 41
real feeds from news sites, all polled in one run of the poll-feeds flow.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pytest

from conftest import corpora
from extractors.feeds import parse_feed
from flows.demo import Route, SiteServer
from flows.poll import poll_feeds

pytestmark = [pytest.mark.slow, pytest.mark.corpora, pytest.mark.usefixtures("prefect_harness")]

_HEADER = re.compile(r"^\s*Header:\s*([^:]+?):\s*(.*?)\s*$", re.MULTILINE)
_SOURCES_ROW = re.compile(r"^\| (\S+) \| .*? \| (\w+) \| \S+ \| (\d) .*?\| (\d+) \|", re.MULTILINE)


def _route(path: Path) -> Route:
    body = path.read_bytes()
    head = body[:2000].decode("latin-1")
    headers = tuple(
        (k, v) for k, v in _HEADER.findall(head.split("-->")[0]) if k.lower() != "content-type"
    )
    content_type = next(
        (v for k, v in _HEADER.findall(head.split("-->")[0]) if k.lower() == "content-type"), None
    )
    # Files without headers are served as generic XML, so their own declaration decides.
    return Route(200, content_type or "application/xml", body, headers)


def test_every_corpus_feed_goes_through_the_poll_path(tmp_path: Path, topics_file: Path) -> None:
    root = corpora()
    files = sorted((root / "feeds").rglob("*.xml")) + sorted(
        p for p in (root / "feeds_real").rglob("*") if p.is_file() and p.name != "SOURCES.md"
    )
    assert len(files) > 2100
    routes = {"/" + str(p.relative_to(root)): _route(p) for p in files}
    names = {path: f"c{i:04d}" for i, path in enumerate(routes)}
    with SiteServer(routes) as server:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            "fetch:\n  host_delay: 0s\n  per_host: 16\n  concurrency: 16\nfeeds:\n"
            + "".join(
                f"  - name: {names[p]}\n    url: {server.url(p)}\n    fetch_pages: false\n"
                for p in routes
            )
        )
        db = tmp_path / "corpus.duckdb"
        t0 = time.monotonic()
        summary = poll_feeds(str(feeds), str(topics_file), str(db), poll_all=True)
        seconds = time.monotonic() - t0

    con = duckdb.connect(str(db), read_only=True)
    fetches = con.execute("SELECT feed_id, ok, error FROM feed_fetches").fetchall()
    entries = dict(con.execute("SELECT feed_id, count(*) FROM entries GROUP BY ALL").fetchall())
    con.close()
    assert len(fetches) == len(routes) == summary.feeds_polled
    # Nothing escaped as an unexpected error: every document was read or refused cleanly.
    assert not [f for f in fetches if f[2] and f[2].startswith("internal error")]
    refused = [f for f in fetches if not f[1]]
    assert all("not a feed" in (f[2] or "") for f in refused), refused[:5]
    assert len(refused) < 60, [f[2] for f in refused][:10]
    # Documents that are not well-formed are read anyway, and the problem recorded.
    bozo = {f[0] for f in fetches if f[1] and f[2] and "not well-formed" in f[2]}
    assert len(bozo) > 200
    # Every entry of every document that was read is stored (one per distinct id).
    refused_names = {f[0] for f in refused}
    for path, route in routes.items():
        name = names[path]
        if name in refused_names:
            continue
        feed = parse_feed(
            route.body, {"content-type": route.content_type or "", **dict(route.headers)}
        )
        assert entries.get(name, 0) == len({e.guid for e in feed.entries}), path
    assert sum(1 for name in bozo if entries.get(name)) >= 20
    print(
        f"\n{len(routes)} corpus feeds polled in {seconds:.1f} s: {len(refused)} refused as not "
        f"feeds, {len(bozo)} read despite errors, {summary.new_entries} entries stored"
    )

    # The real feeds yield the entry counts SOURCES.md measured.
    sources = (root / "feeds_real" / "SOURCES.md").read_text(encoding="utf-8")
    rows = _SOURCES_ROW.findall(sources)
    assert len(rows) == 41
    for file, _version, _bozo, count in rows:
        name = names["/feeds_real/" + file]
        assert entries.get(name, 0) == int(count), file
