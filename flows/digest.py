"""The digest flow: what the topics hit since the last digest, and which feeds need care.

Reads the warehouse in one short read-only session (polls can keep loading:
a reader does not block the writer's next run for long), writes the digest as
a self-contained HTML page, and leaves it as Prefect artifacts: a link to the
page, markdown for people, a table of the stories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from extractors.errors import redact_url
from flows.logs import run_logger
from flows.report import chart_days, digest_html
from warehouse.queries import (
    FeedHealth,
    check_topic,
    daily_counts_of,
    feed_health_of,
    latest_hit_days_of,
    new_stories_of,
)
from warehouse.store import Warehouse

__all__ = ["Digest", "build_digest", "digest", "digest_markdown", "write_digest"]


@dataclass
class Digest:
    since: datetime
    stories: list[dict[str, Any]] = field(default_factory=list)
    unhealthy: list[FeedHealth] = field(default_factory=list)
    until: datetime = field(default_factory=lambda: datetime.now(UTC))
    health: list[FeedHealth] = field(default_factory=list)
    daily: dict[str, dict[date, int]] = field(default_factory=dict)  # topic → day → articles
    latest: dict[str, date] = field(default_factory=dict)  # topic → its last day with a hit


def build_digest(db: str | Path, since: datetime, topic: str | None = None) -> Digest:
    """Everything the digest shows, read in one short read-only session."""
    now = datetime.now(UTC)
    days = chart_days(now.date())
    with Warehouse.open(db, read_only=True) as wh:
        check_topic(wh.con, topic)
        health = feed_health_of(wh.con)
        daily = daily_counts_of(wh.con, days[0], days[-1])
        stories = new_stories_of(wh.con, since, topic)
        latest = latest_hit_days_of(wh.con)
    if topic is not None:
        daily = {topic: daily[topic]}
    return Digest(
        since=since,
        stories=stories,
        unhealthy=[h for h in health if h.status in {"failing", "stale", "disabled"}],
        until=now,
        health=health,
        daily=daily,
        latest=latest,
    )


def write_digest(d: Digest, out: str | Path) -> Path:
    """Write the HTML page (atomically: a reader never sees half of it)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(digest_html(d), encoding="utf-8")
    tmp.replace(path)
    return path


def _run_name() -> str:
    return f"digest {datetime.now(UTC):%Y-%m-%d}"


@flow(name="digest", flow_run_name=_run_name)
def digest(
    db: str = "data/feedwatch.duckdb", since_hours: float = 24.0, reports_dir: str = "reports"
) -> Digest:
    """Summarise the new stories of the last `since_hours` and the feeds needing care;
    write reports_dir/digest-YYYY-MM-DD.html and link it from an artifact."""
    since = datetime.now(UTC) - timedelta(hours=since_hours)
    result = build_digest(db, since)
    page = write_digest(result, Path(reports_dir) / f"digest-{result.until:%Y-%m-%d}.html")
    create_link_artifact(
        key="digest-page",
        link=page.resolve().as_uri(),
        link_text=f"Digest {result.until:%Y-%m-%d} (HTML, {len(result.stories)} stories)",
        description=f"The digest page, written on the worker's disk: {page.resolve()}",
    )
    create_markdown_artifact(
        key="digest", markdown=digest_markdown(result), description="New stories per topic"
    )
    if result.stories:
        create_table_artifact(
            key="digest-stories",
            table=[
                {
                    "topic": s["topic"],
                    "score": s["score"],
                    "title": s["title"] or "",
                    "outlet": s["outlet"] or "",
                    "published": f"{s['published_at']:%Y-%m-%d}" if s["published_at"] else "",
                    "copies": s["copies"],
                    "link": redact_url(s["link"]),
                }
                for s in result.stories
            ],
            description="The digest's stories, one row per story and topic",
        )
    run_logger().info(
        "digest since %s: %d stories, %d feeds needing care; page %s",
        f"{since:%Y-%m-%d %H:%M}Z",
        len(result.stories),
        len(result.unhealthy),
        page,
    )
    return result


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def digest_markdown(d: Digest) -> str:
    lines = [f"# Digest since {d.since:%Y-%m-%d %H:%M} UTC", ""]
    if not d.stories:
        lines += ["No new stories.", ""]
    topics = sorted({s["topic"] for s in d.stories})
    for topic in topics:
        mine = [s for s in d.stories if s["topic"] == topic]
        lines += [f"## {topic}: {len(mine)} stories", ""]
        for s in mine:
            when = f"{s['published_at']:%Y-%m-%d}" if s["published_at"] else "undated"
            copies = f" · {s['copies']} copies" if s["copies"] > 1 else ""
            lines.append(
                f"- [{_cell(s['title'] or redact_url(s['link']))}]({redact_url(s['link'])}) — {_cell(s['outlet'] or '')},"
                f" {when}{copies}"
            )
            if s["snippet"]:
                lines.append(f"  > {_cell(s['snippet'])[:300]}")
        lines.append("")
    if d.unhealthy:
        lines += ["## Feeds needing care", "", "| feed | status | problem |", "|---|---|---|"]
        lines += [f"| {h.feed_id} | {h.status} | {_cell(h.problem)[:200]} |" for h in d.unhealthy]
        lines.append("")
    return "\n".join(lines)
