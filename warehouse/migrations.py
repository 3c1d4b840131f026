"""Creating and upgrading the warehouse schema.

schema.sql is the schema of the current version: a new warehouse gets it
whole. An older one is upgraded by numbered steps, each in one transaction
and recorded in `schema_migrations`, so a step that fails leaves the
warehouse as it was. A warehouse written by a newer feedwatch is refused
rather than guessed at. Steps are frozen history: to change the schema, edit
schema.sql and add a step that takes the previous version there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources

import duckdb

from extractors.errors import WarehouseError
from warehouse._duckdb import transaction

__all__ = ["SCHEMA_VERSION", "column_comments", "ensure_schema", "schema_sql"]

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.DOTALL)
_COLUMN = re.compile(r"^\s+(\w+)\s+[A-Z].*?--\s*(.+?)\s*$")
_VIEW = re.compile(r"CREATE OR REPLACE VIEW .*?;", re.DOTALL)


def schema_sql(version: int | None = None) -> str:
    name = "schema_v1.sql" if version == 1 else "schema.sql"
    return resources.files("warehouse").joinpath(name).read_text(encoding="utf-8")


def column_comments(sql: str | None = None) -> dict[tuple[str, str], str]:
    """(table, column) → the comment written beside the column in schema.sql."""
    comments: dict[tuple[str, str], str] = {}
    for table, body in _TABLE.findall(sql or schema_sql()):
        for line in body.splitlines():
            m = _COLUMN.match(line)
            if m and m.group(1) != "PRIMARY":
                comments[(table, m.group(1))] = m.group(2)
    return comments


def _rebuild(con: duckdb.DuckDBPyConnection, table: str, ddl: str, select: str) -> None:
    """Give a table new columns in place: DuckDB cannot add constrained columns to a
    table with an index inside a transaction, so copy into a new table and swap."""
    con.execute(ddl.replace(f"CREATE TABLE {table} ", f"CREATE TABLE {table}__new ", 1))
    con.execute(f"INSERT INTO {table}__new {select}")
    con.execute(f"DROP TABLE {table}")
    con.execute(f"ALTER TABLE {table}__new RENAME TO {table}")


def _step_2_polling(con: duckdb.DuckDBPyConnection) -> None:
    """Conditional GET, moves and per-feed page fetching (feeds), final URLs (feed_fetches)."""
    _rebuild(
        con,
        "feeds",
        """CREATE TABLE feeds (
            feed_id VARCHAR PRIMARY KEY, url VARCHAR NOT NULL, config_url VARCHAR NOT NULL,
            source VARCHAR NOT NULL, tags VARCHAR[], interval_seconds INTEGER NOT NULL,
            fetch_pages BOOLEAN NOT NULL DEFAULT true, title VARCHAR, site_url VARCHAR,
            etag VARCHAR, last_modified VARCHAR, last_polled_at TIMESTAMPTZ,
            last_success_at TIMESTAMPTZ, last_new_entry_at TIMESTAMPTZ, next_due_at TIMESTAMPTZ,
            error_count INTEGER NOT NULL DEFAULT 0, last_error VARCHAR, disabled_reason VARCHAR,
            redirect_url VARCHAR, redirect_count INTEGER NOT NULL DEFAULT 0,
            created_at TIMESTAMPTZ NOT NULL)""",
        """SELECT feed_id, url, url, source, tags, interval_seconds, true, title, site_url, etag,
                  last_modified, last_polled_at, last_success_at, last_new_entry_at, next_due_at,
                  error_count, last_error, disabled_reason, NULL, 0, created_at FROM feeds""",
    )
    _rebuild(
        con,
        "feed_fetches",
        """CREATE TABLE feed_fetches (
            run_id VARCHAR NOT NULL, feed_id VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL,
            url VARCHAR NOT NULL, final_url VARCHAR, status INTEGER, ok BOOLEAN NOT NULL,
            bytes BIGINT, entries_seen INTEGER, new_entries INTEGER, duration_ms DOUBLE,
            error VARCHAR)""",
        """SELECT run_id, feed_id, fetched_at, url, NULL, status, ok, bytes, entries_seen,
                  new_entries, duration_ms, error FROM feed_fetches""",
    )


def _step_3_topic_versions(con: duckdb.DuckDBPyConnection) -> None:
    """Topic versions, for re-scoring stored articles when a topic changes."""
    con.execute(
        """CREATE TABLE topics (
            topic VARCHAR NOT NULL, version VARCHAR NOT NULL, query VARCHAR NOT NULL,
            min_score DOUBLE NOT NULL, min_sentences INTEGER NOT NULL, description VARCHAR,
            first_seen_at TIMESTAMPTZ NOT NULL, current BOOLEAN NOT NULL,
            rescored_at TIMESTAMPTZ, PRIMARY KEY (topic, version))"""
    )


def _step_4_near_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    """MinHash signatures and LSH bands for clustering near-duplicate articles."""
    _rebuild(
        con,
        "articles",
        """CREATE TABLE articles (
            article_id VARCHAR PRIMARY KEY, url VARCHAR NOT NULL, final_url VARCHAR NOT NULL,
            canonical_url VARCHAR NOT NULL UNIQUE, content_hash VARCHAR NOT NULL,
            cluster_id VARCHAR NOT NULL, signature BLOB, feed_id VARCHAR NOT NULL,
            title VARCHAR, author VARCHAR, published_at TIMESTAMPTZ, language VARCHAR,
            site_name VARCHAR, text VARCHAR NOT NULL, text_source VARCHAR NOT NULL,
            text_chars INTEGER NOT NULL, fetch_status INTEGER, fetch_error VARCHAR,
            fetched_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL)""",
        """SELECT article_id, url, final_url, canonical_url, content_hash, cluster_id, NULL,
                  feed_id, title, author, published_at, language, site_name, text, text_source,
                  text_chars, fetch_status, fetch_error, fetched_at, run_id FROM articles""",
    )
    con.execute(
        "CREATE TABLE article_bands (band TINYINT NOT NULL, hash BIGINT NOT NULL,"
        " article_id VARCHAR NOT NULL, stored_on DATE NOT NULL)"
    )


def _step_5_integer_keys(con: duckdb.DuckDBPyConnection) -> None:
    """64-bit integer lookup keys for entries and articles (also in article_bands), and
    no indexes on the large tables: the writer's own checks keep their keys unique."""
    # feedwatch's ids and hashes are hex; anything else (edited by hand) gets a hash.
    key = "coalesce(TRY_CAST('0x' || left({0}, 16) AS UBIGINT), hash({0}))"
    _rebuild(
        con,
        "articles",
        """CREATE TABLE articles (
            article_id VARCHAR NOT NULL, url VARCHAR NOT NULL, final_url VARCHAR NOT NULL,
            canonical_url VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
            cluster_id VARCHAR NOT NULL, signature BLOB, feed_id VARCHAR NOT NULL,
            title VARCHAR, author VARCHAR, published_at TIMESTAMPTZ, language VARCHAR,
            site_name VARCHAR, text VARCHAR NOT NULL, text_source VARCHAR NOT NULL,
            text_chars INTEGER NOT NULL, fetch_status INTEGER, fetch_error VARCHAR,
            fetched_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL,
            url_key UBIGINT NOT NULL, text_key UBIGINT)""",
        f"""SELECT *, {key.format("article_id")},
                   CASE WHEN content_hash <> '' THEN {key.format("content_hash")} END
            FROM articles""",
    )
    _rebuild(
        con,
        "entries",
        """CREATE TABLE entries (
            feed_id VARCHAR NOT NULL, guid VARCHAR NOT NULL, link VARCHAR, title VARCHAR,
            author VARCHAR, published_at TIMESTAMPTZ, summary VARCHAR, content VARCHAR,
            article_id VARCHAR, first_seen_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL,
            entry_key UBIGINT NOT NULL)""",
        f"SELECT *, {key.format('sha256(feed_id || chr(0) || guid)')} FROM entries",
    )
    _rebuild(
        con,
        "topic_matches",
        """CREATE TABLE topic_matches (
            article_id VARCHAR NOT NULL, topic VARCHAR NOT NULL, topic_version VARCHAR NOT NULL,
            score DOUBLE NOT NULL, matched BOOLEAN NOT NULL, terms VARCHAR[] NOT NULL,
            snippet VARCHAR,
            mentions STRUCT(term VARCHAR, field VARCHAR, start_offset INTEGER,
                            end_offset INTEGER, snippet VARCHAR)[] NOT NULL,
            matched_at TIMESTAMPTZ NOT NULL)""",
        "SELECT * FROM topic_matches",
    )
    con.execute(
        "CREATE TABLE article_bands__new (band TINYINT NOT NULL, hash BIGINT NOT NULL,"
        " url_key UBIGINT NOT NULL, stored_on DATE NOT NULL)"
    )
    con.execute(
        "INSERT INTO article_bands__new SELECT band, hash, a.url_key, stored_on"
        " FROM article_bands JOIN articles a USING (article_id)"
    )
    con.execute("DROP TABLE article_bands")
    con.execute("ALTER TABLE article_bands__new RENAME TO article_bands")


def _step_6_views(con: duckdb.DuckDBPyConnection) -> None:
    """Tables unchanged; feed_health's stale rule fixed. Views are remade by _finish."""


def _step_7_explained_scores(con: duckdb.DuckDBPyConnection) -> None:
    """The parts of every topic score (topic_matches), each version's weights (topics),
    and analysts' labels (topic_labels). Stored matches keep NULL parts until a rescore."""
    for column, kind in (
        ("headline_points", "DOUBLE"),
        ("lead_points", "DOUBLE"),
        ("share_points", "DOUBLE"),
        ("carrying_sentences", "INTEGER"),
        ("total_sentences", "INTEGER"),
        ("share", "DOUBLE"),
        ("verdict", "VARCHAR"),
    ):
        con.execute(f"ALTER TABLE topic_matches ADD COLUMN {column} {kind}")
    _rebuild(
        con,
        "topics",
        """CREATE TABLE topics (
            topic VARCHAR NOT NULL, version VARCHAR NOT NULL, query VARCHAR NOT NULL,
            min_score DOUBLE NOT NULL, min_sentences INTEGER NOT NULL, description VARCHAR,
            first_seen_at TIMESTAMPTZ NOT NULL, current BOOLEAN NOT NULL,
            rescored_at TIMESTAMPTZ, headline_weight DOUBLE, lead_weight DOUBLE,
            share_weight DOUBLE, lead_sentences INTEGER, PRIMARY KEY (topic, version))""",
        "SELECT *, NULL, NULL, NULL, NULL FROM topics",
    )
    con.execute(
        """CREATE TABLE topic_labels (
            article_id VARCHAR NOT NULL, topic VARCHAR NOT NULL, label BOOLEAN NOT NULL,
            note VARCHAR, labelled_by VARCHAR NOT NULL, labelled_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (article_id, topic))"""
    )


# Step n takes a warehouse from version n - 1 to version n.
STEPS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    2: _step_2_polling,
    3: _step_3_topic_versions,
    4: _step_4_near_duplicates,
    5: _step_5_integer_keys,
    6: _step_6_views,
    7: _step_7_explained_scores,
}
SCHEMA_VERSION = max(STEPS)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    # Always fetchall(): DuckDB 2 refuses new work on a connection with an unfinished result.
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    version = con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0]
    return int(version) if version is not None else 0


def _finish(con: duckdb.DuckDBPyConnection, version: int) -> None:
    """Record the version reached; at the current version, views and column comments
    are (re)made from schema.sql, so they always read as it does."""
    if version == SCHEMA_VERSION:
        sql = schema_sql()
        for view in _VIEW.findall(sql):
            con.execute(view)
        for (table, column), comment in column_comments(sql).items():
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_quote(comment)}")
    con.execute("INSERT INTO schema_migrations VALUES (?, now())", [version])


def ensure_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the warehouse to SCHEMA_VERSION; return the version it had before."""
    before = current_version(con)
    if before > SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse is at schema version {before}, newer than this feedwatch "
            f"understands ({SCHEMA_VERSION}): upgrade feedwatch before opening it"
        )
    if before == 0:
        with transaction(con):
            con.execute(schema_sql())
            _finish(con, SCHEMA_VERSION)
        return before
    for version in range(before + 1, SCHEMA_VERSION + 1):
        with transaction(con):
            STEPS[version](con)
            _finish(con, version)
    return before


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
