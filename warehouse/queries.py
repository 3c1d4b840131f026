"""The read side: queries for the CLI, on short read-only connections."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from extractors.decide import topics_to_rescore
from extractors.errors import ConfigError, ReadOnlyError, WarehouseError
from extractors.models import FeedSpec, FeedState, Topic
from warehouse._duckdb import check_path, connect, is_read_only_violation, wrap_read_only

__all__ = [
    "STORED_SOURCES",
    "FeedHealth",
    "Result",
    "article_of",
    "check_path",
    "check_topic",
    "current_topics_of",
    "daily_counts_of",
    "feed_health",
    "feed_health_of",
    "feed_states_of",
    "feed_titles_of",
    "labelled_cases_of",
    "latest_hit_days_of",
    "new_stories_of",
    "read_session",
    "run_read_only",
    "stored_feeds_of",
    "stored_match_of",
    "top_hits_of",
    "topics_to_rescore_of",
]

STORED_SOURCES = ("cli", "opml")  # feeds added outside feeds.yaml, polled alongside it


@contextmanager
def read_session(db: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection (never the write lock); DuckDB errors become
    WarehouseError."""
    con = connect(db, read_only=True)
    try:
        yield con
    except duckdb.Error as e:
        raise WarehouseError(f"{db}: {e}") from e
    finally:
        con.close()


def feed_states_of(con: duckdb.DuckDBPyConnection) -> dict[str, FeedState]:
    rows = con.execute(
        "SELECT feed_id, url, config_url, etag, last_modified, next_due_at, error_count,"
        " disabled_reason, redirect_url, redirect_count FROM feeds"
    ).fetchall()
    return {r[0]: FeedState(*r) for r in rows}


def feed_titles_of(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Each feed's own title, as last read."""
    return dict(con.execute("SELECT feed_id, title FROM feeds").fetchall())


def stored_feeds_of(
    con: duckdb.DuckDBPyConnection, sources: Sequence[str] | None = None
) -> list[tuple[FeedSpec, str]]:
    """Feeds as stored, with their source; only those from `sources` when given."""
    rows = con.execute(
        "SELECT feed_id, config_url, interval_seconds, tags, fetch_pages, source FROM feeds"
        " WHERE ? IS NULL OR list_contains(?, source) ORDER BY feed_id",
        [sources, sources],
    ).fetchall()
    return [
        (FeedSpec(name, url, interval, tuple(tags or ()), fetch_pages), source)
        for name, url, interval, tags, fetch_pages, source in rows
    ]


def topics_to_rescore_of(con: duckdb.DuckDBPyConnection, topics: Sequence[Topic]) -> list[str]:
    """Those of these topics whose definition the stored articles were not matched with."""
    rescored = {
        (t, v): done
        for t, v, done in con.execute(
            "SELECT topic, version, rescored_at IS NOT NULL FROM topics"
        ).fetchall()
    }
    has_articles = bool(
        con.execute("SELECT count(*) FROM (FROM articles LIMIT 1)").fetchall()[0][0]
    )
    return topics_to_rescore(topics, rescored, has_articles)


Result = tuple[list[str], list[tuple[Any, ...]]]  # column names, rows


def run_read_only(db: str | Path, query: str, *, single: bool = False) -> list[Result]:
    """Run SQL on a read-only connection: each statement in turn, a result for each one
    that returns rows. Writes raise ReadOnlyError; SQL with no statement (empty, only
    comments) and, with single, more than one result raise ConfigError.

    Read-only is not enough on its own: COPY … TO, ATTACH and INSTALL would still
    write files (the warehouse's among them). DuckDB's external access is turned
    off, and the setting locked, before the query runs.
    """
    con = connect(db, read_only=True)
    try:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as e:
            raise ConfigError(f"SQL error: {e}") from e
        if not statements:
            raise ConfigError("no SQL statement given (only blanks, ';' or comments)")
        results: list[Result] = []
        for statement in statements:
            try:
                cursor = con.execute(statement)
            except duckdb.PermissionException as e:
                raise ReadOnlyError(
                    "feedwatch sql only reads the warehouse: files, other databases and"
                    " extensions are out of its reach; 'feedwatch export' writes files"
                    f" ({str(e).splitlines()[0]})"
                ) from e
            except duckdb.Error as e:
                if is_read_only_violation(e) or "configuration has been locked" in str(e):
                    raise wrap_read_only(e) from e
                raise ConfigError(f"SQL error: {e}") from e
            if cursor.description is not None:
                results.append(([d[0] for d in cursor.description], cursor.fetchall()))
        if single and len(results) > 1:
            raise ConfigError(
                f"this format writes one result, and the SQL has {len(results)} statements"
                " that return rows: run them one at a time, or use --format table"
            )
        return results
    finally:
        con.close()


def top_hits_of(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[dict[str, Any]]:
    """The strongest hits of the current topic versions, one per story."""
    cursor = con.execute(
        """
        SELECT topic, score, terms, snippet, title, link, published_at, outlet
        FROM (
            SELECT DISTINCT ON (topic, cluster_id) * FROM topic_hits
            ORDER BY topic, cluster_id, score DESC
        )
        ORDER BY score DESC, published_at DESC
        LIMIT ?
        """,
        [limit],
    )
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class FeedHealth:
    """One feed's health, as `feedwatch feeds status` and the run's artifact show it."""

    feed_id: str
    url: str
    source: str
    status: str  # ok, failing, stale, disabled, new
    error_count: int
    last_error: str | None
    disabled_reason: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    newest_entry_at: datetime | None
    usual_gap_hours: float | None
    next_due_at: datetime | None

    @property
    def needs_care(self) -> bool:
        return self.status in {"failing", "stale", "disabled"}

    @property
    def problem(self) -> str:
        if self.status == "disabled":
            return self.disabled_reason or "disabled"
        if self.status == "failing":
            if self.error_count == 1:
                return f"the last poll failed: {self.last_error}"
            return f"{self.error_count} failed polls in a row: {self.last_error}"
        if self.status == "stale":
            gap = f"{self.usual_gap_hours:.1f} h" if self.usual_gap_hours else "?"
            newest = f"{self.newest_entry_at:%Y-%m-%d}" if self.newest_entry_at else "never"
            return f"no new entry since {newest} (usual gap {gap})"
        return ""


def feed_health_of(con: duckdb.DuckDBPyConnection) -> list[FeedHealth]:
    """Every feed's health, from the feed_health view (schema.sql holds the rules)."""
    rows = con.execute(
        "SELECT feed_id, url, source, status, error_count, last_error, disabled_reason,"
        " last_polled_at, last_success_at, newest_entry_at, usual_gap_hours, next_due_at"
        " FROM feed_health ORDER BY feed_id"
    ).fetchall()
    return [FeedHealth(*row) for row in rows]


def feed_health(db: str | Path) -> list[FeedHealth]:
    with read_session(db) as con:
        return feed_health_of(con)


def new_stories_of(
    con: duckdb.DuckDBPyConnection, since: datetime, topic: str | None = None
) -> list[dict[str, Any]]:
    """Stories (clusters of copies) a current topic hit whose first copy arrived after
    `since`: the best-scoring copy of each, with how many copies there are.

    `words` are the matched words as the article wrote them ("North Korean's",
    "troops"), read from the text at each mention's offsets, for highlighting.
    """
    cursor = con.execute(
        """
        SELECT article_id, topic, score, title, link, outlet, published_at, snippet, terms, copies,
               first_seen, cluster_id,
               list_sort(list_distinct(list_filter(
                   [substring(CASE x.field WHEN 'title' THEN title ELSE text END,
                              x.start_offset + 1, x.end_offset - x.start_offset)
                    FOR x IN mentions],
                   lambda w: w <> ''))) AS words
        FROM (
            SELECT h.*, a.text, m.mentions,
                   count(*) OVER story AS copies,
                   min(a.fetched_at) OVER story AS first_seen,
                   row_number() OVER (story ORDER BY h.score DESC, a.fetched_at) AS rank
            FROM topic_hits h
            JOIN articles a USING (article_id)
            JOIN topic_matches m
              ON m.article_id = h.article_id AND m.topic = h.topic
             AND m.topic_version = h.topic_version
            WINDOW story AS (PARTITION BY h.topic, h.cluster_id)
        )
        WHERE rank = 1 AND first_seen >= ? AND (CAST(? AS VARCHAR) IS NULL OR topic = ?)
        ORDER BY topic, score DESC, published_at DESC
        """,
        [since, topic, topic],
    )
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def current_topics_of(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        t for (t,) in con.execute("SELECT topic FROM topics WHERE current ORDER BY 1").fetchall()
    ]


def check_topic(con: duckdb.DuckDBPyConnection, topic: str | None) -> None:
    """A topic asked for by name must be one of the current topics."""
    known = current_topics_of(con)
    if topic is not None and topic not in known:
        raise ConfigError(f"--topic {topic!r}: no such topic (known: {', '.join(known) or 'none'})")


def daily_counts_of(
    con: duckdb.DuckDBPyConnection, first_day: date, last_day: date
) -> dict[str, dict[date, int]]:
    """Hit articles per current topic per day (publication date, else fetch date), every
    current topic included, days without hits left out."""
    counts: dict[str, dict[date, int]] = {t: {} for t in current_topics_of(con)}
    rows = con.execute(
        "SELECT topic, day, articles FROM daily_topic_counts WHERE day BETWEEN ? AND ?",
        [first_day, last_day],
    ).fetchall()
    for topic, day, n in rows:
        counts.setdefault(topic, {})[day] = n
    return counts


def latest_hit_days_of(con: duckdb.DuckDBPyConnection) -> dict[str, date]:
    """The last day each current topic had a hit (publication date, else fetch date)."""
    rows = con.execute("SELECT topic, max(day) FROM daily_topic_counts GROUP BY topic").fetchall()
    return dict(rows)


def article_of(con: duckdb.DuckDBPyConnection, article: str) -> dict[str, Any]:
    """The stored article with this id, or with an id that starts so (at least 6
    characters, one article only): its id, title, text and where the text came from."""
    if len(article) < 6:
        raise ConfigError(f"{article!r}: give at least 6 characters of the article's id")
    rows = con.execute(
        "SELECT article_id, title, text, text_source, canonical_url FROM articles"
        " WHERE starts_with(article_id, ?) LIMIT 2",
        [article],
    ).fetchall()
    if not rows:
        raise ConfigError(f"{article!r}: no stored article has this id")
    if len(rows) > 1:
        raise ConfigError(f"{article!r}: several articles' ids start so; give more of it")
    keys = ("article_id", "title", "text", "text_source", "url")
    return dict(zip(keys, rows[0], strict=True))


def stored_match_of(
    con: duckdb.DuckDBPyConnection, article_id: str, topic: str
) -> dict[str, Any] | None:
    """The stored match of the current version of a topic, with the parts of its score."""
    cursor = con.execute(
        "SELECT score, matched, verdict, headline_points, lead_points, share_points,"
        " carrying_sentences, total_sentences, share, terms, snippet"
        " FROM current_topic_matches WHERE article_id = ? AND topic = ?",
        [article_id, topic],
    )
    columns = [d[0] for d in cursor.description or []]
    row = cursor.fetchone()
    return dict(zip(columns, row, strict=True)) if row else None


def labelled_cases_of(
    con: duckdb.DuckDBPyConnection, topic: str | None = None
) -> list[dict[str, Any]]:
    """Analysts' labels as evaluation cases: {id, title, text, labels: {topic: bool}}, one
    per article (articles whose text was pruned are left out: nothing to match)."""
    rows = con.execute(
        "SELECT l.article_id, a.title, a.text, map_from_entries(list((l.topic, l.label)))"
        " FROM topic_labels l JOIN articles a USING (article_id)"
        " WHERE (CAST(? AS VARCHAR) IS NULL OR l.topic = ?) AND a.text_source <> 'pruned'"
        " GROUP BY ALL ORDER BY 1",
        [topic, topic],
    ).fetchall()
    return [
        {"id": aid, "title": title or "", "text": text, "labels": dict(labels)}
        for aid, title, text, labels in rows
    ]
