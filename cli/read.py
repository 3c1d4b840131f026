"""The `feedwatch` commands that read the warehouse (and label it): sql, export,
prune, digest, hits, label. Registered on the app by cli.app; each opens the
warehouse for as short a time as it can, read-only when it only reads."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import (
    DEFAULT_DB,
    Command,
    DbOpt,
    SinceOpt,
    TopicOpt,
    TopicsOpt,
    check_format,
    default_topics,
    err,
    exit_codes,
    format_opt,
    open_input,
    out,
    since,
)
from extractors.errors import ConfigError, redact_url
from flows.runtime.progress import for_console, reporting
from flows.units import DURATIONS, counted

__all__ = ["COMMANDS", "SqlCommand"]


class SqlCommand(Command):
    """SQL that opens with a comment ("-- note\\nSELECT …") looks like an option to
    click; options never hold spaces, so an argument that starts with '-' and holds
    whitespace is taken as the SQL."""

    # typer.Context is what typer passes; its base (typer's own click) is not public.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        for i, arg in enumerate(args):
            if arg.startswith("-") and any(c.isspace() for c in arg) and "--" not in args[:i]:
                args = [*args[:i], *args[i + 1 :], "--", arg]
                break
        return super().parse_args(ctx, args)


def sql(
    query: Annotated[
        str,
        typer.Argument(
            metavar="SQL", help="The SQL to run (read-only); '-' reads it from standard input."
        ),
    ],
    db: DbOpt = DEFAULT_DB,
    fmt: Annotated[str, format_opt("table", "csv", "json")] = "table",
) -> None:
    """Run SQL on a read-only connection to the warehouse.

    Several statements (separated by ';') run in turn; the table format shows each
    result, csv and json take one statement that returns rows.
    """
    from warehouse import open_warehouse

    check_format(fmt, ("table", "csv", "json"))
    with exit_codes():
        text = open_input(Path(query)).read() if query == "-" else query
        with open_warehouse(db, read_only=True) as wh:
            results = wh.query(text)
        if fmt != "table" and len(results) > 1:
            raise ConfigError(
                f"--format {fmt} writes one result, and the SQL has {len(results)} statements"
                " that return rows: run them one at a time, or use --format table"
            )
    for n, (columns, rows) in enumerate(results):
        if n:
            out.print()
        _print_rows(columns, rows, fmt)


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "json":
        for r in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, r, strict=True)), default=str) + "\n")
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")  # a line a row, as shell tools expect
        w.writerow(columns)
        w.writerows(rows)
    else:
        table = Table(*columns)
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        out.print(table)
        out.print(counted(len(rows), "row"))


def export(
    output: Annotated[Path, typer.Option("--out", metavar="FOLDER", help="Folder to write into.")],
    fmt: Annotated[str, format_opt("parquet", "csv")] = "parquet",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Write every table and view to Parquet or CSV files, for long analyses."""
    from warehouse import open_warehouse

    check_format(fmt, ("parquet", "csv"))
    # Opened first: a wrong --db makes no empty folder and prints no progress.
    with (
        exit_codes(),
        open_warehouse(db, read_only=True) as wh,
        reporting(for_console(err)) as report,
    ):
        try:
            counts = wh.export(
                output,
                fmt,
                on_start=lambda files: report.start("export", files),
                on_written=lambda name, rows: report.advance("export"),
            )
        except OSError as e:
            raise ConfigError(f"--out {output}: cannot write: {e.strerror or e}") from e
    for name, rows in counts.items():
        sys.stdout.write(f"{output / (name + '.' + fmt)}: {counted(rows, 'row')}\n")


def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="DURATION", help=f"Age of the articles to prune: {DURATIONS}."
        ),
    ] = "180d",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Drop the text of old articles; keep what deduplication and analysis need."""
    from warehouse import open_warehouse

    with exit_codes():
        cutoff = since(older_than, "--older-than")
        with open_warehouse(db) as wh:
            pruned = wh.prune(cutoff)
    sys.stdout.write(
        f"Dropped the text of {counted(pruned['articles'], 'article')} and the feed text of "
        f"{counted(pruned['entries'], 'entry', 'entries')} older than {older_than}.\n"
    )


def digest(
    output: Annotated[Path, typer.Option("--out", metavar="FILE", help="The HTML page to write.")],
    db: DbOpt = DEFAULT_DB,
    since_: SinceOpt = "24h",
    topic: TopicOpt = None,
) -> None:
    """Write the digest: one HTML page that opens anywhere, offline.

    It holds matched articles per topic per day (30 days), the new stories with
    their matched words marked, and the feeds that need care.
    """
    from flows.report import build_digest, write_digest

    start = since(since_)
    with exit_codes():
        d = build_digest(db, start, topic)
        try:
            page = write_digest(d, output)
        except OSError as e:
            raise ConfigError(f"--out {output}: cannot write: {e.strerror or e}") from e
    per_topic = ", ".join(f"{t} {sum(s['topic'] == t for s in d.stories)}" for t in sorted(d.daily))
    out.print(
        f"Wrote {page}: {counted(len(d.stories), 'new story', 'new stories')} since"
        f" {start:%Y-%m-%d %H:%M} UTC ({per_topic or 'no topics'});"
        f" {len(d.unhealthy)} of {counted(len(d.health), 'feed')} need care."
    )
    out.print(f"Open it: {page.resolve().as_uri()}")


def hits(
    db: DbOpt = DEFAULT_DB,
    since_: SinceOpt = "7d",
    topic: TopicOpt = None,
    fmt: Annotated[str, format_opt("table", "json (one object a line)")] = "table",
) -> None:
    """List new stories: one line per story and topic, its best-scoring copy."""
    from flows.settings import check_topic
    from warehouse import open_warehouse

    check_format(fmt, ("table", "json"))
    start = since(since_)
    with exit_codes(), open_warehouse(db, read_only=True) as wh:
        check_topic(topic, wh.current_topics())
        stories = wh.new_stories(start, topic)
    if fmt == "json":
        keep = (
            "article_id",
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
    out.print(
        f"{counted(len(stories), 'new story', 'new stories')} since {start:%Y-%m-%d %H:%M} UTC"
    )


def label(
    article: Annotated[
        str,
        typer.Argument(
            metavar="ARTICLE_ID", help="A stored article (its id, or the first characters of it)."
        ),
    ],
    topic: Annotated[str, typer.Option("--topic", metavar="NAME", help="The topic judged.")],
    yes: Annotated[
        bool | None,
        typer.Option("--yes/--no", help="The article is about the topic (--yes) or not (--no)."),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", metavar="TEXT", help="Why, for the record.")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", metavar="NAME", help="Who judged [default: your login].")
    ] = None,
    db: DbOpt = DEFAULT_DB,
    topics: TopicsOpt = None,
) -> None:
    """Store your verdict on an article: about the topic (--yes) or not (--no).

    Labels become an evaluation set: 'feedwatch topics eval --labels-from-warehouse'
    and 'feedwatch topics tune --labels-from-warehouse' measure the topics on them.
    A new verdict on the same article and topic replaces the old one.
    """
    import getpass

    from flows.settings import check_topic, load_topics
    from warehouse import open_warehouse

    with exit_codes():
        if yes is None:
            raise ConfigError("say --yes (about the topic) or --no (not about it)")
        check_topic(topic, [ct.topic.name for ct in load_topics(topics or default_topics())])
        who = by or getpass.getuser()
        with open_warehouse(db) as wh:
            stored = wh.article(article)
            said = wh.stored_match(stored["article_id"], topic)
            wh.set_label(stored["article_id"], topic, yes, note, who)
    verdict = said["verdict"] if said else "miss: none of its terms is there"
    agrees = (said is not None and said["matched"]) == yes
    out.print(
        f"Labelled {stored['article_id']} {'about' if yes else 'not about'} {topic} ({who})."
        f" feedwatch said {verdict}" + ("" if agrees else " — they disagree: see 'topics tune'.")
    )


def review(
    topic: TopicOpt = None,
    port: Annotated[
        int,
        typer.Option(
            "--port", metavar="PORT", min=0, max=65535, help="Port on 127.0.0.1 (0: any)."
        ),
    ] = 8765,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="Hits and near-misses shown, each.")
    ] = 50,
    by: Annotated[
        str | None, typer.Option("--by", metavar="NAME", help="Who judges [default: your login].")
    ] = None,
    db: DbOpt = DEFAULT_DB,
    topics: TopicsOpt = None,
) -> None:
    """Review a topic's hits and near-misses in your browser: yes or no, one click each.

    Serves a page on 127.0.0.1 listing the topic's recent hits and its near-misses
    (the best scores under its threshold), each with its headline, the sentence that
    matched and its outlet. Each verdict is stored at once in topic_labels, as
    'feedwatch label' stores it; then 'feedwatch topics learn --labels-from-warehouse'
    learns from them. Ctrl-C stops it.
    """
    import getpass

    from cli.review import ReviewServer
    from flows.settings import check_topic, load_topics
    from warehouse import open_warehouse

    with exit_codes():
        names = [ct.topic.name for ct in load_topics(topics or default_topics())]
        if topic is not None:
            check_topic(topic, names)
            names = [topic, *(n for n in names if n != topic)]
        with open_warehouse(db, read_only=True):
            pass  # a missing or unreadable warehouse is said now, not on the first click
        try:
            server = ReviewServer(db, names, who=by or getpass.getuser(), port=port, limit=limit)
        except OSError as e:
            raise ConfigError(
                f"--port {port}: cannot listen on 127.0.0.1: {e.strerror or e}"
            ) from e
    out.print(f"Reviewing {', '.join(names)} at {server.url} (Ctrl-C stops)", markup=False)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


# In the order `feedwatch --help` lists them, with their command classes.
COMMANDS: list[tuple[Any, type[Command]]] = [
    (sql, SqlCommand),
    (export, Command),
    (prune, Command),
    (digest, Command),
    (hits, Command),
    (label, Command),
    (review, Command),
]
