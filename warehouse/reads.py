"""What analysts read from the DuckDB warehouse: stories, hits, daily counts, one
article and its verdicts, their own SQL (read-only, no files reached), exports."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from extractors.errors import ConfigError, OutsideReachError
from warehouse._duckdb import is_read_only_violation, wrap_read_only
from warehouse._session import Session
from warehouse.api import Result
from warehouse.migrations import schema_sql

__all__ = ["INTERNAL", "Reads", "exported"]

# What analysts work with is every table and view of schema.sql but these: the
# migrations' bookkeeping and the near-duplicate index, and the MinHash signatures.
INTERNAL = ("schema_migrations", "article_bands")
_EXCLUDED_COLUMNS = {"articles": "signature"}


def exported() -> dict[str, str]:
    """name → query of every table and view an export writes, in schema.sql's order."""
    names = re.findall(r"^CREATE (?:TABLE IF NOT EXISTS|OR REPLACE VIEW) (\w+)", schema_sql(), re.M)
    return {
        n: f"SELECT * EXCLUDE ({_EXCLUDED_COLUMNS[n]}) FROM {n}"
        if n in _EXCLUDED_COLUMNS
        else f"SELECT * FROM {n}"
        for n in names
        if n not in INTERNAL
    }


class Reads(Session):
    def article(self, article: str) -> dict[str, Any]:
        """The stored article with this id, or with an id that starts so (at least 6
        characters, one article only): its id, title, text and where the text came from."""
        if len(article) < 6:
            raise ConfigError(f"{article!r}: give at least 6 characters of the article's id")
        rows = self._dicts(
            "SELECT article_id, title, text, text_source, canonical_url AS url FROM articles"
            " WHERE starts_with(article_id, ?) LIMIT 2",
            [article],
        )
        if not rows:
            raise ConfigError(f"{article!r}: no stored article has this id")
        if len(rows) > 1:
            raise ConfigError(f"{article!r}: several articles' ids start so; give more of it")
        return rows[0]

    def stored_match(self, article_id: str, topic: str) -> dict[str, Any] | None:
        """The stored match of the current version of a topic, with the parts of its score."""
        rows = self._dicts(
            "SELECT score, matched, verdict, headline_points, lead_points, share_points,"
            " carrying_sentences, total_sentences, share, terms, snippet"
            " FROM current_topic_matches WHERE article_id = ? AND topic = ?",
            [article_id, topic],
        )
        return rows[0] if rows else None

    def review_items(self, topic: str, limit: int = 50) -> dict[str, list[dict[str, Any]]]:
        """What an analyst reviews for a topic (current version): its most recent hits,
        and its near-misses, the best scores under the threshold where the query held
        somewhere; one copy of each story, each with the analyst's verdict if any."""
        sql = """
            SELECT m.article_id, a.title, m.snippet, a.canonical_url AS link,
                   coalesce(a.site_name, f.title,
                            regexp_extract(a.canonical_url, '^https?://([^/]+)', 1)) AS outlet,
                   coalesce(a.published_at, a.fetched_at) AS published_at,
                   m.score, m.matched, m.verdict, l.label, l.labelled_by
            FROM current_topic_matches m
            JOIN articles a USING (article_id)
            LEFT JOIN feeds f ON f.feed_id = a.feed_id
            LEFT JOIN topic_labels l ON l.article_id = m.article_id AND l.topic = m.topic
            WHERE m.topic = ? AND m.matched = ? AND (m.matched OR m.carrying_sentences > 0)
            QUALIFY row_number() OVER (PARTITION BY a.cluster_id ORDER BY m.score DESC,
                                       a.fetched_at, m.article_id) = 1
            ORDER BY {order} LIMIT ?
        """
        return {
            "hits": self._dicts(
                sql.format(order="published_at DESC, m.score DESC"), [topic, True, limit]
            ),
            "near_misses": self._dicts(
                sql.format(order="m.score DESC, published_at DESC"), [topic, False, limit]
            ),
        }

    def top_hits(self, limit: int = 10) -> list[dict[str, Any]]:
        """The strongest stories of the current topic versions (one row each)."""
        return self._dicts(
            "SELECT topic, score, terms, snippet, title, link, published_at, outlet"
            " FROM topic_stories ORDER BY score DESC, published_at DESC LIMIT ?",
            [limit],
        )

    def new_stories(self, since: datetime, topic: str | None = None) -> list[dict[str, Any]]:
        """Stories a current topic hit whose first copy arrived after `since`: the best
        copy of each (topic_stories), with how many copies there are.

        `words` are the matched words as the article wrote them ("North Korean's",
        "troops"), read from the text at each mention's offsets, for highlighting.
        """
        return self._dicts(
            """
            SELECT s.article_id, s.topic, s.score, s.title, s.link, s.outlet, s.published_at,
                   s.snippet, s.terms, s.copies, s.first_seen, s.cluster_id,
                   list_sort(list_distinct(list_filter(
                       [substring(CASE x.field WHEN 'title' THEN a.title ELSE a.text END,
                                  x.start_offset + 1, x.end_offset - x.start_offset)
                        FOR x IN m.mentions],
                       lambda w: w <> ''))) AS words
            FROM topic_stories s
            JOIN articles a USING (article_id)
            JOIN topic_matches m ON m.article_id = s.article_id AND m.topic = s.topic
                                AND m.topic_version = s.topic_version
            WHERE s.first_seen >= ? AND (CAST(? AS VARCHAR) IS NULL OR s.topic = ?)
            ORDER BY s.topic, s.score DESC, s.published_at DESC
            """,
            [since, topic, topic],
        )

    def reported_figures(
        self, topic: str, since: datetime | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """The figures a current topic's hits reported since `since`, each story once
        (the reported_figures view), oldest first."""
        return self._dicts(
            """
            SELECT kind, value, low, high, hedge, counted, source, sentence, story,
                   reported_at, title, link, outlet, article_id
            FROM reported_figures
            WHERE topic = ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR reported_at >= ?)
              AND (CAST(? AS VARCHAR) IS NULL OR kind = ?)
            ORDER BY kind, reported_at, story
            """,
            [topic, since, since, kind, kind],
        )

    def daily_counts(self, first_day: date, last_day: date) -> dict[str, dict[date, int]]:
        """Hit articles per current topic per day (publication date, else fetch date),
        every current topic included, days without hits left out."""
        counts: dict[str, dict[date, int]] = {t: {} for t in self.current_topics()}
        rows = self.con.execute(
            "SELECT topic, day, articles FROM daily_topic_counts WHERE day BETWEEN ? AND ?",
            [first_day, last_day],
        ).fetchall()
        for topic, day, n in rows:
            counts.setdefault(topic, {})[day] = n
        return counts

    def latest_hit_days(self) -> dict[str, date]:
        """The last day each current topic had a hit (publication date, else fetch date)."""
        sql = "SELECT topic, max(day) FROM daily_topic_counts GROUP BY topic"
        return dict(self.con.execute(sql).fetchall())

    def current_topics(self) -> list[str]:
        rows = self.con.execute("SELECT topic FROM topics WHERE current ORDER BY 1").fetchall()
        return [t for (t,) in rows]

    def query(self, sql: str) -> list[Result]:
        """An analyst's SQL, each statement in turn: a result for each one that returns
        rows. Writes raise ReadOnlyError; SQL with no statement (empty, only comments)
        raises ConfigError.

        Read-only is not enough on its own: COPY … TO, ATTACH and INSTALL would still
        write files (the warehouse's among them). DuckDB's external access is turned
        off, and the setting locked, before the query runs: this session reads no file
        after it. A lake's session may read its own data files and nothing else; COPY
        and EXPORT are refused outright (they would write there).
        """
        if self.data_path:
            folder = self.data_path.replace("'", "''")
            self.con.execute(f"SET allowed_directories = ['{folder}']")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as e:
            raise ConfigError(f"SQL error: {e}") from e
        if not statements:
            raise ConfigError("no SQL statement given (only blanks, ';' or comments)")
        results: list[Result] = []
        for statement in statements:
            if statement.type in (duckdb.StatementType.COPY, duckdb.StatementType.EXPORT):
                raise OutsideReachError(
                    f"reads stay inside the warehouse: {statement.type.name} writes files"
                )
            try:
                cursor = self.con.execute(statement)
            except duckdb.PermissionException as e:
                raise OutsideReachError(
                    "reads stay inside the warehouse: files, other databases and"
                    f" extensions are out of reach ({str(e).splitlines()[0]})"
                ) from e
            except duckdb.Error as e:
                if is_read_only_violation(e) or "configuration has been locked" in str(e):
                    raise wrap_read_only(e) from e
                raise ConfigError(f"SQL error: {e}") from e
            if cursor.description is not None:
                results.append(([d[0] for d in cursor.description], cursor.fetchall()))
        return results

    def export(
        self,
        folder: Path,
        fmt: str,
        on_start: Callable[[int], None] | None = None,
        on_written: Callable[[str, int], None] | None = None,
    ) -> dict[str, int]:
        """Write every table and view to `folder` as Parquet or CSV; rows per file.
        on_start(files) and on_written(name, rows) report progress."""
        queries = exported()
        folder.mkdir(parents=True, exist_ok=True)
        if on_start:
            on_start(len(queries))
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
        counts = {}
        for name, query in queries.items():
            target = str(folder / f"{name}.{fmt}").replace("'", "''")
            self.con.execute(f"COPY ({query}) TO '{target}' ({options})")
            counts[name] = int(self.con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0])
            if on_written:
                on_written(name, counts[name])
        return counts
