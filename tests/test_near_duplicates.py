"""Near-duplicates: wire copies join one story; other reports of the same event stay apart."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import batch_of, corpora
from extractors.dedup import NEAR_DUPLICATE, content_hash, signature, similarity
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


# How outlets republish a wire story, in each script's own conventions.
_BYLINES = {
    "ko": ("(서울=뉴스통신) 김기자 기자 = ", "\n저작권자 © 무단 전재 및 재배포 금지"),
    "zh": ("（本报记者 王明）", "\n本文来源：综合报道。责任编辑：李华"),
    "ja": ("【共同】", "\n（記事の無断転載を禁じます）"),
}
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[.])\s|\n+")


def _cjk_stories() -> list[dict[str, str]]:
    root = corpora()
    rows = [
        json.loads(line)
        for name in ("topics-real", "topics-china-russia")
        for file in ("cases.jsonl", "borderline.jsonl")
        for line in (root / name / file).read_text(encoding="utf-8").splitlines()
    ]
    seen: set[str] = set()
    stories = []
    for r in rows:
        if r["lang"] in _BYLINES and signature(r["text"]) and r["text"] not in seen:
            seen.add(r["text"])
            stories.append(r)
    return stories


def _republished(story: dict[str, str], other: dict[str, str]) -> dict[str, str]:
    """Copies of a story as other outlets run it."""
    text, title, lang = story["text"], story["title"], story["lang"]
    # A paragraph's worth (a sixth of the text) dropped from the middle, by sentences.
    units = [u for u in _SENTENCE_END.split(text) if u and u.strip()]
    start = stop = len(units) // 2
    while stop < len(units) and sum(map(len, units[start:stop])) < len(text) // 6:
        stop += 1
    dropped = " ".join(units[:start] + units[stop:])
    if (
        len(text) - len(dropped) > len(text) // 4
    ):  # a brief of two sentences has no paragraph to spare
        dropped = text
    head, tail = _BYLINES[lang]
    headline = title[len(title) // 2 :] + " " + title[: len(title) // 2]
    return {
        "new headline": f"{headline}\n{text}",
        "paragraph dropped": dropped,
        "paragraph added": f"{text}\n{other['text'][: len(text) // 5]}",
        "byline changed": f"{head}{text}{tail}",
        "all of these": f"{headline}\n{head}{dropped}{tail}",
    }


@pytest.mark.corpora
def test_korean_chinese_and_japanese_copies_join_and_other_reports_stay_apart() -> None:
    stories = _cjk_stories()
    by_lang = {lang: [s for s in stories if s["lang"] == lang] for lang in _BYLINES}
    assert {lang: len(s) >= 3 for lang, s in by_lang.items()} == dict.fromkeys(_BYLINES, True)
    compared = 0
    for lang, group in by_lang.items():
        for i, story in enumerate(group):
            original = signature(story["text"])
            for how, copy in _republished(story, group[i - 1]).items():
                if not signature(copy):  # cut below what is clustered on: by design
                    assert how in ("paragraph dropped", "all of these"), (story["title"], how)
                    continue
                compared += 1
                s = similarity(original, signature(copy))
                assert s >= NEAR_DUPLICATE, (lang, story["title"], how, s)
        # Every other story of the same language, the same event's other reports among them.
        for a, b in itertools.combinations(group, 2):
            s = similarity(signature(a["text"]), signature(b["text"]))
            assert s < NEAR_DUPLICATE, (lang, a["title"], b["title"], s)
    assert compared >= 4 * len(stories), compared


@pytest.mark.corpora
def test_the_warehouse_makes_one_story_of_each_cjk_story_and_its_copies(db: Path) -> None:
    every = _cjk_stories()
    stories = [
        s
        for i, s in enumerate(every)
        if all(map(signature, _republished(s, every[i - 1]).values()))
    ]
    cases = []
    for i, story in enumerate(stories):
        cases.append(
            {"id": f"s{i}", "group": f"g{i}", "title": story["title"], "text": story["text"]}
        )
        copies = _republished(story, stories[i - 1])
        for j, how in enumerate(("byline changed", "all of these")):
            cases.append({"id": f"s{i}c{j}", "group": f"g{i}", "title": "", "text": copies[how]})
    with Warehouse.open(db) as wh:
        wh.load(_batch(cases[::2], "run-1"))
        wh.load(_batch(cases[1::2], "run-2"))
        rows = wh.con.execute("SELECT canonical_url, cluster_id FROM articles").fetchall()
    cluster = {url.rsplit("/", 1)[1]: c for url, c in rows}
    groups: dict[str, set[str]] = {}
    for c in cases:
        groups.setdefault(c["group"], set()).add(cluster[c["id"]])
    assert all(len(ids) == 1 for ids in groups.values()), groups
    assert len({next(iter(ids)) for ids in groups.values()}) == len(stories)
