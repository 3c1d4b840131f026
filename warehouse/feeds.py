"""The feeds of the DuckDB warehouse: the registry, their state between polls, the
fetch log. It writes what extractors.decide decided (FeedRegistration, FeedUpdate)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime

import pyarrow as pa

from extractors.models import FeedRegistration, FeedSpec, FeedState, PollBatch
from warehouse._duckdb import transaction
from warehouse._session import Session
from warehouse.api import FeedHealth

__all__ = ["FeedStore"]


class FeedStore(Session):
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
        """Each feed's own title, as last read."""
        return dict(self.con.execute("SELECT feed_id, title FROM feeds").fetchall())

    def feed_health(self) -> list[FeedHealth]:
        """Every feed's health, from the feed_health view (schema.sql holds the rules)."""
        rows = self.con.execute(
            "SELECT feed_id, url, source, status, error_count, last_error, disabled_reason,"
            " last_polled_at, last_success_at, newest_entry_at, usual_gap_hours, next_due_at"
            " FROM feed_health ORDER BY feed_id"
        ).fetchall()
        return [FeedHealth(*row) for row in rows]

    def add_feeds(self, feeds: Sequence[FeedRegistration], source: str) -> list[str]:
        """Register feeds (names not taken yet); return the names added."""
        if not feeds:
            return []
        with transaction(self.con):
            taken = {r[0] for r in self.con.execute("SELECT feed_id FROM feeds").fetchall()}
            fresh = [f for f in feeds if f.feed_id not in taken]
            self._register_feeds(fresh, source, datetime.now(UTC))
        return [r.feed_id for r in fresh]

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

    def _register_feeds(
        self, feeds: Sequence[FeedRegistration], source: str, now: datetime
    ) -> None:
        """Insert feeds, or give known ones their configured settings."""
        if not feeds:
            return
        self.con.register(
            "batch_feeds",
            pa.table(
                {
                    "feed_id": [f.feed_id for f in feeds],
                    "url": [f.url for f in feeds],
                    "config_url": [f.config_url for f in feeds],
                    "tags": pa.array([list(f.tags) for f in feeds], pa.list_(pa.string())),
                    "interval_seconds": [f.interval_seconds for f in feeds],
                    "fetch_pages": [f.fetch_pages for f in feeds],
                    "reconfigured": [f.reconfigured for f in feeds],
                }
            ),
        )
        self.con.execute(
            """
            MERGE INTO feeds USING (
                SELECT feed_id, url, config_url, ? AS source, tags, interval_seconds,
                       fetch_pages, ?::TIMESTAMPTZ AS created_at
                FROM batch_feeds
            ) AS b ON feeds.feed_id = b.feed_id
            WHEN MATCHED THEN UPDATE SET
                url = b.url,
                config_url = b.config_url,
                source = b.source,
                tags = b.tags,
                interval_seconds = b.interval_seconds,
                fetch_pages = b.fetch_pages
            WHEN NOT MATCHED THEN INSERT BY NAME
            """,
            [source, now],
        )
        # A feed whose configured URL changed forgets the moves it was seen to make.
        self.con.execute(
            "UPDATE feeds SET redirect_url = NULL, redirect_count = 0 FROM batch_feeds b"
            " WHERE feeds.feed_id = b.feed_id AND b.reconfigured"
        )

    def _record_polls(self, batch: PollBatch) -> None:
        """Log every fetch attempt and write each feed's new state, unless a newer poll's
        state is there already (a spooled batch loaded late)."""
        if not batch.polls:
            return
        updates = {u.feed_id: u for u in batch.updates}
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
                "new_entries": updates[p.feed.name].new_entries if p.feed.name in updates else 0,
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
        if not updates:
            return
        rows = [{f.name: getattr(u, f.name) for f in fields(u)} for u in updates.values()]
        self.con.register("batch_updates", pa.Table.from_pylist(rows))
        self.con.execute(
            """
            UPDATE feeds SET
                url = u.url,
                last_polled_at = u.polled_at,
                last_success_at = CASE WHEN u.ok THEN u.polled_at ELSE feeds.last_success_at END,
                last_new_entry_at = CASE WHEN u.new_entries > 0 THEN u.polled_at
                                         ELSE feeds.last_new_entry_at END,
                etag = u.etag,
                last_modified = u.last_modified,
                title = coalesce(u.title, feeds.title),
                site_url = coalesce(u.site_url, feeds.site_url),
                error_count = u.error_count,
                last_error = u.last_error,
                next_due_at = u.next_due_at,
                disabled_reason = coalesce(u.disabled_reason, feeds.disabled_reason),
                redirect_url = u.redirect_url,
                redirect_count = u.redirect_count
            FROM batch_updates u
            WHERE feeds.feed_id = u.feed_id
              AND (feeds.last_polled_at IS NULL OR feeds.last_polled_at <= u.polled_at)
            """
        )
