"""Articles and entries of the DuckDB warehouse: lookups by integer key, inserts,
the near-duplicate index (LSH bands), and retention. Which pages are copies and
which story a new article joins are decided in extractors.dedup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from extractors.dedup import (
    BANDS,
    CLUSTER_WINDOW_DAYS,
    assign_clusters,
    entry_key,
    identify,
    key64,
)
from extractors.dedup import article_id as make_article_id
from extractors.models import ArticleRecord
from warehouse._duckdb import transaction
from warehouse._session import Session
from warehouse.api import LoadResult
from warehouse.staging import StagedBatch

__all__ = ["ArticleStore", "Stored"]

# Of the batch's articles: canonical URL → the id it is stored under; id → cluster of
# those new; and the batch's own id → the stored one, for copies.
Stored = tuple[dict[str, str], dict[str, str], dict[str, str]]


class ArticleStore(Session):
    def stored_entries(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of these (feed_id, guid) pairs already stored (a semi-join on the integer
        key, so only the matching rows' strings are read)."""
        if not pairs:
            return set()
        keys = pa.array([entry_key(f, g) for f, g in pairs], pa.uint64())
        self.con.register("entry_keys", pa.table({"entry_key": keys}))
        rows = self.con.execute(
            "SELECT feed_id, guid FROM entries WHERE entry_key IN (SELECT entry_key FROM entry_keys)"
        ).fetchall()
        return {(f, g) for f, g in rows} & set(pairs)

    def stored_canonical_urls(self, urls: Sequence[str]) -> dict[str, str]:
        """canonical_url → article_id for those of these URLs already stored."""
        if not urls:
            return {}
        unique = list(set(urls))
        keys = pa.array([key64(make_article_id(u)) for u in unique], pa.uint64())
        table = pa.table({"url_key": keys, "canonical_url": unique})
        return {url: aid for aid, url, _ in self._stored_by_key("url_key", table)}

    def _stored_by_key(self, key: str, table: pa.Table) -> list[tuple[str, str, str]]:
        """(article_id, canonical_url, content_hash) of stored articles that have the
        same canonical URL (key "url_key") or text (key "text_key") as one in table.

        A semi-join on the integer key: DuckDB passes the batch's keys down into
        the scan, so only the matching rows' strings are read, which are then
        compared exactly.
        """
        self.con.register("batch_keys", table.select([key]))
        rows = self.con.execute(
            f"SELECT article_id, canonical_url, content_hash FROM articles"
            f" WHERE {key} IN (SELECT {key} FROM batch_keys)"
        ).fetchall()
        column = "canonical_url" if key == "url_key" else "content_hash"
        wanted = set(table[column].to_pylist()) if rows else set()
        position = 1 if key == "url_key" else 2
        return [r for r in rows if r[position] in wanted]

    def _insert_articles(self, staged: StagedBatch, result: LoadResult) -> Stored:
        """Insert the new articles (and add them to the near-duplicate index)."""
        table = staged.articles
        if not table.num_rows:
            return {}, {}, {}
        by_hash: dict[str, str] = {}
        for aid, _, h in sorted(self._stored_by_key("text_key", table)):
            by_hash.setdefault(h, aid)  # the first stored copy
        own_ids = table["article_id"].to_pylist()
        found = identify(
            table["canonical_url"].to_pylist(),
            table["content_hash"].to_pylist(),
            own_ids,
            {url: aid for aid, url, _ in self._stored_by_key("url_key", table)},
            by_hash,
        )
        result.duplicate_articles = found.duplicates
        result.new_articles = len(found.fresh)
        clusters: dict[str, str] = {}
        if found.fresh:
            clusters = self._clusters(staged, found.fresh)
            if len(found.fresh) < table.num_rows:  # copies are left out
                mask = np.zeros(table.num_rows, dtype=bool)
                mask[found.fresh] = True
                table = table.filter(pa.array(mask))
            # Replacing one column leaves the others, texts included, where they are.
            table = table.set_column(
                table.schema.get_field_index("cluster_id"),
                "cluster_id",
                pa.array([clusters[own_ids[i]] for i in found.fresh], pa.string()),
            )
            self.con.register("batch_articles", table)
            self.con.execute("INSERT INTO articles BY NAME SELECT * FROM batch_articles")
        return found.ids, clusters, found.remap

    def _clusters(self, staged: StagedBatch, fresh: list[int]) -> dict[str, str]:
        """The cluster of each new article (extractors.dedup.assign_clusters decides),
        from the stored articles that share an LSH band with it; their bands are added.

        Candidates are found by a join, so the cost does not grow with the warehouse.
        """
        own_ids = staged.articles["article_id"].to_pylist()
        clusters = {own_ids[i]: own_ids[i] for i in fresh}
        is_fresh = np.zeros(staged.articles.num_rows, dtype=bool)
        is_fresh[fresh] = True
        rows = np.flatnonzero(is_fresh[staged.signed])  # rows of the signature arrays
        if not len(rows):
            return clusters
        signed = staged.signed[rows].tolist()
        order = [own_ids[i] for i in signed]
        url_keys = staged.articles["url_key"].to_pylist()
        keys = [url_keys[i] for i in signed]
        n = len(order)
        self.con.register(
            "batch_bands",
            pa.table(
                {
                    "band": pa.array(np.tile(np.arange(BANDS, dtype=np.int8), n)),
                    "hash": pa.array(staged.bands[rows].reshape(-1)),
                    "url_key": pa.array(np.repeat(np.array(keys, dtype=np.uint64), BANDS)),
                    "stored_on": pa.array(
                        np.full(n * BANDS, np.datetime64(datetime.now(UTC).date(), "D"))
                    ),
                }
            ),
        )
        # Two steps, so that only the candidates' signatures are read, never all of them.
        # Copies of a story arrive within days: looking back CLUSTER_WINDOW_DAYS keeps the
        # join to recent bands (rows are appended in time order, so old row groups are
        # skipped), and the cost flat however large the warehouse grows.
        pairs = self.con.sql(
            "SELECT DISTINCT b.url_key AS new_key, s.url_key FROM batch_bands b"
            " JOIN article_bands s ON s.band = b.band AND s.hash = b.hash"
            f" WHERE s.stored_on >= current_date - {CLUSTER_WINDOW_DAYS}"
        ).to_arrow_table()
        self.con.register("candidate_pairs", pairs)
        signatures = {
            key: (aid, cluster, sig)
            for key, aid, cluster, sig in self.con.execute(
                "SELECT url_key, article_id, cluster_id, signature FROM articles"
                " WHERE url_key IN (SELECT url_key FROM candidate_pairs)"
            ).fetchall()
        }
        self.con.execute("INSERT INTO article_bands BY NAME SELECT * FROM batch_bands")
        row_of = {key: k for k, key in enumerate(keys)}
        candidates = [
            (row_of[new_key], *signatures[old_key])
            for new_key, old_key in zip(
                pairs["new_key"].to_pylist(), pairs["url_key"].to_pylist(), strict=True
            )
            if old_key in signatures
        ]
        row_of_signed = {k: r for r, k in enumerate(rows.tolist())}
        within = [
            (row_of_signed[b], row_of_signed[a])
            for b, a in staged.shared
            if b in row_of_signed and a in row_of_signed
        ]
        return clusters | assign_clusters(
            order, staged.sizes[rows], staged.values[rows], candidates, within
        )

    def _insert_entries(
        self, staged: StagedBatch, remap: dict[str, str], result: LoadResult
    ) -> None:
        table = staged.entries
        if not table.num_rows:
            return
        # Only entries not stored yet: a spooled batch may meet entries a later run stored.
        pairs = list(zip(table["feed_id"].to_pylist(), table["guid"].to_pylist(), strict=True))
        stored = self.stored_entries(pairs)
        if stored:
            table = table.filter(pa.array([pair not in stored for pair in pairs]))
        if remap:  # entries of articles found to be copies point to the stored article
            column = table.schema.get_field_index("article_id")
            aids = [remap.get(a, a) for a in table["article_id"].to_pylist()]
            table = table.set_column(column, "article_id", pa.array(aids, pa.string()))
        if table.num_rows:
            self.con.register("batch_entries", table)
            self.con.execute("INSERT INTO entries BY NAME SELECT * FROM batch_entries")
        result.new_entries = table.num_rows

    def prune(self, cutoff: datetime) -> dict[str, int]:
        """Drop the text of articles fetched before the cutoff, and their entries' feed text.

        What deduplication and analysis need stays: URLs, content hashes, MinHash
        signatures and clusters (so a copy arriving later still joins its story),
        titles, metadata and topic matches with their snippets.
        """
        with transaction(self.con):
            articles = self.con.execute(
                "UPDATE articles SET text = '', text_source = 'pruned'"
                " WHERE fetched_at < ? AND text_source <> 'pruned'",
                [cutoff],
            ).fetchall()[0][0]
            entries = self.con.execute(
                "UPDATE entries SET summary = NULL, content = NULL"
                " WHERE first_seen_at < ? AND (summary IS NOT NULL OR content IS NOT NULL)",
                [cutoff],
            ).fetchall()[0][0]
        self.con.execute("CHECKPOINT")  # give the space back to the file
        return {"articles": int(articles), "entries": int(entries)}


def new_of(
    records: Sequence[ArticleRecord], ids: dict[str, str], fresh: dict[str, str]
) -> list[tuple[str, ArticleRecord]]:
    """(article_id, record) of the records stored for the first time, the first of each."""
    pending = set(fresh)
    out = []
    for r in records:
        aid = ids[r.article.canonical_url]
        if aid in pending:
            pending.discard(aid)
            out.append((aid, r))
    return out
