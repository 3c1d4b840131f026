"""The `feedwatch` command.

Exit codes: 0 done (also when single feeds failed: they are recorded),
1 the warehouse or a run could not be used, 2 bad command line, configuration
or query (the message names the file, the line and the problem).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from extractors.errors import ConfigError, FeedwatchError, ReadOnlyError

if TYPE_CHECKING:
    from flows.poll import RunSummary

app = typer.Typer(
    help="Watch news feeds for the topics you care about; query the hits with SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="Check topic definitions against text.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
feeds_app = typer.Typer(
    help="List feed health; add, import, export, disable and enable feeds.", no_args_is_help=True
)
app.add_typer(feeds_app, name="feeds")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_DB = Path("data/feedwatch.duckdb")
DEMO_DB = Path("data/demo.duckdb")


def _prepare_prefect() -> None:
    """Environment for Prefect, set before it is imported; the user's own settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "feedwatch")


def _fail(error: Exception, code: int) -> typer.Exit:
    err.print(f"feedwatch: {error}", markup=False)
    return typer.Exit(code)


@contextmanager
def _exit_codes() -> Iterator[None]:
    """feedwatch's errors as messages and exit codes: 2 for what the user gave
    (configuration, queries, refused writes), 1 for what went wrong underneath."""
    try:
        yield
    except (ConfigError, ReadOnlyError) as e:
        raise _fail(e, 2) from e
    except FeedwatchError as e:
        raise _fail(e, 1) from e


def default_topics() -> Path:
    """./topics.yaml when present, else the topics shipped with feedwatch."""
    local = Path("topics.yaml")
    if local.exists():
        return local
    return Path(str(resources.files("flows.defaults").joinpath("topics.yaml")))


FeedsOpt = Annotated[Path, typer.Option("--feeds", help="Feeds file (YAML).")]
TopicsOpt = Annotated[
    Path | None, typer.Option("--topics", help="Topics file (YAML). [default: ./topics.yaml]")
]
DbOpt = Annotated[Path, typer.Option("--db", help="The DuckDB warehouse file.")]


@app.command()
def run(
    feeds: FeedsOpt = Path("feeds.yaml"),
    topics: TopicsOpt = None,
    db: DbOpt = DEFAULT_DB,
    all_feeds: Annotated[
        bool, typer.Option("--all", help="Poll every feed, due or not (disabled ones excepted).")
    ] = False,
) -> None:
    """Poll every due feed once, load new articles and topic hits into the warehouse."""
    from flows.settings import load_feeds, load_topics

    topics = topics or default_topics()
    with _exit_codes():  # check the configuration before starting Prefect, so mistakes fail fast
        load_feeds(feeds)
        load_topics(topics)
    summary = _run_flow(feeds, topics, db, poll_all=all_feeds, source="config")
    _print_summary(summary)


def _run_flow(feeds: Path, topics: Path, db: Path, *, poll_all: bool, source: str) -> RunSummary:
    _prepare_prefect()
    from flows.poll import poll_feeds

    with _exit_codes():
        return poll_feeds(
            feeds_path=str(feeds),
            topics_path=str(topics),
            db=str(db),
            poll_all=poll_all,
            feed_source=source,
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
    out.print(f'\nExplore the warehouse: feedwatch sql --db {db} "SELECT * FROM topic_matches"')


def _print_top_hits(db: Path, limit: int = 10) -> None:
    from warehouse.queries import top_hits_of
    from warehouse.store import Warehouse

    # The demo is the warehouse's writer: a short session of its own.
    with _exit_codes(), Warehouse.open(db) as wh:
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
    with _exit_codes():
        load_topics(topics)
    _prepare_prefect()
    from flows.rescore import rescore_topics

    with _exit_codes():
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

    if fmt not in {"table", "csv", "json"}:
        raise _fail(ConfigError(f"--format must be table, csv or json, not {fmt!r}"), 2)
    with _exit_codes():
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


@topics_app.command("check")
def topics_check(
    jsonl: Annotated[
        Path,
        typer.Option("--jsonl", help='Cases, one JSON object a line: {"id", "title", "text"}.'),
    ],
    topics: TopicsOpt = None,
) -> None:
    """Match topics against cases; print one JSON line per case with each topic's verdict."""
    from flows.settings import load_topics

    with _exit_codes():
        compiled = load_topics(topics or default_topics())
        cases = _read_cases(jsonl)
    for case in cases:
        found = {m.topic: m for m in compiled.match(case["title"], case["text"])}
        verdicts = []
        for ct in compiled:
            m = found.get(ct.topic.name)
            verdicts.append(
                {
                    "topic": ct.topic.name,
                    "score": m.score if m else 0.0,
                    "matched": bool(m and m.matched),
                }
            )
        sys.stdout.write(
            json.dumps({"id": case["id"], "topics": verdicts}, ensure_ascii=False) + "\n"
        )


@topics_app.command("eval")
def topics_eval(
    cases: Annotated[
        Path,
        typer.Argument(
            help='Labelled cases: {"id", "title", "text", "labels": {topic: true|false}}.'
        ),
    ],
    topics: TopicsOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    min_precision: Annotated[
        float, typer.Option(help="Exit 1 when a topic's precision is below this.")
    ] = 0.0,
    min_recall: Annotated[
        float, typer.Option(help="Exit 1 when a topic's recall is below this.")
    ] = 0.0,
) -> None:
    """Precision, recall and the misclassified cases of each topic on a labelled set."""
    from extractors.topics.evaluate import evaluate
    from flows.settings import load_topics

    with _exit_codes():
        compiled = load_topics(topics or default_topics())
        rows = _read_cases(cases, labelled=True)
    scores = evaluate(compiled, rows)
    if fmt == "json":
        for sc in scores:
            sys.stdout.write(
                json.dumps(vars(sc) | {"precision": sc.precision, "recall": sc.recall}) + "\n"
            )
    else:
        table = Table("topic", "cases", "precision", "recall", "false positives", "false negatives")
        for sc in scores:
            table.add_row(
                sc.topic,
                str(sc.cases),
                f"{sc.precision:.3f}",
                f"{sc.recall:.3f}",
                ", ".join(sc.false_positives) or "-",
                ", ".join(sc.false_negatives) or "-",
            )
        out.print(table)
    if any(sc.precision < min_precision or sc.recall < min_recall for sc in scores):
        raise typer.Exit(1)


def _read_cases(path: Path, *, labelled: bool = False) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", path=str(path)) from e
    cases = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(
                f"not valid JSON: {e.msg} (column {e.colno})", path=str(path), line=n
            ) from e
        if not isinstance(case, dict) or "id" not in case:
            raise ConfigError(
                'expected an object with "id", "title" and "text"', path=str(path), line=n
            )
        if not isinstance(case.get("text", ""), str) or not isinstance(
            case.get("title") or "", str
        ):
            raise ConfigError('"title" and "text" must be strings', path=str(path), line=n)
        labels = case.get("labels", {})
        if labelled and not (
            isinstance(labels, dict)
            and labels
            and all(isinstance(v, bool) for v in labels.values())
        ):
            raise ConfigError(
                '"labels" must be an object of topic names to true or false', path=str(path), line=n
            )
        cases.append(
            {
                "id": case["id"],
                "title": case.get("title") or "",
                "text": case.get("text") or "",
                "labels": labels,
            }
        )
    return cases


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Write every table and view to Parquet or CSV files, for long analyses."""
    from warehouse.export import export as run_export

    with _exit_codes():
        counts = run_export(db, out, fmt)
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

    with _exit_codes():
        pruned = run_prune(db, parse_age(older_than))
    sys.stdout.write(
        f"Dropped the text of {pruned['articles']} articles and the feed text of "
        f"{pruned['entries']} entries older than {older_than}.\n"
    )


FeedsFileOpt = Annotated[
    Path, typer.Option("--feeds", help="feeds.yaml, for feeds configured there.")
]


@feeds_app.command("status")
def feeds_status(
    db: DbOpt = DEFAULT_DB,
    all_feeds: Annotated[bool, typer.Option("--all", help="List every feed, healthy too.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List feeds that are failing, stale or disabled, with their last error."""
    from warehouse.queries import feed_health

    with _exit_codes():
        health = feed_health(db)
    shown = [h for h in health if all_feeds or h.status in {"failing", "stale", "disabled"}]
    if fmt == "json":
        for h in shown:
            row = {k: v for k, v in vars(h).items()}
            row["problem"] = h.problem
            sys.stdout.write(json.dumps(row, default=str) + "\n")
        return
    if not shown:
        out.print(f"All {len(health)} feeds are healthy.")
        return
    table = Table("feed", "status", "last success", "problem")
    for h in shown:
        last = f"{h.last_success_at:%Y-%m-%d %H:%M}" if h.last_success_at else "never"
        table.add_row(h.feed_id, h.status, last, h.problem)
    out.print(table)
    counts = {s: sum(h.status == s for h in health) for s in ("failing", "stale", "disabled")}
    out.print(
        f"{len(health)} feeds: {counts['failing']} failing, {counts['stale']} stale, "
        f"{counts['disabled']} disabled"
    )


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="A feed's URL, or a page that links to its feeds.")],
    db: DbOpt = DEFAULT_DB,
    name: Annotated[str | None, typer.Option(help="Name for the feed.")] = None,
    interval: Annotated[str, typer.Option(help="How often it is due (15m, 2h, …).")] = "15m",
    tags: Annotated[str, typer.Option(help="Comma-separated tags.")] = "",
    fetch_pages: Annotated[bool, typer.Option(help="Fetch and extract each entry's page.")] = True,
) -> None:
    """Add a feed by URL; given a site page, add the feeds it advertises."""
    from flows.manage import add_feed
    from flows.settings import parse_interval

    try:
        seconds = parse_interval(interval)
    except ValueError as e:
        raise _fail(ConfigError(f"--interval: {e}"), 2) from e
    with _exit_codes():
        added = add_feed(
            db,
            url,
            name=name,
            interval_seconds=seconds,
            tags=tuple(t.strip() for t in tags.split(",") if t.strip()),
            fetch_pages=fetch_pages,
        )
    if not added:
        out.print("Nothing added: feedwatch already knows every feed found there.")
    for spec in added:
        out.print(f"Added {spec.name}: {spec.url}")


@feeds_app.command("import-opml")
def feeds_import_opml(
    file: Annotated[Path, typer.Argument(help="An OPML file exported from a feed reader.")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Add the feeds of an OPML file (folders become tags)."""
    from flows.manage import import_opml

    with _exit_codes():
        added, known = import_opml(db, file)
    out.print(f"Added {len(added)} feeds ({known} already known).")


@feeds_app.command("export-opml")
def feeds_export_opml(
    db: DbOpt = DEFAULT_DB,
    feeds: FeedsFileOpt = Path("feeds.yaml"),
    output: Annotated[Path | None, typer.Option("--out", help="Write here, not to stdout.")] = None,
) -> None:
    """Write every feed (feeds.yaml and stored) as OPML 2.0."""
    from flows.manage import export_opml

    with _exit_codes():
        document = export_opml(db, feeds)
    if output:
        output.write_bytes(document)
    else:
        sys.stdout.write(document.decode("utf-8"))


@feeds_app.command("disable")
def feeds_disable(
    name: Annotated[str, typer.Argument(help="The feed's name.")],
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "disabled by hand",
    db: DbOpt = DEFAULT_DB,
    feeds: FeedsFileOpt = Path("feeds.yaml"),
) -> None:
    """Stop polling a feed (also with --all) until it is enabled again."""
    _set_disabled(db, name, reason, feeds)
    out.print(f"Disabled {name}.")


@feeds_app.command("enable")
def feeds_enable(
    name: Annotated[str, typer.Argument(help="The feed's name.")],
    db: DbOpt = DEFAULT_DB,
    feeds: FeedsFileOpt = Path("feeds.yaml"),
) -> None:
    """Poll a disabled feed again, from the next run on."""
    _set_disabled(db, name, None, feeds)
    out.print(f"Enabled {name}; it is due at the next run.")


def _set_disabled(db: Path, name: str, reason: str | None, feeds: Path) -> None:
    from flows.manage import disable_feed

    with _exit_codes():
        disable_feed(db, name, reason, feeds)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
