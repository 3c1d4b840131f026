"""Export (Parquet or CSV, for long analyses away from the live file) and retention."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from extractors.errors import ConfigError
from warehouse._duckdb import connect, transaction
from warehouse.migrations import schema_sql
from warehouse.store import Warehouse

__all__ = ["INTERNAL", "export", "exported", "prune"]

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


def export(
    db: str | Path,
    out: str | Path,
    fmt: str,
    on_start: Callable[[int], None] | None = None,
    on_written: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write every table and view to `out` as Parquet or CSV; return rows per file.

    Nothing is created before the warehouse is open: a wrong --db leaves no empty
    folder. on_start(files) and on_written(name, rows) report progress.
    """
    if fmt not in {"parquet", "csv"}:
        raise ConfigError(f"--format must be parquet or csv, not {fmt!r}")
    queries = exported()
    con = connect(db, read_only=True)
    counts = {}
    try:
        folder = Path(out)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"--out {folder}: cannot create: {e.strerror or e}") from e
        if on_start:
            on_start(len(queries))
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
        for name, query in queries.items():
            target = folder / f"{name}.{fmt}"
            con.execute(f"COPY ({query}) TO '{_escape(target)}' ({options})")
            counts[name] = int(con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0])
            if on_written:
                on_written(name, counts[name])
    finally:
        con.close()
    return counts


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
