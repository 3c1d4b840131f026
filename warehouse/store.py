"""The DuckDB file behind the warehouse interface (api.Warehouse): its parts by entity
(feeds, articles and entries, topics, analysts' reads) over one session, and the
load of a poll's batch, one transaction, bulk inserts from Arrow, idempotent.

Re-loading a batch adds nothing: entries are keyed by (feed, GUID), articles by
canonical URL, and an article whose text matches a stored one is not stored
again; its entries point to the stored copy instead. The writer decides
nothing: the intents come from extractors (decide, plan, dedup).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from extractors.errors import WarehouseError
from warehouse._duckdb import connect, transaction
from warehouse.api import LoadResult
from warehouse.articles import ArticleStore, new_of
from warehouse.feeds import FeedStore
from warehouse.lake import connect_lake, writer_lock
from warehouse.migrations import check_version, ensure_schema
from warehouse.reads import Reads
from warehouse.staging import StagedBatch
from warehouse.topics import TopicStore

__all__ = ["DuckDBWarehouse"]


class DuckDBWarehouse(FeedStore, ArticleStore, TopicStore, Reads):
    """A session on the warehouse file. Open briefly: read-write locks the file, and
    even a read-only session keeps a writer out."""

    @classmethod
    @contextmanager
    def open(cls, path: str | Path, *, read_only: bool = False) -> Iterator[DuckDBWarehouse]:
        """A session on the file, its schema version checked (upgraded when read-write)."""
        con = connect(path, read_only=read_only)
        try:
            if read_only:
                check_version(con, str(path), read_only=True)
            else:
                ensure_schema(con, str(path))
            yield cls(con, Path(path), read_only=read_only)
        except duckdb.Error as e:
            raise WarehouseError(f"{path}: {e}") from e
        finally:
            con.close()

    @classmethod
    @contextmanager
    def open_lake(
        cls, db: str, *, data_path: str | None = None, read_only: bool = False
    ) -> Iterator[DuckDBWarehouse]:
        """A session on a DuckLake warehouse (lake.py), its schema checked the same way."""
        data_path = data_path or os.environ.get("FEEDWATCH_DATA_PATH")
        where = db.split(":", 2)[0] + ":" + db.split(":", 2)[1]  # no conninfo in messages
        with ExitStack() as stack:
            if not read_only:  # a writer's whole session: schema, load, rescore alike
                stack.enter_context(writer_lock(db))
            con = connect_lake(db, data_path, read_only=read_only)
            stack.callback(con.close)
            try:
                if read_only:
                    check_version(con, where, read_only=True)
                else:
                    ensure_schema(con, where, lake=True)
                yield cls(con, Path(where), read_only=read_only, data_path=data_path)
            except duckdb.Error as e:
                raise WarehouseError(f"{where}: {e}") from e

    def load(self, staged: StagedBatch) -> LoadResult:
        """Load a poll run's batch in one transaction (stage it first, staging.stage, to
        keep the conversion out of the time the file is locked)."""
        batch = staged.batch
        result = LoadResult()
        now = datetime.now(UTC)
        with transaction(self.con):
            if self._loaded_before(batch.run_id, batch.seq):
                return result  # a spooled batch whose file outlived its commit
            self._register_topics(batch.topics, now)
            self._register_feeds(batch.feeds, batch.feed_source, now)
            self._record_polls(batch)
            ids, clusters, remap = self._insert_articles(staged, result)
            self._insert_entries(staged, remap, result)
            result.hits = self._insert_new_matches(
                new_of(batch.articles, ids, clusters), clusters, now
            )
            self._record_run(staged, now, result)
            result.topic_versions = self.topic_versions()
            result.has_articles = self.count_articles() > 0
        return result

    def _loaded_before(self, run_id: str, seq: int) -> bool:
        # A run's first batch makes its runs row; batches spooled before run_batches
        # existed are all first batches.
        row = self.con.execute(
            "SELECT (SELECT count(*) FROM run_batches WHERE run_id = $1 AND batch = $2)"
            " + (SELECT count(*) FROM runs WHERE run_id = $1 AND $2 = 0)",
            [run_id, seq],
        ).fetchall()[0]
        return bool(row[0])

    def _record_run(self, staged: StagedBatch, now: datetime, result: LoadResult) -> None:
        """The batch in run_batches, and its counts added to its run's row."""
        batch = staged.batch
        counts = {
            "feeds_polled": len(batch.polls),
            "new_entries": result.new_entries,
            "new_articles": result.new_articles,
            "hits": len(result.hits),
        }
        self._stage(
            "batch_of_run",
            "run_batches",
            [{"run_id": batch.run_id, "batch": batch.seq, "loaded_at": now, **counts}],
        )
        self.con.execute("INSERT INTO run_batches BY NAME SELECT * FROM batch_of_run")
        self._stage(
            "batch_run",
            "runs",
            [
                {
                    "run_id": batch.run_id,
                    "flow_run_id": batch.flow_run_id,
                    "started_at": batch.started_at,
                    "finished_at": now,
                    "feeds_failed": sum(not p.ok for p in batch.polls),
                    "feeds_not_modified": sum(p.status == 304 for p in batch.polls),
                    **counts,
                }
            ],
        )
        sums = ", ".join(
            f"{c} = runs.{c} + b.{c}" for c in ("feeds_failed", "feeds_not_modified", *counts)
        )
        self.con.execute(
            "MERGE INTO runs USING batch_run AS b ON runs.run_id = b.run_id"
            f" WHEN MATCHED THEN UPDATE SET finished_at = b.finished_at, {sums}"
            " WHEN NOT MATCHED THEN INSERT BY NAME"
        )
