"""The read side: queries for the CLI, on short read-only connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from extractors.errors import ConfigError, WarehouseError
from warehouse._duckdb import connect, is_read_only_violation, wrap_read_only

__all__ = ["run_read_only", "top_hits"]


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
