"""The `feedwatch` command: run, demo, rescore, sql, export, prune (topics and feeds
subcommands live in cli_topics, cli_feeds and cli_alerts; exit codes in _cli)."""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from extractors.errors import ConfigError, redact_url
from flows._cli import (
    DEFAULT_DB,
    DEMO_DB,
    DbOpt,
    FeedsOpt,
    TopicsOpt,
    check_format,
    default_topics,
    err,
    exit_codes,
    fail,
    out,
    prepare_prefect,
)
from flows.cli_alerts import alerts_app
from flows.cli_feeds import feeds_app
from flows.cli_topics import topics_app
from flows.progress import for_console, reporting

if TYPE_CHECKING:
    from flows.summary import RunSummary

app = typer.Typer(
    help="Watch news feeds for the topics you care about; query the hits with SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(topics_app, name="topics")
app.add_typer(feeds_app, name="feeds")
app.add_typer(alerts_app, name="alerts")


@app.command()
def run(
    feeds: FeedsOpt = Path("feeds.yaml"),
    topics: TopicsOpt = None,
    db: DbOpt = DEFAULT_DB,
    all_feeds: Annotated[
        bool, typer.Option("--all", help="Poll every feed, due or not (disabled ones excepted).")
    ] = False,
    extract_workers: Annotated[
        int | None,
        typer.Option(
            "--extract-workers",
            min=1,
            help="Processes extracting pages (default: every core once a run has ~100 pages).",
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="Extract on a Dask cluster: its scheduler (tcp://host:8786), or 'local'.",
        ),
    ] = None,
) -> None:
    """Poll every due feed once, load new articles and topic hits into the warehouse."""
    from flows.settings import load_feeds, load_topics

    topics = topics or default_topics()
    with exit_codes():  # check the configuration before starting Prefect, so mistakes fail fast
        load_feeds(feeds)
        load_topics(topics)
    summary = _run_flow(
        feeds,
        topics,
        db,
        poll_all=all_feeds,
        source="config",
        extract_workers=extract_workers,
        dask_address=dask,
    )
    _print_summary(summary)


def _run_flow(
    feeds: Path,
    topics: Path,
    db: Path,
    *,
    poll_all: bool,
    source: str,
    extract_workers: int | None = None,
    dask_address: str | None = None,
) -> RunSummary:
    prepare_prefect()
    from flows.poll import poll_feeds

    with exit_codes(), reporting(for_console(err)):
        return poll_feeds(
            feeds_path=str(feeds),
            topics_path=str(topics),
            db=str(db),
            poll_all=poll_all,
            feed_source=source,
            extract_workers=extract_workers,
            dask_address=dask_address,
        )


def _print_summary(s: RunSummary) -> None:
    out.print(
        f"Polled {s.feeds_polled} feeds ({s.feeds_skipped} not due, {s.not_modified} not modified, "
        f"{len(s.failed)} failed) in {s.seconds:.1f} s"
    )
    out.print(
        f"New entries: {s.new_entries} · new articles: {s.new_articles} "
        f"(pages fetched: {s.pages_fetched}, copies of stored articles: {s.duplicate_articles}) "
        f"· topic hits: {len(s.hits)}"
    )
    stories = s.stories_per_topic()
    for topic, n in sorted(s.hits_per_topic().items()):
        out.print(f"  {topic}: {n} new hits in {stories[topic]} stories")
    for name, error in s.failed:
        out.print(f"  [red]failed[/red] {name}: {error}")
    if s.spooled_loaded:
        out.print(f"Loaded {s.spooled_loaded} batches spooled by earlier runs.")
    if s.spooled:
        out.print(
            "[yellow]The warehouse was held by another process:[/yellow] this run's batch is"
            " spooled beside it and loads at the next run; nothing is lost."
        )
    if s.stale_topics:
        out.print(
            f"[yellow]Topics changed since the last rescore: {', '.join(s.stale_topics)}.[/yellow]"
            " Stored articles keep their old matches until you run 'feedwatch rescore'."
        )


@app.command()
def demo(
    db: DbOpt = DEMO_DB,
    topics: TopicsOpt = None,
) -> None:
    """Serve the bundled demo site on 127.0.0.1 and poll it (works offline)."""
    import tempfile

    from flows.demo import ATOM_PATH, RSS_PATH, demo_server

    topics = topics or default_topics()
    # The demo site lives on loopback, which feedwatch otherwise refuses to fetch.
    os.environ["FEEDWATCH_ALLOW_PRIVATE_NETWORKS"] = "1"
    with demo_server() as server, tempfile.TemporaryDirectory() as tmp:
        feeds = Path(tmp) / "feeds.yaml"
        feeds.write_text(
            # Our own loopback site: no need for the politeness delay real hosts get.
            "fetch:\n  host_delay: 0s\n"
            "feeds:\n"
            f"  - name: demo-latest\n    url: {server.url(RSS_PATH)}\n    tags: [demo]\n"
            f"  - name: demo-world\n    url: {server.url(ATOM_PATH)}\n    tags: [demo]\n"
        )
        out.print(
            f"Demo site serving on {server.base_url} (2 feeds, {len(server.routes) - 3} pages)"
        )
        summary = _run_flow(feeds, topics, db, poll_all=True, source="demo")
    _print_summary(summary)
    out.print()
    _print_top_hits(db)
    out.print(f'\nExplore the warehouse: feedwatch sql --db {db} "SELECT * FROM topic_hits"')
    out.print(f"See it as a page:      feedwatch digest --db {db} --since 1h --out report.html")


def _print_top_hits(db: Path, limit: int = 10) -> None:
    from warehouse.queries import top_hits_of
    from warehouse.store import Warehouse

    # The demo is the warehouse's writer: a short session of its own.
    with exit_codes(), Warehouse.open(db) as wh:
        rows = top_hits_of(wh.con, limit=limit)
    table = Table(title=f"Top hits in {db}", title_justify="left")
    for col in ("topic", "score", "published", "title", "matched terms"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["topic"],
            f"{r['score']:g}",
            f"{r['published_at']:%Y-%m-%d}" if r["published_at"] else "",
            r["title"] or r["link"],
            ", ".join(r["terms"][:6]),
        )
    out.print(table)


@app.command()
def rescore(
    topics: TopicsOpt = None,
    db: DbOpt = DEFAULT_DB,
    all_topics: Annotated[
        bool, typer.Option("--all", help="Re-match every topic, changed or not.")
    ] = False,
) -> None:
    """Re-match stored articles for topics changed since the last rescore (no refetching)."""
    from flows.settings import load_topics

    topics = topics or default_topics()
    with exit_codes():
        load_topics(topics)
    prepare_prefect()
    from flows.rescore import rescore_topics

    with exit_codes(), reporting(for_console(err)):
        summary = rescore_topics(topics_path=str(topics), db=str(db), all_topics=all_topics)
    if not summary.topics:
        out.print("Every topic is up to date: nothing to re-match.")
        return
    out.print(f"Re-matched {summary.articles} stored articles in {summary.seconds:.1f} s:")
    for topic, hits in summary.hits.items():
        out.print(f"  {topic}: {hits} hits")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="The SQL to run (read-only).")],
    db: DbOpt = DEFAULT_DB,
    fmt: Annotated[
        str, typer.Option("--format", help="Output format: table, csv or json.")
    ] = "table",
) -> None:
    """Run SQL on a read-only connection to the warehouse."""
    from warehouse.queries import run_read_only

    check_format(fmt, ("table", "csv", "json"))
    with exit_codes():
        columns, rows = run_read_only(db, query)
    _print_rows(columns, rows, fmt)


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "json":
        for r in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, r, strict=True)), default=str) + "\n")
    elif fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(columns)
        w.writerows(rows)
    else:
        table = Table(*columns)
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        out.print(table)
        out.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Write every table and view to Parquet or CSV files, for long analyses."""
    from warehouse.export import EXPORTED
    from warehouse.export import export as run_export

    with exit_codes(), reporting(for_console(err)) as report:
        report.start("export", len(EXPORTED))
        counts = run_export(db, out, fmt, lambda name, rows: report.advance("export"))
    for name, rows in counts.items():
        sys.stdout.write(f"{out / (name + '.' + fmt)}: {rows} rows\n")


@app.command()
def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age, such as 180d, 26w or 1y.")
    ] = "180d",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Drop the text of old articles; keep what deduplication and analysis need."""
    from warehouse.export import parse_age
    from warehouse.export import prune as run_prune

    with exit_codes():
        pruned = run_prune(db, parse_age(older_than))
    sys.stdout.write(
        f"Dropped the text of {pruned['articles']} articles and the feed text of "
        f"{pruned['entries']} entries older than {older_than}.\n"
    )


def _since(value: str) -> datetime:
    from datetime import UTC, timedelta

    from flows.settings import parse_interval

    try:
        return datetime.now(UTC) - timedelta(seconds=parse_interval(value))
    except ValueError as e:
        raise fail(ConfigError(f"--since: {e}"), 2) from e


SinceOpt = Annotated[
    str, typer.Option("--since", help="New stories first seen in this last stretch: 24h, 7d, 90m.")
]
TopicOpt = Annotated[str | None, typer.Option("--topic", help="Only this topic.")]


@app.command()
def digest(
    output: Annotated[Path, typer.Option("--out", help="The HTML page to write.")],
    db: DbOpt = DEFAULT_DB,
    since: SinceOpt = "24h",
    topic: TopicOpt = None,
) -> None:
    """Write the digest as one HTML page that opens anywhere, offline: matched articles per
    topic per day (30 days), the new stories with their matched words, feed health."""
    from flows.report import build_digest, write_digest

    start = _since(since)
    with exit_codes():
        d = build_digest(db, start, topic)
    try:
        page = write_digest(d, output)
    except OSError as e:
        raise fail(ConfigError(f"--out {output}: cannot write: {e.strerror or e}"), 2) from e
    per_topic = ", ".join(f"{t} {sum(s['topic'] == t for s in d.stories)}" for t in sorted(d.daily))
    out.print(
        f"Wrote {page}: {len(d.stories)} new stories since {start:%Y-%m-%d %H:%M} UTC"
        f" ({per_topic or 'no topics'}); {len(d.unhealthy)} of {len(d.health)} feeds need care."
    )
    out.print(f"Open it: {page.resolve().as_uri()}")


@app.command()
def hits(
    db: DbOpt = DEFAULT_DB,
    since: SinceOpt = "7d",
    topic: TopicOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json (one object a line).")] = (
        "table"
    ),
) -> None:
    """List new stories (one line per story and topic, its best-scoring copy)."""
    from warehouse.queries import check_topic, new_stories_of
    from warehouse.store import Warehouse

    check_format(fmt, ("table", "json"))
    start = _since(since)
    with exit_codes(), Warehouse.open(db, read_only=True) as wh:
        check_topic(wh.con, topic)
        stories = new_stories_of(wh.con, start, topic)
    if fmt == "json":
        keep = (
            "topic",
            "score",
            "title",
            "link",
            "outlet",
            "published_at",
            "copies",
            "terms",
            "snippet",
            "cluster_id",
            "first_seen",
        )
        for s in stories:
            row = {k: s[k] for k in keep} | {"link": redact_url(s["link"])}
            sys.stdout.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        return
    table = Table("topic", "score", "published", "outlet", "title", "copies")
    for s in stories:
        table.add_row(
            s["topic"],
            f"{s['score']:g}",
            f"{s['published_at']:%Y-%m-%d}" if s["published_at"] else "",
            s["outlet"] or "",
            s["title"] or redact_url(s["link"]),
            str(s["copies"]),
        )
    out.print(table)
    out.print(f"{len(stories)} new stories since {start:%Y-%m-%d %H:%M} UTC")


def main() -> None:
    app()


if __name__ == "__main__":
    main()


@app.command()
def serve(
    prefect_yaml: Annotated[
        Path, typer.Option("--prefect-yaml", help="The deployments to serve.")
    ] = Path("prefect.yaml"),
    limit: Annotated[int, typer.Option("--limit", help="Flow runs at once, at most.")] = 2,
) -> None:
    """Run every deployment of prefect.yaml on its schedule from this process (no work pool
    or worker needed), against PREFECT_API_URL; stop with Ctrl-C."""
    from flows.serve import serve as serve_deployments

    with exit_codes():
        serve_deployments(prefect_yaml, limit=limit)
