"""The digest flow: what the topics hit since the last digest, and which feeds need care.

Reads the warehouse in one short read-only session (polls can keep loading:
a reader does not block the writer's next run for long), writes the digest as
a self-contained HTML page, and leaves it as Prefect artifacts: a link to the
page, markdown for people, a table of the stories.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from extractors.errors import redact_url
from flows.report import Digest, build_digest, write_digest
from flows.runtime.liveness import with_signs_of_life
from flows.runtime.logs import run_logger
from flows.settings import use_data_path
from flows.units import counted

__all__ = ["Digest", "build_digest", "digest", "digest_markdown", "write_digest"]


def _run_name() -> str:
    return f"digest {datetime.now(UTC):%Y-%m-%d}"


@flow(name="digest", flow_run_name=_run_name)
@with_signs_of_life
def digest(
    db: str = "data/feedwatch.duckdb",
    since_hours: float = 24.0,
    reports_dir: str = "reports",
    data_path: str | None = None,
) -> Digest:
    """Summarise the new stories of the last `since_hours` and the feeds needing care;
    write reports_dir/digest-YYYY-MM-DD.html and link it from an artifact.
    data_path: a lake's Parquet files (docs/scaling.md)."""
    use_data_path(data_path)
    since = datetime.now(UTC) - timedelta(hours=since_hours)
    result = build_digest(db, since)
    page = write_digest(result, Path(reports_dir) / f"digest-{result.until:%Y-%m-%d}.html")
    create_link_artifact(
        key="digest-page",
        link=page.resolve().as_uri(),
        link_text=f"Digest {result.until:%Y-%m-%d} (HTML, {counted(len(result.stories), 'story', 'stories')})",
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
        lines += [f"## {topic}: {counted(len(mine), 'story', 'stories')}", ""]
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
