"""What a poll run did: the summary the CLI prints and the Prefect artifact shows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from extractors.errors import redact_url
from flows.units import counted
from warehouse.queries import FeedHealth
from warehouse.store import Hit

__all__ = ["RunSummary", "summary_markdown"]


@dataclass
class RunSummary:
    """What a poll run did, for the CLI, the artifact and the tests."""

    run_id: str
    flow_run_id: str | None = None
    feeds_due: int = 0
    feeds_skipped: int = 0
    feeds_polled: int = 0
    not_modified: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (feed, error)
    entries_seen: int = 0
    new_entries: int = 0
    pages_fetched: int = 0
    new_articles: int = 0
    duplicate_articles: int = 0
    hits: list[Hit] = field(default_factory=list)
    unhealthy: list[FeedHealth] = field(default_factory=list)
    spooled: bool = False  # the warehouse was held: the batch waits in the spool
    spooled_loaded: int = 0  # batches of earlier runs loaded at the start of this one
    stale_topics: list[str] = field(default_factory=list)  # changed since the last rescore
    seconds: float = 0.0
    # Seconds from the start of the run to the end of each step, in order:
    # where the time of a run went (feeds, pages, extraction, load).
    timeline: dict[str, float] = field(default_factory=dict)
    events: int = 0  # alert events emitted: one per new story per topic

    def hits_per_topic(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for h in self.hits:
            counts[h.topic] += 1
        return dict(counts)

    def stories_per_topic(self) -> dict[str, int]:
        """Distinct stories (clusters of near-duplicate copies) among the new hits."""
        clusters: dict[str, set[str]] = defaultdict(set)
        for h in self.hits:
            clusters[h.topic].add(h.cluster_id or h.article_id)
        return {t: len(c) for t, c in clusters.items()}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(s: RunSummary) -> str:
    lines = [
        f"# Poll run `{s.run_id}`",
        "",
        "| feeds due | polled | not modified | failed | new entries | new articles | duplicates | hits | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {s.feeds_due} | {s.feeds_polled} | {s.not_modified} | {len(s.failed)} | {s.new_entries}"
        f" | {s.new_articles} | {s.duplicate_articles} | {len(s.hits)} | {s.seconds} |",
        "",
    ]
    if s.hits:
        lines += ["## Hits per topic", ""]
        stories = s.stories_per_topic()
        lines += [
            f"- **{t}**: {counted(n, 'article')}, {counted(stories[t], 'story', 'stories')}"
            for t, n in sorted(s.hits_per_topic().items())
        ]
        lines += ["", "## New hits", "", "| topic | score | title |", "|---|---|---|"]
        for h in s.hits[:50]:
            link = redact_url(h.url)
            lines.append(f"| {h.topic} | {h.score:g} | [{_cell(h.title or link)}]({link}) |")
        lines.append("")
    if s.failed:
        lines += ["## Failed in this run", "", "| feed | error |", "|---|---|"]
        lines += [f"| {name} | {_cell(err)[:200]} |" for name, err in s.failed]
        lines.append("")
    if s.spooled:
        lines += [
            "## Warehouse busy",
            "",
            "Another process held the warehouse: this batch waits in the spool and loads at the"
            " next run. The counts above are what the next run will load, at most.",
            "",
        ]
    if s.stale_topics:
        lines += [
            "## Topics changed since the last rescore",
            "",
            f"{', '.join(s.stale_topics)}: run `feedwatch rescore` (or the rescore-topics"
            " deployment) to re-match stored articles.",
            "",
        ]
    if s.unhealthy:
        lines += ["## Feeds needing attention", "", "| feed | status | problem |", "|---|---|---|"]
        lines += [f"| {h.feed_id} | {h.status} | {_cell(h.problem)[:200]} |" for h in s.unhealthy]
        lines.append("")
    return "\n".join(lines)
