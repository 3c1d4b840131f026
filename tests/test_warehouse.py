"""The warehouse: schema, versions, idempotent loads, locks."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from conftest import batch_of
from extractors.articles import extract_article
from extractors.errors import WarehouseError, WarehouseLockedError
from extractors.feeds import parse_feed
from extractors.models import ArticleRecord, FeedPoll, FeedSpec
from flows.demo import RSS_PATH, render_site
from warehouse._duckdb import connect
from warehouse.migrations import SCHEMA_VERSION, column_comments, ensure_schema
from warehouse.staging import StagedBatch
from warehouse.store import DuckDBWarehouse as Warehouse

REQUIRED = {
    "feeds": set(),
    "entries": {"guid"},
    "articles": {"url", "canonical_url", "cluster_id"},
    "topic_matches": {"topic", "score", "matched"},
}


def test_every_column_is_documented(db: Path) -> None:
    with Warehouse.open(db) as wh:
        rows = wh.con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns()"
            " WHERE NOT internal AND table_name IN (SELECT table_name FROM duckdb_tables())"
        ).fetchall()
    columns = {(t, c) for t, c, _ in rows}
    assert columns == set(column_comments())
    assert all(comment for _, _, comment in rows)
    for table, required in REQUIRED.items():
        assert required <= {c for t, c in columns if t == table}, table


def test_a_newer_warehouse_is_refused(db: Path) -> None:
    with Warehouse.open(db) as wh:
        wh.con.execute("INSERT INTO schema_migrations VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(WarehouseError, match="newer than this feedwatch"), Warehouse.open(db):
        pass


def test_schema_creation_is_idempotent(db: Path) -> None:
    con = connect(db)
    assert ensure_schema(con) == 0
    assert ensure_schema(con) == SCHEMA_VERSION
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchall() == [(1,)]
    con.close()


def _demo_batch(run_id: str) -> StagedBatch:
    base = "http://127.0.0.1:1"
    routes = render_site(base)
    spec = FeedSpec("demo-latest", base + RSS_PATH)
    feed = parse_feed(routes[RSS_PATH].body)
    now = datetime.now(UTC)
    poll = FeedPoll(spec, now, spec.url, ok=True, status=200, entries=feed.entries)
    records = []
    for e in feed.entries:
        assert e.link
        path = e.link.removeprefix(base).split("?")[0]
        article = extract_article(routes[path].body, url=e.link, entry=e)
        records.append(
            ArticleRecord(article, spec.name, ((spec.name, e),), now, 200, None, matches=())
        )
    return batch_of(run_id, spec, (poll,), tuple(records))


def test_loading_the_same_batch_twice_adds_nothing(db: Path) -> None:
    with Warehouse.open(db) as wh:
        first = wh.load(_demo_batch("run-1"))
        second = wh.load(_demo_batch("run-2"))
        counts = wh.con.execute(
            "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM articles),"
            " (SELECT count(DISTINCT article_id) FROM entries)"
        ).fetchall()[0]
    assert (first.new_entries, first.new_articles) == (13, 13)
    assert (second.new_entries, second.new_articles) == (0, 0)
    assert second.duplicate_articles == 13
    assert counts == (13, 13, 13)


@pytest.mark.slow  # the lock is held by another process
def test_a_locked_file_raises_a_clear_error(db: Path) -> None:
    with Warehouse.open(db):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseLockedError, match="held by another process"):
            connect(db)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    connect(db).close()  # usable again once released


def test_read_only_connection_refuses_writes(db: Path) -> None:
    with Warehouse.open(db):
        pass
    con = connect(db, read_only=True)
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DELETE FROM articles")
    con.close()


def _describe(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Everything about a schema that users and code rely on, order aside."""
    columns = con.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default, comment"
        " FROM duckdb_columns() WHERE NOT internal ORDER BY ALL"
    ).fetchall()
    constraints = con.execute(
        "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints()"
        " ORDER BY ALL"
    ).fetchall()
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY ALL"
    ).fetchall()
    return {"columns": columns, "constraints": constraints, "views": views}


def test_migrating_from_the_first_schema_equals_creating_fresh(tmp_path: Path) -> None:
    from warehouse.migrations import schema_sql

    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute(schema_sql(1))
    con.execute("INSERT INTO schema_migrations VALUES (1, now())")
    con.execute(
        "INSERT INTO feeds (feed_id, url, source, interval_seconds, created_at)"
        " VALUES ('f', 'https://a.example/rss', 'config', 900, now())"
    )
    con.execute(
        "INSERT INTO articles VALUES ('a1', 'u', 'u', 'https://a.example/1', 'h', 'a1', 'f',"
        " 'Title', NULL, NULL, 'en', NULL, 'text', 'extracted', 4, 200, NULL, now(), 'r')"
    )
    con.close()

    with Warehouse.open(old) as wh:
        migrated = _describe(wh.con)
        versions = wh.con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        feed = wh.con.execute(
            "SELECT url, config_url, fetch_pages, redirect_count FROM feeds"
        ).fetchall()
        article = wh.con.execute("SELECT title, cluster_id, signature FROM articles").fetchall()
    with Warehouse.open(tmp_path / "fresh.duckdb") as wh:
        fresh = _describe(wh.con)
    assert migrated == fresh
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    assert feed == [("https://a.example/rss", "https://a.example/rss", True, 0)]  # data kept
    assert article == [("Title", "a1", None)]


def test_a_failing_step_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    from warehouse.migrations import current_version, ensure_schema, schema_sql

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(schema_sql(1))
    con.execute("INSERT INTO schema_migrations VALUES (1, now())")
    # A leftover table where step 2 builds its new feeds table makes that step fail.
    con.execute("CREATE TABLE feeds__new (x INTEGER)")
    before = _describe(con)
    with pytest.raises(WarehouseError, match="rolled back"):
        ensure_schema(con)
    assert _describe(con) == before
    assert current_version(con) == 1
    con.close()


def test_migrated_rows_get_the_lookup_keys_the_writer_computes(tmp_path: Path) -> None:
    """Step 5 computes the integer keys in SQL; they must equal feedwatch's own, or
    the writer would not find (and would store twice) what was stored before."""
    from extractors.dedup import article_id, content_hash, entry_key, key64
    from warehouse.migrations import schema_sql

    url = "https://a.example/news/1"
    aid, text_hash = article_id(url), content_hash("Some text of the article.")
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute(schema_sql(1))
    con.execute("INSERT INTO schema_migrations VALUES (1, now())")
    con.execute(
        "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, 'f', 'T', NULL, NULL, 'en', NULL,"
        " 'Some text of the article.', 'extracted', 25, 200, NULL, now(), 'r')",
        [aid, url, url, url, text_hash, aid],
    )
    con.execute(
        "INSERT INTO entries VALUES ('f', 'tag:a.example,2024:1 ü', ?, 'T', NULL, NULL, NULL,"
        " NULL, ?, now(), 'r')",
        [url, aid],
    )
    con.close()

    with Warehouse.open(old) as wh:
        keys = wh.con.execute("SELECT url_key, text_key FROM articles").fetchall()
        entry = wh.con.execute("SELECT entry_key FROM entries").fetchall()
        assert wh.stored_canonical_urls([url]) == {url: aid}
        assert wh.stored_entries([("f", "tag:a.example,2024:1 ü")]) == {
            ("f", "tag:a.example,2024:1 ü")
        }
    assert keys == [(key64(aid), key64(text_hash))]
    assert entry == [(entry_key("f", "tag:a.example,2024:1 ü"),)]


def test_a_feed_is_stale_after_five_usual_gaps_and_two_days_at_least(tmp_path: Path) -> None:

    # (usual gap between entries in hours, days since the newest entry) → status
    cases = {(49, 3): "ok", (49, 11): "stale", (1, 1.5): "ok", (1, 3): "stale"}
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        for n, ((gap, quiet), _) in enumerate(cases.items()):
            feed = f"f{n}"
            wh.con.execute(
                "INSERT INTO feeds (feed_id, url, config_url, source, interval_seconds,"
                " last_polled_at, created_at) VALUES (?, 'u', 'u', 'config', 900, now(), now())",
                [feed],
            )
            for i in range(6):
                wh.con.execute(
                    "INSERT INTO entries (feed_id, guid, published_at, first_seen_at, run_id,"
                    " entry_key) VALUES (?, ?, now() - to_seconds(?), now(), 'r', ?)",
                    [feed, f"g{i}", int(quiet * 86400 + i * gap * 3600), n * 10 + i],
                )
        health = {h.feed_id: h.status for h in wh.feed_health()}
    assert health == {f"f{n}": status for n, status in enumerate(cases.values())}


def test_a_new_warehouse_is_readable_by_duckdb_1_5(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db) as wh:
        wh.con.execute("CHECKPOINT")
    header = db.read_bytes()[:20]
    # The file's storage version: DuckDB 1.5 reads up to 68; DuckDB 2's own format is
    # newer (a file made with its defaults reads 999 here).
    assert header[8:12] == b"DUCK"
    assert int.from_bytes(header[12:20], "little") <= 68
