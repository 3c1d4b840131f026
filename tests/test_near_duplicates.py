"""Near-duplicates: wire copies join one story; other reports of the same event stay apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from conftest import batch_of
from extractors.dedup import content_hash, signature, similarity
from extractors.models import Article, ArticleRecord, EntryData, FeedPoll, FeedSpec
from warehouse.staging import StagedBatch
from warehouse.store import DuckDBWarehouse as Warehouse

CASES = [
    json.loads(line)
    for line in (Path(__file__).resolve().parent / "data" / "near_duplicates.jsonl")
    .read_text()
    .splitlines()
]


def test_copies_are_similar_and_other_reports_are_not() -> None:
    sigs = {c["id"]: signature(c["text"]) for c in CASES}
    for a in CASES:
        for b in CASES:
            if a["id"] >= b["id"]:
                continue
            s = similarity(sigs[a["id"]], sigs[b["id"]])
            same = a["group"] == b["group"] and sigs[a["id"]] != b""
            assert (s >= 0.7) is same, (a["id"], b["id"], s)


def _record(case: dict[str, str], spec: FeedSpec, now: datetime) -> tuple[ArticleRecord, EntryData]:
    url = f"https://{case['group']}.example/{case['id']}"
    entry = EntryData(case["id"], url, case["title"], now, None, None, None)
    article = Article(
        url=url,
        final_url=url,
        canonical_url=url,
        title=case["title"],
        author=None,
        published=now,
        language="en",
        site_name=None,
        text=case["text"],
        text_source="extracted",
        content_hash=content_hash(case["text"]),
        signature=signature(case["text"]),
    )
    return ArticleRecord(article, spec.name, ((spec.name, entry),), now, 200, None, ()), entry


def _batch(cases: list[dict[str, str]], run: str) -> StagedBatch:
    spec = FeedSpec("wire", "https://wire.example/rss")
    now = datetime.now(UTC)
    pairs = [_record(c, spec, now) for c in cases]
    poll = FeedPoll(spec, now, spec.url, ok=True, status=200)
    return batch_of(run, spec, (poll,), tuple(r for r, _ in pairs))


def test_the_warehouse_clusters_copies_within_and_across_loads(db: Path) -> None:
    # Half the copies arrive in one poll, the rest in a later one.
    with Warehouse.open(db) as wh:
        wh.load(_batch(CASES[::2], "run-1"))
        wh.load(_batch(CASES[1::2], "run-2"))
        rows = wh.con.execute("SELECT canonical_url, cluster_id FROM articles").fetchall()
    cluster = {url.rsplit("/", 1)[1]: c for url, c in rows}
    assert len(cluster) == len(CASES)
    groups: dict[str, set[str]] = {}
    for c in CASES:
        groups.setdefault(c["group"], set()).add(cluster[c["id"]])
    assert all(len(ids) == 1 for ids in groups.values()), groups  # each story is one cluster
    assert len({next(iter(ids)) for ids in groups.values()}) == len(groups)  # and stories differ


def test_pruned_articles_still_gather_their_copies(db: Path) -> None:
    from datetime import timedelta

    with Warehouse.open(db) as wh:
        wh.load(_batch([c for c in CASES if c["id"] == "g1-wire"], "run-1"))
    with Warehouse.open(db) as wh:
        pruned = wh.prune(datetime.now(UTC) + timedelta(seconds=1))
    assert pruned["articles"] == 1
    with Warehouse.open(db) as wh:
        wh.load(_batch([c for c in CASES if c["id"] == "g1-trimmed"], "run-2"))
        rows = wh.con.execute(
            "SELECT text_source, text, cluster_id FROM articles ORDER BY fetched_at"
        ).fetchall()
    assert rows[0][:2] == ("pruned", "")
    assert rows[0][2] == rows[1][2]  # the later copy still joins the pruned story


def test_a_run_loaded_in_batches_clusters_and_matches_as_one_load(
    tmp_path: Path, topics_file: Path
) -> None:
    # A streaming run loads its articles in the order they came, a batch at a time:
    # the stories and topic matches are those of the same articles loaded at once.
    from dataclasses import replace

    from flows.settings import load_topics
    from warehouse.staging import stage

    topics = load_topics(topics_file)

    def matched(batch: StagedBatch) -> StagedBatch:
        records = tuple(
            replace(r, matches=tuple(topics.match(r.article.title, r.article.text)))
            for r in batch.batch.articles
        )
        return stage(replace(batch.batch, articles=records, topics=tuple(t.topic for t in topics)))

    whole = matched(_batch(CASES, "run-1"))
    thirds = [
        matched(_batch(CASES[i : i + len(CASES) // 3 + 1], "run-1"))
        for i in range(0, len(CASES), len(CASES) // 3 + 1)
    ]
    assert len(thirds) == 3

    def stored(
        db: Path,
    ) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], list[tuple[int, ...]]]:
        with Warehouse.open(db, read_only=True) as wh:
            clusters = wh.con.execute(
                "SELECT a.canonical_url, c.canonical_url FROM articles a"
                " JOIN articles c ON c.article_id = a.cluster_id ORDER BY 1"
            ).fetchall()
            matches = wh.con.execute(
                "SELECT article_id, topic, score, matched, snippet FROM topic_matches ORDER BY 1, 2"
            ).fetchall()
            runs = wh.con.execute("SELECT new_entries, new_articles, hits FROM runs").fetchall()
        return clusters, matches, runs

    with Warehouse.open(tmp_path / "whole.duckdb") as wh:
        wh.load(whole)
    with Warehouse.open(tmp_path / "batches.duckdb") as wh:
        for seq, batch in enumerate(thirds):
            wh.load(stage(replace(batch.batch, seq=seq)))
        wh.load(stage(replace(thirds[1].batch, seq=1)))  # a batch loaded twice adds nothing
    one, batched = stored(tmp_path / "whole.duckdb"), stored(tmp_path / "batches.duckdb")
    assert batched == one
    assert len({c for _, c in one[0]}) < len(one[0])  # copies were clustered
    assert any(m[3] for m in one[1])  # and some articles are hits
