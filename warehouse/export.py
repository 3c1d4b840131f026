"""Export (Parquet or CSV, for long analyses away from the live file) and retention."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from extractors.errors import ConfigError
from warehouse._duckdb import connect, transaction
from warehouse.store import Warehouse

__all__ = ["EXPORTED", "export", "parse_age", "prune"]

# Tables and views analysts work with; signatures and LSH bands are internal.
EXPORTED = {
    "feeds": "SELECT * FROM feeds",
    "feed_fetches": "SELECT * FROM feed_fetches",
    "entries": "SELECT * FROM entries",
    "articles": "SELECT * EXCLUDE (signature) FROM articles",
    "topic_matches": "SELECT * FROM topic_matches",
    "topics": "SELECT * FROM topics",
    "runs": "SELECT * FROM runs",
    "topic_hits": "SELECT * FROM topic_hits",
    "daily_topic_counts": "SELECT * FROM daily_topic_counts",
    "story_clusters": "SELECT * FROM story_clusters",
    "feed_health": "SELECT * FROM feed_health",
}
_AGE = re.compile(r"^\s*(\d+)\s*([dwy])\s*$")


def export(
    db: str | Path,
    out: str | Path,
    fmt: str,
    on_written: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write every table and view to `out` as Parquet or CSV; return rows per file.
    on_written(name, rows) is called after each file (for progress)."""
    if fmt not in {"parquet", "csv"}:
        raise ConfigError(f"--format must be parquet or csv, not {fmt!r}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    con = connect(db, read_only=True)
    counts = {}
    try:
        for name, query in EXPORTED.items():
            target = folder / f"{name}.{fmt}"
            options = (
                "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
            )
            con.execute(f"COPY ({query}) TO '{_escape(target)}' ({options})")
            counts[name] = int(con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0])
            if on_written:
                on_written(name, counts[name])
    finally:
        con.close()
    return counts


def parse_age(value: str) -> timedelta:
    """'180d' → 180 days; w for weeks, y for years (365 days)."""
    m = _AGE.match(value)
    if not m:
        raise ConfigError(f"--older-than: {value!r} is not an age such as 90d, 12w or 1y")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(days=n * {"d": 1, "w": 7, "y": 365}[unit])


def prune(db: str | Path, older_than: timedelta, *, now: datetime | None = None) -> dict[str, int]:
    """Drop the text of articles fetched before the cutoff, and their entries' feed text.

    What deduplication and analysis need stays: URLs, content hashes, MinHash
    signatures and clusters (so a copy arriving later still joins its story),
    titles, metadata and topic matches with their snippets.
    """
    cutoff = (now or datetime.now(UTC)) - older_than
    with Warehouse.open(db) as wh:
        con = wh.con
        with transaction(con):
            articles = con.execute(
                "UPDATE articles SET text = '', text_source = 'pruned'"
                " WHERE fetched_at < ? AND text_source <> 'pruned'",
                [cutoff],
            ).fetchall()[0][0]
            entries = con.execute(
                "UPDATE entries SET summary = NULL, content = NULL"
                " WHERE first_seen_at < ? AND (summary IS NOT NULL OR content IS NOT NULL)",
                [cutoff],
            ).fetchall()[0][0]
        con.execute("CHECKPOINT")  # give the space back to the file
    return {"articles": int(articles), "entries": int(entries)}


def _escape(path: Path) -> str:
    return str(path).replace("'", "''")
