"""The read side: queries for the CLI, on short read-only connections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from extractors.decide import is_stale
from extractors.errors import ConfigError, WarehouseError
from warehouse._duckdb import connect, is_read_only_violation, wrap_read_only

__all__ = ["FeedHealth", "feed_health", "feed_health_of", "run_read_only", "top_hits"]


def run_read_only(db: str | Path, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run any SQL on a read-only connection; writes raise ReadOnlyError."""
    con = connect(db, read_only=True)
    try:
        try:
            cursor = con.execute(query)
        except duckdb.Error as e:
            if is_read_only_violation(e):
                raise wrap_read_only(e) from e
            raise ConfigError(f"SQL error: {e}") from e
        if cursor.description is None:
            return [], []
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    finally:
        con.close()


def top_hits(db: str | Path, limit: int = 10) -> list[dict[str, Any]]:
    """The strongest topic hits, newest version of each topic first."""
    con = connect(db, read_only=True)
    try:
        cursor = con.execute(
            """
            SELECT m.topic, m.score, m.terms, m.snippet, a.title, a.canonical_url,
                   a.published_at
            FROM topic_matches m JOIN articles a USING (article_id)
            WHERE m.matched
            ORDER BY m.score DESC, a.published_at DESC
            LIMIT ?
            """,
            [limit],
        )
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as e:
        raise WarehouseError(f"{db}: {e}") from e
    finally:
        con.close()


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
    def problem(self) -> str:
        if self.status == "disabled":
            return self.disabled_reason or "disabled"
        if self.status == "failing":
            return f"{self.error_count} failed polls in a row: {self.last_error}"
        if self.status == "stale":
            gap = f"{self.usual_gap_hours:.1f} h" if self.usual_gap_hours else "?"
            newest = f"{self.newest_entry_at:%Y-%m-%d}" if self.newest_entry_at else "never"
            return f"no new entry since {newest} (usual gap {gap})"
        return ""


_HEALTH_SQL = """
WITH recent AS (
    SELECT feed_id, coalesce(published_at, first_seen_at) AS t,
           row_number() OVER (PARTITION BY feed_id ORDER BY coalesce(published_at, first_seen_at) DESC) AS n
    FROM entries
),
gaps AS (
    SELECT feed_id, epoch(t) - epoch(lag(t) OVER (PARTITION BY feed_id ORDER BY t)) AS gap
    FROM recent WHERE n <= 30
),
usual AS (
    SELECT feed_id, median(gap) AS gap, count(*) AS n FROM gaps WHERE gap IS NOT NULL GROUP BY feed_id
),
newest AS (SELECT feed_id, max(t) AS newest FROM recent GROUP BY feed_id)
SELECT f.feed_id, f.url, f.source, f.error_count, f.last_error, f.disabled_reason,
       f.last_polled_at, f.last_success_at, newest.newest,
       CASE WHEN usual.n >= 3 THEN usual.gap END, f.next_due_at
FROM feeds f LEFT JOIN usual USING (feed_id) LEFT JOIN newest USING (feed_id)
ORDER BY f.feed_id
"""


def feed_health_of(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> list[FeedHealth]:
    now = now or datetime.now(UTC)
    out = []
    for row in con.execute(_HEALTH_SQL).fetchall():
        (feed_id, url, source, errors, last_error, disabled, polled, success, newest, gap, due) = (
            row
        )
        if disabled:
            status = "disabled"
        elif errors:
            status = "failing"
        elif polled is None:
            status = "new"
        elif is_stale(newest, gap, now):
            status = "stale"
        else:
            status = "ok"
        out.append(
            FeedHealth(
                feed_id,
                url,
                source,
                status,
                errors,
                last_error,
                disabled,
                polled,
                success,
                newest,
                round(gap / 3600, 2) if gap is not None else None,
                due,
            )
        )
    return out


def feed_health(db: str | Path) -> list[FeedHealth]:
    con = connect(db, read_only=True)
    try:
        return feed_health_of(con)
    except duckdb.Error as e:
        raise WarehouseError(f"{db}: {e}") from e
    finally:
        con.close()
