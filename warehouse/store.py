"""The warehouse writer: one transaction per batch, bulk inserts from Arrow, idempotent.

Re-loading a batch adds nothing: entries are keyed by (feed, GUID), articles
by canonical URL, and an article whose text hash matches a stored one is not
stored again; its entries point to the stored copy instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from extractors.decide import update_after_poll
from extractors.dedup import (
    BANDS,
    CLUSTER_WINDOW_DAYS,
    NEAR_DUPLICATE,
    band_matrix,
    signature_matrix,
    similarity,
)
from extractors.dedup import article_id as make_article_id
from extractors.models import (
    ArticleRecord,
    EntryData,
    FeedPoll,
    FeedSpec,
    FeedState,
    PollBatch,
    Topic,
    TopicMatch,
)
from warehouse._duckdb import connect, transaction
from warehouse.migrations import ensure_schema
from warehouse.queries import FeedHealth, feed_health_of

__all__ = ["Hit", "LoadResult", "Warehouse"]


@dataclass(frozen=True)
class Hit:
    """A new topic match with matched = true, for summaries."""

    topic: str
    score: float
    article_id: str
    title: str | None
    url: str
    snippet: str | None
    cluster_id: str = ""


@dataclass
class LoadResult:
    new_entries: int = 0
    new_articles: int = 0
    duplicate_articles: int = 0  # fetched, but already stored under another URL or the same text
    hits: list[Hit] = field(default_factory=list)
    # Topics whose current version has not been applied to the articles stored before it.
    stale_topics: list[str] = field(default_factory=list)


class Warehouse:
    """A read-write session on the warehouse file. Open briefly: it locks the file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self.con = con
        self.path = path
        self._schemas: dict[str, pa.Schema] = {}

    @classmethod
    @contextmanager
    def open(cls, path: str | Path, *, read_only: bool = False) -> Iterator[Warehouse]:
        """A session on the file; read_only to read while another reader holds it."""
        con = connect(path, read_only=read_only)
        try:
            if not read_only:
                ensure_schema(con)
            yield cls(con, Path(path))
        finally:
            con.close()

    # -- reads the poll needs -------------------------------------------------

    def feed_states(self) -> dict[str, FeedState]:
        rows = self.con.execute(
            "SELECT feed_id, url, config_url, etag, last_modified, next_due_at, error_count,"
            " disabled_reason, redirect_url, redirect_count FROM feeds"
        ).fetchall()
        return {r[0]: FeedState(*r) for r in rows}

    def stored_feeds(self, sources: Sequence[str] | None = None) -> list[tuple[FeedSpec, str]]:
        """Feeds as stored, with their source; only those from `sources` when given."""
        rows = self.con.execute(
            "SELECT feed_id, config_url, interval_seconds, tags, fetch_pages, source FROM feeds"
            " WHERE ? IS NULL OR list_contains(?, source) ORDER BY feed_id",
            [sources, sources],
        ).fetchall()
        return [
            (FeedSpec(name, url, interval, tuple(tags or ()), fetch_pages), source)
            for name, url, interval, tags, fetch_pages, source in rows
        ]

    def feed_titles(self) -> dict[str, str | None]:
        return dict(self.con.execute("SELECT feed_id, title FROM feeds").fetchall())

    def add_feeds(self, specs: Sequence[FeedSpec], source: str) -> list[str]:
        """Register feeds (names not taken yet); return the names added."""
        if not specs:
            return []
        with transaction(self.con):
            taken = {r[0] for r in self.con.execute("SELECT feed_id FROM feeds").fetchall()}
            fresh = [s for s in specs if s.name not in taken]
            self._upsert_feeds(fresh, source, datetime.now(UTC))
        return [s.name for s in fresh]

    def set_disabled(self, name: str, reason: str | None) -> bool:
        """Disable a feed (with a reason) or enable it (reason None). False: no such feed."""
        with transaction(self.con):
            found = self.con.execute(
                "SELECT count(*) FROM feeds WHERE feed_id = ?", [name]
            ).fetchall()[0][0]
            if found:
                # Enabling makes the feed due now and forgets its error streak.
                self.con.execute(
                    "UPDATE feeds SET disabled_reason = ?,"
                    " next_due_at = CASE WHEN ? IS NULL THEN NULL ELSE next_due_at END,"
                    " error_count = CASE WHEN ? IS NULL THEN 0 ELSE error_count END"
                    " WHERE feed_id = ?",
                    [reason, reason, reason, name],
                )
        return bool(found)

    def unknown_entries(self, polls: Sequence[FeedPoll]) -> list[tuple[str, EntryData]]:
        """The (feed, entry) pairs of these polls not stored yet, first occurrence only."""
        pairs: dict[tuple[str, str], EntryData] = {}
        for poll in polls:
            for entry in poll.entries:
                pairs.setdefault((poll.feed.name, entry.guid), entry)
        if not pairs:
            return []
        self.con.register(
            "keys", pa.table({"feed_id": [k[0] for k in pairs], "guid": [k[1] for k in pairs]})
        )
        rows = self.con.execute(
            "SELECT e.feed_id, e.guid FROM entries e JOIN keys k USING (feed_id, guid)"
        ).fetchall()
        known = {(f, g) for f, g in rows}
        return [(k[0], e) for k, e in pairs.items() if k not in known]

    def stored_canonical_urls(self, urls: Sequence[str]) -> dict[str, str]:
        """canonical_url → article_id for those of these URLs already stored."""
        if not urls:
            return {}
        self.con.register("urls", pa.table({"canonical_url": list(set(urls))}))
        rows = self.con.execute(
            "SELECT a.canonical_url, a.article_id FROM articles a JOIN urls USING (canonical_url)"
        ).fetchall()
        return dict(rows)

    # -- the one write of a run ----------------------------------------------

    def load(self, batch: PollBatch) -> LoadResult:
        """Load a whole poll run in one transaction."""
        result = LoadResult()
        now = datetime.now(UTC)
        with transaction(self.con):
            done = self.con.execute(
                "SELECT count(*) FROM runs WHERE run_id = ?", [batch.run_id]
            ).fetchall()[0][0]
            if done:  # loaded before (a spooled batch whose file outlived its commit)
                return result
            result.stale_topics = self.register_topics(batch.topics, now)
            self._upsert_feeds(batch.feeds, batch.feed_source, now)
            self._record_polls(batch)
            ids, fresh = self._insert_articles(batch, result)
            self._insert_entries(batch, ids, result)
            self._insert_matches(batch, ids, fresh, now, result)
            self._record_run(batch, now, result)
        return result

    def _upsert_feeds(self, feeds: Sequence[FeedSpec], source: str, now: datetime) -> None:
        """Register feeds; for known ones, take the configuration's settings.

        The fetch URL follows the configuration only when the configured URL
        itself changed; otherwise it keeps any permanent move seen since.
        """
        if not feeds:
            return
        self.con.register(
            "batch_feeds",
            pa.table(
                {
                    "feed_id": [f.name for f in feeds],
                    "url": [f.url for f in feeds],
                    "tags": pa.array([list(f.tags) for f in feeds], pa.list_(pa.string())),
                    "interval_seconds": [f.interval_seconds for f in feeds],
                    "fetch_pages": [f.fetch_pages for f in feeds],
                }
            ),
        )
        self.con.execute(
            """
            INSERT INTO feeds (feed_id, url, config_url, source, tags, interval_seconds,
                               fetch_pages, created_at)
            SELECT feed_id, url, url, ?, tags, interval_seconds, fetch_pages, ? FROM batch_feeds
            ON CONFLICT (feed_id) DO UPDATE SET
                url = CASE WHEN config_url <> excluded.config_url THEN excluded.url ELSE url END,
                redirect_url = CASE WHEN config_url <> excluded.config_url THEN NULL
                                    ELSE redirect_url END,
                redirect_count = CASE WHEN config_url <> excluded.config_url THEN 0
                                      ELSE redirect_count END,
                config_url = excluded.config_url,
                source = excluded.source,
                tags = excluded.tags,
                interval_seconds = excluded.interval_seconds,
                fetch_pages = excluded.fetch_pages
            """,
            [source, now],
        )

    def _record_polls(self, batch: PollBatch) -> None:
        """Log every fetch attempt and write each feed's new state (decided in extractors.decide)."""
        if not batch.polls:
            return
        states = self.feed_states()
        new_by_feed: dict[str, int] = {}
        for feed_id, _ in batch.new_entries:
            new_by_feed[feed_id] = new_by_feed.get(feed_id, 0) + 1
        fetches = [
            {
                "run_id": batch.run_id,
                "feed_id": p.feed.name,
                "fetched_at": p.started_at,
                "url": p.url,
                "final_url": p.final_url,
                "status": p.status,
                "ok": p.ok,
                "bytes": p.bytes,
                "entries_seen": len(p.entries),
                "new_entries": new_by_feed.get(p.feed.name, 0),
                "duration_ms": p.duration_ms,
                "error": p.error or p.warning,
            }
            for p in batch.polls
        ]
        self._stage("batch_fetches", "feed_fetches", fetches)
        # Idempotent, like every part of a load: a spooled batch may be loaded twice.
        self.con.execute(
            "INSERT INTO feed_fetches BY NAME SELECT * FROM batch_fetches b WHERE NOT EXISTS"
            " (SELECT 1 FROM feed_fetches f WHERE f.run_id = b.run_id AND f.feed_id = b.feed_id)"
        )
        updates = []
        for p in batch.polls:
            u = update_after_poll(states.get(p.feed.name), p)
            row = {f.name: getattr(u, f.name) for f in fields(u)}
            row["has_new"] = new_by_feed.get(p.feed.name, 0) > 0
            updates.append(row)
        self.con.register("batch_updates", pa.Table.from_pylist(updates))
        self.con.execute(
            """
            UPDATE feeds SET
                url = u.url,
                last_polled_at = u.polled_at,
                last_success_at = CASE WHEN u.ok THEN u.polled_at ELSE feeds.last_success_at END,
                last_new_entry_at = CASE WHEN u.has_new THEN u.polled_at
                                         ELSE feeds.last_new_entry_at END,
                etag = u.etag,
                last_modified = u.last_modified,
                title = coalesce(u.title, feeds.title),
                site_url = coalesce(u.site_url, feeds.site_url),
                error_count = u.error_count,
                last_error = u.last_error,
                next_due_at = u.next_due_at,
                disabled_reason = u.disabled_reason,
                redirect_url = u.redirect_url,
                redirect_count = u.redirect_count
            FROM batch_updates u
            WHERE feeds.feed_id = u.feed_id
            """
        )

    def _insert_articles(
        self, batch: PollBatch, result: LoadResult
    ) -> tuple[dict[str, str], set[str]]:
        """Insert new articles.

        Returns canonical_url → article_id for every article of the batch, and
        the ids stored for the first time.
        """
        records = batch.articles
        if not records:
            return {}, set()
        urls = [r.article.canonical_url for r in records]
        hashes = [r.article.content_hash for r in records if r.article.content_hash]
        self.con.register("cand", pa.table({"canonical_url": urls}))
        self.con.register("cand_hash", pa.table({"content_hash": pa.array(hashes, pa.string())}))
        by_url = dict(
            self.con.execute(
                "SELECT canonical_url, article_id FROM articles JOIN cand USING (canonical_url)"
            ).fetchall()
        )
        by_hash = dict(
            self.con.execute(
                "SELECT content_hash, min(article_id) FROM articles"
                " JOIN cand_hash USING (content_hash) GROUP BY content_hash"
            ).fetchall()
        )
        ids: dict[str, str] = {}
        fresh: list[ArticleRecord] = []
        for r in records:
            a = r.article
            if a.canonical_url in ids:  # a second page of the batch with the same canonical URL
                result.duplicate_articles += 1
                continue
            existing = by_url.get(a.canonical_url) or by_hash.get(a.content_hash or "-")
            if existing:
                ids[a.canonical_url] = existing
                result.duplicate_articles += 1
                continue
            new_id = make_article_id(a.canonical_url)
            ids[a.canonical_url] = new_id
            by_url[a.canonical_url] = new_id
            if a.content_hash:
                by_hash[a.content_hash] = new_id
            fresh.append(r)
        if fresh:
            clusters = self._clusters(fresh, ids)
            rows = _article_rows(fresh, ids, batch.run_id)
            for row in rows:
                row["cluster_id"] = clusters[row["article_id"]]
            self._stage("batch_articles", "articles", rows)
            self.con.execute("INSERT INTO articles BY NAME SELECT * FROM batch_articles")
        result.new_articles = len(fresh)
        return ids, {ids[r.article.canonical_url] for r in fresh}

    def _clusters(self, fresh: list[ArticleRecord], ids: dict[str, str]) -> dict[str, str]:
        """article_id → cluster_id for new articles: the cluster of the most similar
        stored (or earlier new) article above NEAR_DUPLICATE, else a cluster of its own.

        Candidates are pairs sharing an LSH band (article_bands), found by a join,
        so the cost does not grow with the size of the warehouse.
        """
        clusters = {ids[r.article.canonical_url]: ids[r.article.canonical_url] for r in fresh}
        signed = [r for r in fresh if r.article.signature]
        if not signed:
            return clusters
        order = [ids[r.article.canonical_url] for r in signed]
        signatures = {aid: r.article.signature for aid, r in zip(order, signed, strict=True)}
        _, values = signature_matrix([r.article.signature for r in signed])
        bands = band_matrix(values)
        self.con.register(
            "batch_bands",
            pa.table(
                {
                    "band": pa.array(np.tile(np.arange(BANDS, dtype=np.int8), len(order))),
                    "hash": pa.array(bands.reshape(-1)),
                    "article_id": pa.array(np.repeat(np.array(order, dtype=object), BANDS)),
                    "stored_on": pa.array(
                        [datetime.now(UTC).date()] * (len(order) * BANDS), pa.date32()
                    ),
                }
            ),
        )
        # Two steps, so that only the candidates' signatures are read, never all of them.
        # Copies of a story arrive within days: looking back CLUSTER_WINDOW_DAYS keeps the
        # join to recent bands (rows are appended in time order, so old row groups are
        # skipped), and the cost flat however large the warehouse grows.
        pairs = self.con.sql(
            "SELECT DISTINCT b.article_id AS new_id, s.article_id AS old_id FROM batch_bands b"
            " JOIN article_bands s ON s.band = b.band AND s.hash = b.hash"
            f" WHERE s.stored_on >= current_date - {CLUSTER_WINDOW_DAYS}"
        ).to_arrow_table()
        self.con.register("candidate_pairs", pairs)
        stored = self.con.execute(
            "SELECT p.new_id, a.article_id, a.cluster_id, a.signature FROM candidate_pairs p"
            " JOIN articles a ON a.article_id = p.old_id"
        ).fetchall()
        self.con.execute("INSERT INTO article_bands SELECT * FROM batch_bands")
        candidates: dict[str, list[tuple[str, str | None, bytes]]] = defaultdict(list)
        for new_id, old_id, cluster, sig in stored:
            candidates[new_id].append((old_id, cluster, sig))
        for later, earlier in _shared_bands(bands):  # within the batch: earlier ones lead
            candidates[order[later]].append((order[earlier], None, signatures[order[earlier]]))
        for aid in order:
            scored = [
                (similarity(signatures[aid], sig), other, cluster)
                for other, cluster, sig in candidates.get(aid, [])
            ]
            best = max(scored, default=None)
            if best is not None and best[0] >= NEAR_DUPLICATE:
                clusters[aid] = best[2] or clusters[best[1]]
        return clusters

    def _insert_entries(self, batch: PollBatch, ids: dict[str, str], result: LoadResult) -> None:
        if not batch.new_entries:
            return
        entry_article = {(f, g): a for f, g, a in batch.linked}
        for r in batch.articles:
            for feed_id, entry in r.entries:
                entry_article[(feed_id, entry.guid)] = ids[r.article.canonical_url]
        rows = [
            {
                "feed_id": feed_id,
                "guid": e.guid,
                "link": e.link,
                "title": e.title,
                "author": e.author,
                "published_at": e.published,
                "summary": e.summary,
                "content": e.content,
                "article_id": entry_article.get((feed_id, e.guid)),
                "first_seen_at": batch.started_at,
                "run_id": batch.run_id,
            }
            for feed_id, e in batch.new_entries
        ]
        self._stage("batch_entries", "entries", rows)
        before = self._count("entries")
        self.con.execute(
            "INSERT INTO entries BY NAME SELECT * FROM batch_entries b"
            " WHERE NOT EXISTS (SELECT 1 FROM entries e"
            "                   WHERE e.feed_id = b.feed_id AND e.guid = b.guid)"
        )
        result.new_entries = self._count("entries") - before

    def _insert_matches(
        self,
        batch: PollBatch,
        ids: dict[str, str],
        fresh: set[str],
        now: datetime,
        result: LoadResult,
    ) -> None:
        rows = []
        pending = set(fresh)
        for r in batch.articles:
            aid = ids[r.article.canonical_url]
            if aid not in pending:
                continue  # a copy of an article stored before or earlier in this batch
            pending.discard(aid)
            for m in r.matches:
                rows.append(_match_row(aid, m, now))
                if m.matched:
                    result.hits.append(
                        Hit(m.topic, m.score, aid, r.article.title, r.article.url, m.snippet)
                    )
        if result.hits:
            cluster_of = dict(
                self.con.execute(
                    "SELECT article_id, cluster_id FROM articles WHERE article_id IN (SELECT unnest(?))",
                    [[h.article_id for h in result.hits]],
                ).fetchall()
            )
            result.hits = [
                replace(h, cluster_id=cluster_of.get(h.article_id, h.article_id))
                for h in result.hits
            ]
        if not rows:
            return
        self._stage("batch_matches", "topic_matches", rows)
        self.con.execute(
            "INSERT INTO topic_matches BY NAME SELECT * FROM batch_matches b"
            " WHERE NOT EXISTS (SELECT 1 FROM topic_matches t WHERE t.article_id = b.article_id"
            "                   AND t.topic = b.topic AND t.topic_version = b.topic_version)"
        )
        result.hits.sort(key=lambda h: -h.score)

    def _record_run(self, batch: PollBatch, now: datetime, result: LoadResult) -> None:
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                batch.run_id,
                batch.flow_run_id,
                batch.started_at,
                now,
                len(batch.polls),
                sum(not p.ok for p in batch.polls),
                sum(p.status == 304 for p in batch.polls),
                result.new_entries,
                result.new_articles,
                len(result.hits),
            ],
        )

    def _stage(self, name: str, table: str, rows: list[dict[str, Any]]) -> None:
        """Register rows as an Arrow table typed like `table` (schema.sql stays the one source)."""
        if table not in self._schemas:
            self._schemas[table] = (
                self.con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema
            )
        self.con.register(name, pa.Table.from_pylist(rows, schema=self._schemas[table]))

    # -- topic versions and re-scoring ----------------------------------------

    def register_topics(self, topics: Sequence[Topic], now: datetime | None = None) -> list[str]:
        """Record the current topic versions; return the topics that need a rescore.

        A new version needs one when articles were stored before it: they were
        matched with an older definition (or none). Call inside a transaction.
        """
        if not topics:
            return []
        now = now or datetime.now(UTC)
        has_articles = self._count("articles") > 0
        known = {
            (t, v) for t, v in self.con.execute("SELECT topic, version FROM topics").fetchall()
        }
        self.con.execute(
            "UPDATE topics SET current = false WHERE topic IN (SELECT unnest(?))",
            [[t.name for t in topics]],
        )
        for t in topics:
            if (t.name, t.version) in known:
                self.con.execute(
                    "UPDATE topics SET current = true WHERE topic = ? AND version = ?",
                    [t.name, t.version],
                )
            else:
                self.con.execute(
                    "INSERT INTO topics VALUES (?, ?, ?, ?, ?, ?, ?, true, ?)",
                    [
                        t.name,
                        t.version,
                        t.query,
                        t.min_score,
                        t.min_sentences,
                        t.description,
                        now,
                        None if has_articles else now,
                    ],
                )
        rows = self.con.execute(
            "SELECT topic FROM topics WHERE current AND rescored_at IS NULL ORDER BY topic"
        ).fetchall()
        return [r[0] for r in rows]

    def article_batches(self, size: int = 2000) -> Iterator[list[tuple[str, str | None, str]]]:
        """(article_id, title, text) of every stored article, a batch at a time."""
        last = ""
        while True:
            rows = self.con.execute(
                "SELECT article_id, title, text FROM articles WHERE article_id > ?"
                " ORDER BY article_id LIMIT ?",
                [last, size],
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def clear_matches(self, topics: Sequence[Topic]) -> None:
        """Forget the stored matches of these topic versions (before re-matching them)."""
        with transaction(self.con):
            for t in topics:
                self.con.execute(
                    "DELETE FROM topic_matches WHERE topic = ? AND topic_version = ?",
                    [t.name, t.version],
                )

    def insert_matches(self, matches: Sequence[tuple[str, TopicMatch]]) -> None:
        """Store (article_id, match) pairs in one transaction."""
        if not matches:
            return
        now = datetime.now(UTC)
        with transaction(self.con):
            self._stage(
                "batch_matches", "topic_matches", [_match_row(a, m, now) for a, m in matches]
            )
            self.con.execute("INSERT INTO topic_matches BY NAME SELECT * FROM batch_matches")

    def mark_rescored(self, topic: Topic) -> None:
        self.con.execute(
            "UPDATE topics SET rescored_at = now() WHERE topic = ? AND version = ?",
            [topic.name, topic.version],
        )

    def feed_health(self) -> list[FeedHealth]:
        return feed_health_of(self.con)

    def _count(self, table: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _shared_bands(bands: np.ndarray) -> set[tuple[int, int]]:
    """(later, earlier) row pairs of a band matrix that share any band hash."""
    pairs: set[tuple[int, int]] = set()
    for column in bands.T:
        _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
        for group in np.flatnonzero(counts > 1):
            rows = np.flatnonzero(inverse == group)
            pairs.update((int(b), int(a)) for i, a in enumerate(rows) for b in rows[i + 1 :])
    return pairs


def _match_row(article_id: str, m: TopicMatch, now: datetime) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "topic": m.topic,
        "topic_version": m.version,
        "score": m.score,
        "matched": m.matched,
        "terms": list(m.terms),
        "snippet": m.snippet,
        "mentions": [
            {
                "term": x.term,
                "field": x.field,
                "start_offset": x.start,
                "end_offset": x.end,
                "snippet": x.snippet,
            }
            for x in m.mentions
        ],
        "matched_at": now,
    }


def _article_rows(
    records: list[ArticleRecord], ids: dict[str, str], run_id: str
) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        a = r.article
        aid = ids[a.canonical_url]
        rows.append(
            {
                "article_id": aid,
                "url": a.url,
                "final_url": a.final_url,
                "canonical_url": a.canonical_url,
                "content_hash": a.content_hash,
                "cluster_id": aid,
                "signature": a.signature or None,
                "feed_id": r.feed_id,
                "title": a.title,
                "author": a.author,
                "published_at": a.published,
                "language": a.language,
                "site_name": a.site_name,
                "text": a.text,
                "text_source": a.text_source,
                "text_chars": len(a.text),
                "fetch_status": r.fetch_status,
                "fetch_error": r.fetch_error,
                "fetched_at": r.fetched_at,
                "run_id": run_id,
            }
        )
    return rows
