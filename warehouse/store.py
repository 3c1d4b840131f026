"""The warehouse writer: one transaction per batch, bulk inserts from Arrow, idempotent.

Re-loading a batch adds nothing: entries are keyed by (feed, GUID), articles
by canonical URL, and an article whose text hash matches a stored one is not
stored again; its entries point to the stored copy instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
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
    containment,
    entry_key,
    key64,
    signature_matrix,
)
from extractors.dedup import article_id as make_article_id
from extractors.models import (
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
from warehouse.queries import (
    FeedHealth,
    feed_health_of,
    feed_states_of,
    stored_feeds_of,
    topics_to_rescore_of,
)
from warehouse.staging import StagedBatch, stage, table_schema

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
        return feed_states_of(self.con)

    def stored_feeds(self, sources: Sequence[str] | None = None) -> list[tuple[FeedSpec, str]]:
        """Feeds as stored, with their source; only those from `sources` when given."""
        return stored_feeds_of(self.con, sources)

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

    def set_label(
        self, article_id: str, topic: str, label: bool, note: str | None, by: str
    ) -> None:
        """An analyst's verdict on an article and a topic; it replaces an earlier one."""
        with transaction(self.con):
            self.con.execute(
                "INSERT OR REPLACE INTO topic_labels VALUES (?, ?, ?, ?, ?, ?)",
                [article_id, topic, label, note, by, datetime.now(UTC)],
            )

    def unknown_entries(self, polls: Sequence[FeedPoll]) -> list[tuple[str, EntryData]]:
        """The (feed, entry) pairs of these polls not stored yet, first occurrence only."""
        pairs: dict[tuple[str, str], EntryData] = {}
        for poll in polls:
            for entry in poll.entries:
                pairs.setdefault((poll.feed.name, entry.guid), entry)
        known = self._stored_entries(list(pairs))
        return [(k[0], e) for k, e in pairs.items() if k not in known]

    def _stored_entries(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of these (feed_id, guid) pairs already stored."""
        if not pairs:
            return set()
        keys = pa.array([entry_key(f, g) for f, g in pairs], pa.uint64())
        return self._stored_entry_keys(pa.table({"entry_key": keys})) & set(pairs)

    def _stored_entry_keys(self, keys: pa.Table) -> set[tuple[str, str]]:
        """(feed_id, guid) of stored entries with one of these entry_keys (a semi-join
        on the integer key, so only the matching rows' strings are read)."""
        self.con.register("entry_keys", keys)
        rows = self.con.execute(
            "SELECT feed_id, guid FROM entries WHERE entry_key IN (SELECT entry_key FROM entry_keys)"
        ).fetchall()
        return {(f, g) for f, g in rows}

    def stored_canonical_urls(self, urls: Sequence[str]) -> dict[str, str]:
        """canonical_url → article_id for those of these URLs already stored."""
        if not urls:
            return {}
        unique = list(set(urls))
        keys = pa.array([key64(make_article_id(u)) for u in unique], pa.uint64())
        table = pa.table({"url_key": keys, "canonical_url": unique})
        return {url: aid for aid, url, _ in self._stored_by_key("url_key", table)}

    # -- the one write of a run ----------------------------------------------

    def load(self, batch: PollBatch | StagedBatch) -> LoadResult:
        """Load a whole poll run in one transaction.

        Stage the batch first (staging.stage) to keep its conversion out of the
        time the warehouse is locked; a PollBatch is staged here.
        """
        staged = batch if isinstance(batch, StagedBatch) else stage(batch)
        batch = staged.batch
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
            ids, fresh, remap = self._insert_articles(staged, result)
            self._insert_entries(staged, remap, result)
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
        self, staged: StagedBatch, result: LoadResult
    ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Insert new articles.

        Returns canonical_url → article_id for every article of the batch, the
        cluster_id of each article stored for the first time, and staged id →
        stored id for the articles that turned out to be copies of others.
        """
        table = staged.articles
        if not table.num_rows:
            return {}, {}, {}
        by_url = {url: aid for aid, url, _ in self._stored_by_key("url_key", table)}
        by_hash: dict[str, str] = {}
        for aid, _, h in sorted(self._stored_by_key("text_key", table)):
            by_hash.setdefault(h, aid)  # the first stored copy
        ids: dict[str, str] = {}
        remap: dict[str, str] = {}
        fresh: list[int] = []
        urls = table["canonical_url"].to_pylist()
        hashes = table["content_hash"].to_pylist()
        own_ids = table["article_id"].to_pylist()
        for i, (url, h, own) in enumerate(zip(urls, hashes, own_ids, strict=True)):
            if url in ids:  # a second page of the batch with the same canonical URL
                result.duplicate_articles += 1
                continue
            existing = by_url.get(url) or by_hash.get(h or "-")
            if existing:
                ids[url] = existing
                if existing != own:
                    remap[own] = existing
                result.duplicate_articles += 1
                continue
            ids[url] = by_url[url] = own
            if h:
                by_hash[h] = own
            fresh.append(i)
        clusters: dict[str, str] = {}
        if fresh:
            clusters = self._clusters(staged, fresh)
            if len(fresh) < table.num_rows:  # copies are left out (the texts are copied once)
                mask = np.zeros(table.num_rows, dtype=bool)
                mask[fresh] = True
                table = table.filter(pa.array(mask))
            # Replacing one column leaves the others, texts included, where they are.
            table = table.set_column(
                table.schema.get_field_index("cluster_id"),
                "cluster_id",
                pa.array([clusters[own_ids[i]] for i in fresh], pa.string()),
            )
            self.con.register("batch_articles", table)
            self.con.execute("INSERT INTO articles SELECT * FROM batch_articles")
        result.new_articles = len(fresh)
        return ids, clusters, remap

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

    def _clusters(self, staged: StagedBatch, fresh: list[int]) -> dict[str, str]:
        """article_id → cluster_id for new articles: the cluster of the most similar
        stored (or earlier new) article above NEAR_DUPLICATE, else a cluster of its own.

        Candidates are pairs sharing an LSH band (article_bands), found by a join,
        so the cost does not grow with the size of the warehouse.
        """
        own_ids = staged.articles["article_id"].to_pylist()
        clusters = {own_ids[i]: own_ids[i] for i in fresh}
        # Rows of the staged signature arrays that belong to new articles.
        is_fresh = np.zeros(staged.articles.num_rows, dtype=bool)
        is_fresh[fresh] = True
        rows = np.flatnonzero(is_fresh[staged.signed])
        if not len(rows):
            return clusters
        order = [own_ids[i] for i in staged.signed[rows].tolist()]
        url_keys = staged.articles["url_key"].to_pylist()
        keys = [url_keys[i] for i in staged.signed[rows].tolist()]
        sizes, values, bands = staged.sizes[rows], staged.values[rows], staged.bands[rows]
        n = len(order)
        self.con.register(
            "batch_bands",
            pa.table(
                {
                    "band": pa.array(np.tile(np.arange(BANDS, dtype=np.int8), n)),
                    "hash": pa.array(bands.reshape(-1)),
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
        stored = [
            (new_key, *signatures[old_key])
            for new_key, old_key in zip(
                pairs["new_key"].to_pylist(), pairs["url_key"].to_pylist(), strict=True
            )
            if old_key in signatures
        ]
        self.con.execute("INSERT INTO article_bands SELECT * FROM batch_bands")
        row_of = {key: k for k, key in enumerate(keys)}
        width = values.shape[1]
        # (new row, other article, its cluster or None when it is new too, its signature)
        candidates = [
            (row_of[new_key], old_id, cluster, sig)
            for new_key, old_id, cluster, sig in stored
            if sig and len(sig) == (width + 1) * 8
        ]
        other_sizes, other_values = signature_matrix([c[3] for c in candidates])
        # Pairs within the batch (earlier ones lead), both new.
        row_of_signed = {int(k): r for r, k in enumerate(rows.tolist())}
        within = [
            (row_of_signed[b], row_of_signed[a])
            for b, a in staged.shared
            if b in row_of_signed and a in row_of_signed
        ]
        candidate_rows = np.array([c[0] for c in candidates] + [b for b, _ in within], int)
        scores = containment(
            sizes[candidate_rows],
            values[candidate_rows],
            np.concatenate([other_sizes, sizes[[a for _, a in within]]]),
            np.concatenate([other_values, values[[a for _, a in within]].reshape(-1, width)]),
        )
        others = [(c[1], c[2]) for c in candidates] + [(order[a], None) for _, a in within]
        best: dict[int, tuple[float, str, str | None]] = {}
        for row, (other, cluster), score in zip(
            candidate_rows.tolist(), others, scores.tolist(), strict=True
        ):
            if score >= NEAR_DUPLICATE and (row not in best or (score, other) > best[row][:2]):
                best[row] = (score, other, cluster)
        for row, aid in enumerate(order):  # in order, so an earlier new article's cluster is set
            if row in best:
                _, other, cluster = best[row]
                clusters[aid] = cluster or clusters[other]
        return clusters

    def _insert_entries(
        self, staged: StagedBatch, remap: dict[str, str], result: LoadResult
    ) -> None:
        table = staged.entries
        if not table.num_rows:
            return
        # Only entries not stored yet: a spooled batch may meet entries a later run stored.
        stored = self._stored_entry_keys(table.select(["entry_key"]))
        if stored:
            pairs = zip(table["feed_id"].to_pylist(), table["guid"].to_pylist(), strict=True)
            table = table.filter(pa.array([pair not in stored for pair in pairs]))
        if remap:  # entries of articles found to be copies point to the stored article
            column = table.schema.get_field_index("article_id")
            aids = [remap.get(a, a) for a in table["article_id"].to_pylist()]
            table = table.set_column(column, "article_id", pa.array(aids, pa.string()))
        if table.num_rows:
            self.con.register("batch_entries", table)
            self.con.execute("INSERT INTO entries SELECT * FROM batch_entries")
        result.new_entries = table.num_rows

    def _insert_matches(
        self,
        batch: PollBatch,
        ids: dict[str, str],
        fresh: dict[str, str],
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
                        Hit(
                            m.topic,
                            m.score,
                            aid,
                            r.article.title,
                            r.article.url,
                            m.snippet,
                            fresh[aid],
                        )
                    )
        if not rows:
            return
        self._stage("batch_matches", "topic_matches", rows)
        self.con.execute(
            # Only articles new in this transaction have rows here: none can be stored yet.
            "INSERT INTO topic_matches BY NAME SELECT * FROM batch_matches"
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
        self.con.register(name, pa.Table.from_pylist(rows, schema=table_schema(table)))

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
                    "INSERT INTO topics BY NAME SELECT ? AS topic, ? AS version, ? AS query,"
                    " ? AS min_score, ? AS min_sentences, ? AS description, ? AS first_seen_at,"
                    " true AS current, ? AS rescored_at, ? AS headline_weight,"
                    " ? AS lead_weight, ? AS share_weight, ? AS lead_sentences",
                    [
                        t.name,
                        t.version,
                        t.query,
                        t.min_score,
                        t.min_sentences,
                        t.description,
                        now,
                        None if has_articles else now,
                        t.headline_weight,
                        t.lead_weight,
                        t.share_weight,
                        t.lead_sentences,
                    ],
                )
        return topics_to_rescore_of(self.con, topics)

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
        "headline_points": m.headline_points,
        "lead_points": m.lead_points,
        "share_points": m.share_points,
        "carrying_sentences": m.carrying,
        "total_sentences": m.total_sentences,
        "share": m.share,
        "verdict": m.verdict,
    }
