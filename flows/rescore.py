"""The rescore-topics flow: re-match stored text for changed topics, without refetching.

A topic's version is a hash of its definition. When topics.yaml changes, the
articles stored before the change were matched with the old definition; this
flow matches them again with the new one, for the changed topics only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from extractors.decide import topics_to_rescore
from extractors.topics import TopicSet
from flows.runtime.liveness import with_signs_of_life
from flows.runtime.logs import run_logger
from flows.runtime.progress import progress
from flows.settings import load_topics, use_data_path
from warehouse import open_warehouse

__all__ = ["RescoreSummary", "rescore", "rescore_topics"]


@dataclass
class RescoreSummary:
    topics: list[str] = field(default_factory=list)  # the topics re-matched
    articles: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def rescore(db: str, topics: TopicSet, *, all_topics: bool = False) -> RescoreSummary:
    """Re-match every stored article against the topics that changed (or all of them)."""
    t0 = time.monotonic()
    summary = RescoreSummary()
    with open_warehouse(db) as wh:
        wh.register_topics([ct.topic for ct in topics])
        stale = topics_to_rescore(
            [ct.topic for ct in topics], wh.topic_versions(), wh.count_articles() > 0
        )
        todo = topics if all_topics else topics.only(stale)
        summary.topics = [ct.topic.name for ct in todo]
        summary.hits = dict.fromkeys(summary.topics, 0)
        if not len(todo):
            return summary
        wh.replace_matches([ct.topic for ct in todo])
        progress().start("rescore", wh.count_articles())
        for batch in wh.article_batches():
            pairs = [
                (article_id, m)
                for article_id, title, text in batch
                for m in todo.match(title, text)
            ]
            wh.insert_matches(pairs)
            summary.articles += len(batch)
            progress().advance("rescore", len(batch))
            for _, m in pairs:
                summary.hits[m.topic] += m.matched
        wh.mark_rescored([ct.topic for ct in todo])
    summary.seconds = round(time.monotonic() - t0, 2)
    return summary


@task(name="rescore", cache_policy=NO_CACHE)
def rescore_task(db: str, topics: TopicSet, all_topics: bool) -> RescoreSummary:
    return rescore(db, topics, all_topics=all_topics)


def _run_name() -> str:
    return f"rescore {datetime.now(UTC):%Y-%m-%d %H:%M}Z"


@flow(name="rescore-topics", flow_run_name=_run_name)
@with_signs_of_life
def rescore_topics(
    topics_path: str = "topics.yaml",
    db: str = "data/feedwatch.duckdb",
    all_topics: bool = False,
    data_path: str | None = None,
) -> RescoreSummary:
    """Re-match stored articles for topics whose definition changed (all with all_topics).
    data_path: a lake's Parquet files (docs/scaling.md)."""
    use_data_path(data_path)
    topics = load_topics(topics_path)
    summary = rescore_task(db, topics, all_topics)
    lines = [
        "# Rescore",
        "",
        f"{summary.articles} stored articles re-matched in {summary.seconds} s.",
        "",
        "| topic | hits |",
        "|---|---|",
    ]
    lines += [f"| {t} | {n} |" for t, n in summary.hits.items()] or ["| (none changed) | |"]
    create_markdown_artifact(key="rescore-summary", markdown="\n".join(lines))
    run_logger().info("rescored %s over %d articles", summary.topics or "nothing", summary.articles)
    return summary
