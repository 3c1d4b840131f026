"""The poll-feeds flow through real Prefect (test harness), a real loopback site and DuckDB."""

from __future__ import annotations

import json
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import write_feeds
from flows.demo import ATOM_PATH, RSS_PATH, SiteServer
from flows.poll import RunSummary, poll_feeds
from flows.summary import summary_markdown

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def _counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("feeds", "entries", "articles", "topic_matches", "feed_fetches", "runs")
        }
    finally:
        con.close()


def _poll(feeds: Path, topics: Path, db: Path) -> RunSummary:
    return poll_feeds(feeds_path=str(feeds), topics_path=str(topics), db=str(db), poll_all=True)


@pytest.fixture
def mixed_feeds(tmp_path: Path, site: SiteServer) -> Path:
    return write_feeds(
        tmp_path / "feeds.yaml",
        {
            "demo-latest": site.url(RSS_PATH),
            "broken-500": site.url("/broken/500.xml"),
            "demo-world": site.url(ATOM_PATH),
            "garbage": site.url("/broken/garbage.xml"),
            "html-not-feed": site.url("/broken/html.xml"),
            "refused": "http://127.0.0.1:9/feed.xml",
        },
    )


def test_broken_feeds_are_recorded_and_the_others_load(
    mixed_feeds: Path, topics_file: Path, db: Path
) -> None:
    summary = _poll(mixed_feeds, topics_file, db)
    assert summary.feeds_polled == 6
    failed = dict(summary.failed)
    assert set(failed) == {"broken-500", "garbage", "html-not-feed", "refused"}
    assert "HTTP 500" in failed["broken-500"]
    assert "not a feed" in failed["garbage"]
    assert summary.new_entries == 24 and summary.new_articles == 20

    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT feed_id, error_count, last_error IS NOT NULL, last_success_at IS NOT NULL,"
        " next_due_at > last_polled_at FROM feeds ORDER BY feed_id"
    ).fetchall()
    fetches = con.execute(
        "SELECT feed_id, ok, status, error FROM feed_fetches ORDER BY feed_id"
    ).fetchall()
    con.close()
    assert [r[0] for r in rows] == sorted(failed | {"demo-latest": "", "demo-world": ""})
    for feed_id, errors, has_error, has_success, scheduled in rows:
        assert scheduled
        assert (errors, has_error, has_success) == (
            (1, True, False) if feed_id in failed else (0, False, True)
        )
    assert {f[0]: f[1] for f in fetches} == {
        name: name not in failed for name in ["demo-latest", "demo-world", *failed]
    }
    assert dict((f[0], f[2]) for f in fetches)["broken-500"] == 500


def test_polling_twice_adds_nothing(demo_feeds: Path, topics_file: Path, db: Path) -> None:
    first = _poll(demo_feeds, topics_file, db)
    after_first = _counts(db)
    second = _poll(demo_feeds, topics_file, db)
    after_second = _counts(db)
    assert first.new_entries == 24 and first.new_articles == 20 and first.hits
    assert (second.new_entries, second.new_articles, second.pages_fetched, len(second.hits)) == (
        0,
        0,
        0,
        0,
    )
    for table in ("feeds", "entries", "articles", "topic_matches"):
        assert after_second[table] == after_first[table], table
    # Every attempt is on record, the second run's included.
    assert after_second["feed_fetches"] == 4 and after_second["runs"] == 2


def test_syndicated_story_is_stored_once(demo_feeds: Path, topics_file: Path, db: Path) -> None:
    summary = _poll(demo_feeds, topics_file, db)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        """
        SELECT e.feed_id, e.link, a.canonical_url
        FROM entries e JOIN articles a USING (article_id)
        WHERE a.canonical_url LIKE '%north-korean-troops-kursk%'
        ORDER BY e.feed_id
        """
    ).fetchall()
    stored = con.execute(
        "SELECT count(*) FROM articles WHERE canonical_url LIKE '%north-korean-troops-kursk%'"
    ).fetchall()[0][0]
    con.close()
    assert stored == 1
    assert summary.pages_fetched == 21 and summary.duplicate_articles == 1
    assert [r[0] for r in rows] == ["demo-latest", "demo-world"]
    links = [r[1] for r in rows]
    assert links[0] != links[1] and "utm_source=atom" in links[1]
    assert rows[0][2] == (
        "https://www.peninsulamonitor.example/news/2024/10/18/north-korean-troops-kursk.html"
    )


def test_text_sources_metadata_and_hits(demo_feeds: Path, topics_file: Path, db: Path) -> None:
    summary = _poll(demo_feeds, topics_file, db)
    con = duckdb.connect(str(db), read_only=True)
    sources = dict(
        con.execute("SELECT text_source, count(*) FROM articles GROUP BY ALL").fetchall()
    )
    meta = con.execute(
        "SELECT count(*) FILTER (author IS NOT NULL), count(*) FILTER (published_at IS NOT NULL),"
        " count(*) FILTER (language = 'en'), count(*) FILTER (site_name = 'The Peninsula Monitor'),"
        " count(*) FROM articles"
    ).fetchall()[0]
    hits = con.execute(
        "SELECT a.title, m.snippet, len(m.mentions) FROM topic_matches m JOIN articles a"
        " USING (article_id) WHERE m.topic = 'dprk-russia' AND m.matched"
    ).fetchall()
    con.close()
    assert sources == {"extracted": 19, "feed_summary": 1}
    assert meta == (20, 20, 20, 20, 20)
    assert len(hits) == 9
    assert all(snippet and n > 0 for _, snippet, n in hits)
    assert summary.hits_per_topic()["dprk-russia"] == 9


def test_the_run_leaves_a_markdown_artifact(demo_feeds: Path, topics_file: Path, db: Path) -> None:
    from prefect.artifacts import Artifact

    summary = _poll(demo_feeds, topics_file, db)
    artifact = Artifact.get(key="poll-summary")
    assert artifact is not None and not isinstance(artifact, Coroutine)  # the synchronous call
    assert artifact is not None
    assert str(artifact.flow_run_id) == summary.flow_run_id
    assert artifact.type == "markdown"
    assert f"Poll run `{summary.run_id}`" in str(artifact.data)
    assert "dprk-russia" in str(artifact.data)


def test_views_answer_the_obvious_questions(demo_feeds: Path, topics_file: Path, db: Path) -> None:
    _poll(demo_feeds, topics_file, db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        hits = con.execute(
            "SELECT title, link, outlet, published_at, snippet FROM topic_hits"
            " WHERE topic = 'dprk-russia' ORDER BY published_at"
        ).fetchall()
        daily = con.execute(
            "SELECT sum(articles), sum(stories) FROM daily_topic_counts WHERE topic = 'dprk-russia'"
        ).fetchall()[0]
        clusters = con.execute("SELECT count(*), sum(copies) FROM story_clusters").fetchall()[0]
        first = con.execute(
            "SELECT first_outlet, first_title FROM story_clusters ORDER BY first_published_at LIMIT 1"
        ).fetchall()[0]
        health = dict(con.execute("SELECT feed_id, status FROM feed_health").fetchall())
    finally:
        con.close()
    assert len(hits) == 9
    assert all(
        outlet == "The Peninsula Monitor" and link.startswith("https://")
        for _, link, outlet, _, _ in hits
    )
    assert hits[0][0].startswith("Video: Putin and Kim")  # June 2024, the earliest
    assert daily == (9, 9)
    assert clusters == (20, 20)  # twenty different stories, one copy each
    assert first == (
        "The Peninsula Monitor",
        "Video: Putin and Kim sign partnership pact in Pyongyang",
    )
    # The demo's newest story is from 2025: both feeds have gone quiet for far longer
    # than their usual gap between stories.
    assert health == {"demo-latest": "stale", "demo-world": "stale"}


def test_the_run_leaves_a_table_of_new_stories(
    demo_feeds: Path, topics_file: Path, db: Path
) -> None:
    from prefect.artifacts import Artifact

    summary = _poll(demo_feeds, topics_file, db)
    artifact = Artifact.get(key="poll-hits")
    assert artifact is not None and not isinstance(artifact, Coroutine)  # the synchronous call
    assert artifact is not None
    assert str(artifact.flow_run_id) == summary.flow_run_id
    assert artifact.type == "table"
    rows = json.loads(str(artifact.data))
    stories = {(h.topic, h.cluster_id) for h in summary.hits}
    assert len(rows) == len(stories) == summary.events
    assert {r["topic"] for r in rows} == {"dprk-russia", "dprk-missiles"}
    assert all(r["link"].startswith("http://127.0.0.1:") and r["title"] for r in rows)
    # Sorted by score, best first.
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    # Each story's copies are those the warehouse holds for that topic (a first poll: all).
    con = duckdb.connect(str(db), read_only=True)
    try:
        held = dict(
            con.execute(
                "SELECT h.topic || ' ' || a.title, count(*) OVER (PARTITION BY h.topic, h.cluster_id)"
                " FROM topic_hits h JOIN articles a USING (article_id)"
            ).fetchall()
        )
    finally:
        con.close()
    assert {f"{r['topic']} {r['title']}": r["copies"] for r in rows}.items() <= held.items()
    assert sum(r["copies"] for r in rows) == len(summary.hits)


def test_the_digest_lists_each_new_story_once(
    demo_feeds: Path, topics_file: Path, db: Path, tmp_path: Path
) -> None:
    from prefect.artifacts import Artifact

    from flows.digest import digest

    summary = _poll(demo_feeds, topics_file, db)
    reports = tmp_path / "reports"
    result = digest(db=str(db), since_hours=1, reports_dir=str(reports))
    (page,) = reports.glob("digest-*.html")
    assert page.read_text().count('class="hit"') == len(result.stories)
    link = Artifact.get(key="digest-page")
    assert link is not None and not isinstance(link, Coroutine)  # the synchronous call
    assert link is not None and f"({page.resolve().as_uri()})" in str(link.data)
    stories = {(h.topic, h.cluster_id) for h in summary.hits}
    assert len(result.stories) == len(stories)
    assert sum(s["copies"] for s in result.stories) == len(summary.hits)
    markdown = Artifact.get(key="digest")
    assert markdown is not None and not isinstance(markdown, Coroutine)  # the synchronous call
    assert markdown is not None and "## dprk-russia:" in str(markdown.data)
    table = Artifact.get(key="digest-stories")
    assert table is not None and not isinstance(table, Coroutine)  # the synchronous call
    assert table is not None and len(json.loads(str(table.data))) == len(stories)
    # Nothing new in the next hour's digest window once it has moved on.
    assert digest(db=str(db), since_hours=0, reports_dir=str(reports)).stories == []


def test_a_run_that_can_store_nothing_fails_and_says_why(
    demo_feeds: Path, topics_file: Path, tmp_path: Path
) -> None:
    from extractors.errors import ConfigError

    not_a_file = tmp_path / "warehouse.duckdb"
    not_a_file.mkdir()  # a directory where the warehouse file should be
    with pytest.raises(ConfigError, match=f"{not_a_file}: is a folder"):
        _poll(demo_feeds, topics_file, not_a_file)
    assert not list(tmp_path.glob("*.spool"))  # not held by anyone: nothing to wait for


def _stored(db: Path) -> tuple[list[Any], list[Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (
            con.execute(
                "SELECT article_id, canonical_url, cluster_id, title, language, text,"
                " text_source, signature FROM articles ORDER BY article_id"
            ).fetchall(),
            con.execute(
                "SELECT article_id, topic, score, matched FROM topic_matches ORDER BY ALL"
            ).fetchall(),
        )
    finally:
        con.close()


def test_a_run_extracting_in_worker_processes_stores_the_same(
    demo_feeds: Path, topics_file: Path, tmp_path: Path
) -> None:
    tables = {}
    for workers in (1, 2):
        db = tmp_path / f"w{workers}.duckdb"
        poll_feeds(
            feeds_path=str(demo_feeds),
            topics_path=str(topics_file),
            db=str(db),
            poll_all=True,
            extract_workers=workers,
        )
        tables[workers] = _stored(db)
    assert len(tables[1][0]) == 20
    assert tables[2] == tables[1]


def test_a_run_extracting_on_a_dask_cluster_stores_the_same(
    demo_feeds: Path, topics_file: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    in_line, on_dask = tmp_path / "in-line.duckdb", tmp_path / "dask.duckdb"
    poll_feeds(str(demo_feeds), str(topics_file), str(in_line), poll_all=True, extract_workers=1)
    summary = poll_feeds(
        str(demo_feeds),
        str(topics_file),
        str(on_dask),
        poll_all=True,
        extract_workers=2,
        dask_address="local",  # a LocalCluster of 2 worker processes, for this run
    )
    assert _stored(on_dask) == _stored(in_line)
    assert len(_stored(on_dask)[0]) == 20

    # Extraction ran on the cluster as task runs of the poll, one per 16 pages.
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(summary.flow_run_id)]))
        )
    chunks = [t for t in tasks if t.name.startswith("extract pages")]
    assert len(chunks) == -(-summary.pages_fetched // 16)
    assert all(t.state is not None and t.state.is_completed() for t in chunks)


def test_credentials_in_feed_urls_reach_no_log_artifact_or_error_column(
    site: SiteServer, topics_file: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    secret_url = site.url("/broken/500.xml?token=abc123&edition=asia").replace(
        "http://", "http://reader:s3cret@"
    )
    feeds = write_feeds(
        tmp_path / "feeds.yaml", {"demo-latest": site.url(RSS_PATH), "private": secret_url}
    )
    db = tmp_path / "w.duckdb"
    summary = _poll(feeds, topics_file, db)
    assert summary.new_articles > 0  # the other feed loads
    (failed,) = summary.failed
    assert failed[0] == "private" and "HTTP 500" in failed[1]
    assert "token=***" in failed[1] and "***@" in failed[1]

    seen = [failed[1], summary_markdown(summary)]
    con = duckdb.connect(str(db), read_only=True)
    try:
        seen += [r[0] or "" for r in con.execute("SELECT last_error FROM feeds").fetchall()]
        seen += [r[0] or "" for r in con.execute("SELECT error FROM feed_fetches").fetchall()]
    finally:
        con.close()
    run_id = uuid.UUID(summary.flow_run_id)
    APILogHandler().flush()  # run logs go to the server in batches
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])),
        )
    # The feed's failure is logged from a thread of its task: it reaches the run's logs.
    assert any("feed private failed" in log.message for log in logs), [x.message for x in logs]
    seen += [log.message for log in logs] + [str(a.data) for a in artifacts]
    assert any("HTTP 500" in text for text in seen[2:])  # the failure was recorded
    for text in seen:
        assert "s3cret" not in text and "abc123" not in text, text
