"""A poll batch made ready for the writer: Arrow columns, lookup keys and LSH bands.

All of it is pure work with no warehouse involved, done before the writer
takes the warehouse's lock, so the lock is held only for lookups and inserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from extractors.dedup import NUM_PERM, band_matrix, entry_key, key64, signature_matrix
from extractors.dedup import article_id as make_article_id
from extractors.models import PollBatch
from warehouse.migrations import schema_sql

__all__ = ["StagedBatch", "stage", "table_schema"]

_SIGNATURE_BYTES = (NUM_PERM + 1) * 8


@dataclass(frozen=True)
class StagedBatch:
    """A PollBatch with its rows as Arrow tables typed like the warehouse's tables."""

    batch: PollBatch
    # One row per batch.articles record, in order; article_id is the canonical URL's
    # hash and cluster_id the article itself, until the writer knows better.
    articles: pa.Table
    # One row per distinct batch.new_entries pair, in order (the first of each).
    entries: pa.Table
    signed: np.ndarray  # indices of the articles with a signature, and their:
    sizes: np.ndarray  # shingle counts (len(signed),)
    values: np.ndarray  # MinHash values (len(signed), NUM_PERM)
    bands: np.ndarray  # LSH band hashes (len(signed), BANDS)
    shared: list[tuple[int, int]]  # (later, earlier) rows of those sharing a band


@cache
def table_schema(table: str) -> pa.Schema:
    """The Arrow schema of a warehouse table, read from schema.sql (the one source of types)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(schema_sql())
        return con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema
    finally:
        con.close()


def stage(batch: PollBatch) -> StagedBatch:
    """Convert a batch for the writer (no warehouse needed)."""
    records = batch.articles
    arts = [r.article for r in records]
    aids = [make_article_id(a.canonical_url) for a in arts]
    articles = _table(
        "articles",
        {
            "article_id": aids,
            "url": [a.url for a in arts],
            "final_url": [a.final_url for a in arts],
            "canonical_url": [a.canonical_url for a in arts],
            "content_hash": [a.content_hash for a in arts],
            "cluster_id": aids,
            "signature": [a.signature or None for a in arts],
            "feed_id": [r.feed_id for r in records],
            "title": [a.title for a in arts],
            "author": [a.author for a in arts],
            "published_at": [a.published for a in arts],
            "language": [a.language for a in arts],
            "site_name": [a.site_name for a in arts],
            "text": [a.text for a in arts],
            "text_source": [a.text_source for a in arts],
            "text_chars": [len(a.text) for a in arts],
            "fetch_status": [r.fetch_status for r in records],
            "fetch_error": [r.fetch_error for r in records],
            "fetched_at": [r.fetched_at for r in records],
            "run_id": [batch.run_id] * len(records),
            "url_key": [key64(aid) for aid in aids],
            "text_key": [key64(a.content_hash) if a.content_hash else None for a in arts],
        },
    )
    # Each entry once, pointing to the article its page gave (or the stored one it
    # was linked to); the writer corrects those whose article turns out to be a copy.
    article_of = {(f, g): a for f, g, a in batch.linked}
    for r, aid in zip(records, aids, strict=True):
        for feed_id, entry in r.entries:
            article_of[(feed_id, entry.guid)] = aid
    pairs = batch.new_entries  # each (feed, GUID) once: extractors.plan.new_entries
    entries = _table(
        "entries",
        {
            "feed_id": [f for f, _ in pairs],
            "guid": [e.guid for _, e in pairs],
            "link": [e.link for _, e in pairs],
            "title": [e.title for _, e in pairs],
            "author": [e.author for _, e in pairs],
            "published_at": [e.published for _, e in pairs],
            "summary": [e.summary for _, e in pairs],
            "content": [e.content for _, e in pairs],
            "article_id": [article_of.get((f, e.guid)) for f, e in pairs],
            "first_seen_at": [batch.started_at] * len(pairs),
            "run_id": [batch.run_id] * len(pairs),
            "entry_key": [entry_key(f, e.guid) for f, e in pairs],
        },
    )
    signed = [i for i, a in enumerate(arts) if len(a.signature) == _SIGNATURE_BYTES]
    sizes, values = signature_matrix([arts[i].signature for i in signed])
    bands = band_matrix(values)
    return StagedBatch(
        batch,
        articles,
        entries,
        np.array(signed, dtype=np.int64),
        sizes,
        values,
        bands,
        sorted(_shared_bands(bands)),
    )


def _table(table: str, columns: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pydict(columns, schema=table_schema(table))


def _shared_bands(bands: np.ndarray) -> set[tuple[int, int]]:
    """(later, earlier) row pairs of a band matrix that share any band hash."""
    pairs: set[tuple[int, int]] = set()
    for column in bands.T:
        _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
        for group in np.flatnonzero(counts > 1):
            rows = np.flatnonzero(inverse == group)
            pairs.update((int(b), int(a)) for i, a in enumerate(rows) for b in rows[i + 1 :])
    return pairs
