"""The streaming poll's guarantees, as operators meet them: `feedwatch run` as a
command on real pages (trafilatura's evaluation corpus) served on loopback.

- A run loads in batches while it polls: SIGKILLed after its first batch, it keeps
  that batch, and the next run completes the rest, every entry and story once.
- Two runs at once over overlapping feeds store every entry and story once.
"""

from __future__ import annotations

import gzip
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb
import pytest
from test_lifecycle import BIN, env_for, left_after_kill, wait_for

from conftest import corpora, write_feeds
from flows.demo import SiteServer
from flows.demo.site import Route

pytestmark = pytest.mark.slow

PAGES = 120


def _rss(base: str, paths: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Report {escape(p)}</title><link>{base}{p}</link>"
        f"<guid>{base}{p}</guid></item>"
        for p in paths
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


@pytest.fixture(scope="module")
def outlet() -> Iterator[SiteServer]:
    """PAGES real pages and three feeds: a (pages 0–59), b (40–99), c (80–119), each
    overlapping the next by 20 pages."""
    folder = corpora() / "articles" / "trafilatura-eval-dev" / "html"
    bodies = [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.gz"))[:PAGES]]
    spans = {"a": range(0, 60), "b": range(40, 100), "c": range(80, 120)}

    def routes(base: str) -> dict[str, Route]:
        table = {f"/story/{i}.html": Route(200, "text/html", body) for i, body in enumerate(bodies)}
        for name, span in spans.items():
            paths = [f"/story/{i}.html" for i in span]
            table[f"/{name}.xml"] = Route(200, "application/rss+xml", _rss(base, paths))
        return table

    with SiteServer(routes) as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


def _feeds(path: Path, outlet: SiteServer, names: str, delay: str) -> Path:
    return write_feeds(path, {n: outlet.url(f"/{n}.xml") for n in names}, host_delay=delay)


def _run(home: Path, feeds: Path, db: Path, topics: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(BIN / "feedwatch"),
            "run",
            *("--feeds", feeds, "--topics", topics, "--db", db),
            *extra,
        ],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _count(db: Path, sql: str) -> int:
    """A count read as an analyst would, read-only; -1 while a writer holds the file."""
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return -1
    try:
        return int(con.execute(sql).fetchall()[0][0])
    except duckdb.Error:
        return -1
    finally:
        con.close()


def _stored_once(db: Path) -> dict[str, int]:
    """The warehouse's counts, after checking that nothing is stored twice."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        twice = con.execute(
            "SELECT (SELECT count(*) - count(DISTINCT (feed_id, guid)) FROM entries),"
            " (SELECT count(*) - count(DISTINCT canonical_url) FROM articles),"
            " (SELECT count(*) - count(DISTINCT content_hash) FROM articles"
            "  WHERE content_hash <> ''),"
            " (SELECT count(*) - count(DISTINCT (article_id, topic, topic_version))"
            "  FROM topic_matches),"
            " (SELECT count(*) FROM entries WHERE article_id IS NULL"
            "  OR article_id NOT IN (SELECT article_id FROM articles))"
        ).fetchall()[0]
        assert twice == (0, 0, 0, 0, 0), "entries, URLs, texts, matches twice; entries unlinked"
        entries, pages = con.execute(
            "SELECT count(*), count(DISTINCT link) FROM entries"
        ).fetchall()[0]
        articles = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
        return {"entries": entries, "pages": pages, "articles": articles}
    finally:
        con.close()


def test_a_run_killed_after_its_first_batch_keeps_it_and_the_next_completes_the_rest(
    outlet: SiteServer, home: Path, tmp_path: Path, topics_file: Path
) -> None:
    # 0.1 s between two requests to the outlet: 120 pages take 12 s or more.
    feeds = _feeds(tmp_path / "feeds.yaml", outlet, "abc", "0.1s")
    db = tmp_path / "w.duckdb"
    run = _run(home, feeds, db, topics_file, "--extract-workers", "2")
    try:
        wait_for("the first batch", lambda: _count(db, "SELECT count(*) FROM articles") > 0)
    finally:
        assert left_after_kill(run, home) == []  # type: ignore[arg-type]
    assert run.returncode == -signal.SIGKILL
    kept = {
        r[0]
        for r in duckdb.connect(str(db), read_only=True)
        .execute("SELECT article_id FROM articles")
        .fetchall()
    }
    assert 0 < len(kept) < PAGES, f"{len(kept)} articles: the run was not cut part way"
    # Feeds whose entries were not all loaded are still due: no --all needed.
    again = _run(home, feeds, db, topics_file)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out
    counts = _stored_once(db)
    assert counts["entries"] == 60 + 60 + 40 and counts["pages"] == PAGES
    con = duckdb.connect(str(db), read_only=True)
    try:
        after = {r[0] for r in con.execute("SELECT article_id FROM articles").fetchall()}
        assert kept <= after  # the first run's batch stayed
        runs = con.execute(
            "SELECT r.run_id, count(b.batch), r.new_entries, sum(b.new_entries)"
            " FROM runs r JOIN run_batches b USING (run_id)"
            " GROUP BY r.run_id, r.new_entries, r.started_at ORDER BY r.started_at"
        ).fetchall()
        not_due = con.execute("SELECT count(*) FROM feeds WHERE next_due_at > now()").fetchall()
    finally:
        con.close()
    assert len(runs) == 2 and all(total == summed for _, _, total, summed in runs)
    assert sum(total for _, _, total, _ in runs) == counts["entries"]
    assert not_due[0][0] == 3  # every feed polled to the end, once


def test_two_streaming_runs_over_overlapping_feeds_store_every_story_once(
    outlet: SiteServer, home: Path, tmp_path: Path, topics_file: Path
) -> None:
    db = tmp_path / "w.duckdb"
    first = _feeds(tmp_path / "one.yaml", outlet, "ab", "0.02s")
    second = _feeds(tmp_path / "two.yaml", outlet, "bc", "0.02s")
    runs = [_run(home, f, db, topics_file, "--all") for f in (first, second)]
    outs = [r.communicate(timeout=600)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], "\n".join(outs)
    # A batch that found the file held too long waits in the spool: the next run loads it.
    drain = _run(home, first, db, topics_file)
    out, _ = drain.communicate(timeout=600)
    assert drain.returncode == 0, out
    counts = _stored_once(db)
    assert counts["entries"] == 60 + 60 + 40 and counts["pages"] == PAGES
    assert counts["articles"] <= PAGES
