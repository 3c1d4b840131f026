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
