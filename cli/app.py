"""The `feedwatch` command: run, demo, rescore and serve here; the commands that read
the warehouse in cli_read; topics, feeds and alerts subcommands in cli_topics,
cli_feeds and cli_alerts; options and exit codes in _cli.

Commands import what they need when they run, and Prefect only once there is
a flow to run: `feedwatch run` with nothing due answers in well under a second.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.alerts import alerts_app
from cli.common import (
    DATA_PATH_HELP,
    DEFAULT_DB,
    DEMO_DB,
    Command,
    DaskOpt,
    DbOpt,
    ExtractWorkersOpt,
    FeedsOpt,
    TopicsOpt,
    default_topics,
    describe,
    err,
    exit_codes,
    notice,
    out,
    use_data_path_option,
)
from cli.feeds import feeds_app
from cli.figures import figures_app
from cli.read import COMMANDS
from cli.topics import topics_app
from extractors.errors import FeedwatchError
from flows.runtime.progress import for_console, reporting
from flows.units import counted

if TYPE_CHECKING:
    from flows.preflight import RunPlan
    from flows.summary import RunSummary
    from flows.watch import Check

app = typer.Typer(
    help="Watch news feeds for the topics you care about; query the hits with SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: option texts hold brackets, and nothing is cut
)
app.add_typer(topics_app, name="topics")
app.add_typer(figures_app, name="figures")
app.add_typer(feeds_app, name="feeds")
app.add_typer(alerts_app, name="alerts")


def _version(value: bool) -> None:
    if value:
        out.print(f"feedwatch {package_version('feedwatch')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print feedwatch's version and exit.",
        ),
    ] = False,
    data_path: Annotated[
        str | None,
        typer.Option(
            "--data-path", metavar="DIR", help=DATA_PATH_HELP + " (Or after the command.)"
        ),
    ] = None,
) -> None:
    """Watch news feeds for the topics you care about; query the hits with SQL."""
    use_data_path_option(data_path)


@app.command(cls=Command)
def run(
    feeds: FeedsOpt = Path("feeds.yaml"),
    topics: TopicsOpt = None,
    db: DbOpt = DEFAULT_DB,
    all_feeds: Annotated[
        bool, typer.Option("--all", help="Poll every feed, due or not (disabled ones excepted).")
    ] = False,
    extract_workers: ExtractWorkersOpt = None,
    dask: DaskOpt = None,
) -> None:
    """Poll every due feed once; load new articles and topic hits into the warehouse.

    Nothing due: says when the next feed is, and exits without starting Prefect.
    """
    from flows.preflight import plan_run
    from flows.settings import load_feeds, load_topics

    topics = topics or default_topics()
    with exit_codes():  # configuration and --db are checked before Prefect starts
        configured = load_feeds(feeds)
        load_topics(topics)
        plan = plan_run(configured, db, datetime.now(UTC), poll_all=all_feeds)
    if not plan.has_work:
        out.print(_nothing_due(plan))
        return
    if plan.looks_large and extract_workers != 1 and not dask:
        from flows.extract_worker import start_fork_server

        start_fork_server()  # its imports overlap Prefect's
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


@app.command(cls=Command)
def watch(
    feeds: FeedsOpt = Path("feeds.yaml"),
    topics: TopicsOpt = None,
    db: DbOpt = DEFAULT_DB,
    every: Annotated[
        str,
        typer.Option(
            "--every",
            metavar="DURATION",
            help="Check for due feeds, and re-read feeds.yaml and topics.yaml, at least"
            " this often.",
        ),
    ] = "1m",
    extract_workers: ExtractWorkersOpt = None,
    dask: DaskOpt = None,
) -> None:
    """Keep polling from this one process: each feed when it is due, until stopped.

    Each poll is a flow run in Prefect, as with 'feedwatch run'; Prefect (and its
    temporary server, without PREFECT_API_URL) starts once, not once a poll. Edits
    to feeds.yaml and topics.yaml apply at the next check. Ctrl-C or SIGTERM stops
    it once the poll under way has finished; a second Ctrl-C stops it at once.
    """
    import contextvars
    import signal
    import threading

    from flows.runtime.prefect_api import prefect_api
    from flows.settings import load_feeds, load_topics
    from flows.units import duration_option
    from flows.watch import watch as watch_feeds
    from warehouse import check_path

    topics = topics or default_topics()
    with exit_codes():  # a bad start is an exit 2 at once; later bad edits are reported
        interval = duration_option(every, "--every").total_seconds()
        load_feeds(feeds)
        load_topics(topics)
        check_path(db)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    out.print(f"Watching {feeds} (checks at least every {every}, into {db}); Ctrl-C stops it.")
    failure: list[BaseException] = []

    def checks() -> None:
        try:
            watch_feeds(
                feeds,
                topics,
                db,
                every=interval,
                stop=stop,
                on_check=_CheckPrinter(),
                extract_workers=extract_workers,
                dask_address=dask,
                reporter=lambda: for_console(err),
            )
        except BaseException as e:  # handed to the main thread, which reports it
            failure.append(e)

    with exit_codes(), prefect_api(notice, preload=["flows.poll"]):
        # The checks run in a thread of their own, so that SIGTERM reaches the handler
        # above in the main thread: Prefect answers it in a flow run's own main thread
        # by interrupting the run at once. The context carries Prefect's settings.
        worker = threading.Thread(
            target=contextvars.copy_context().run, args=(checks,), daemon=True
        )
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
        if failure:
            raise failure[0]
    out.print("Stopped.")


class _CheckPrinter:
    """A line for what each check did; for an idle check, only the first after a poll."""

    def __init__(self) -> None:
        self.quiet = False

    def __call__(self, c: Check) -> None:
        if isinstance(c.error, FeedwatchError):
            err.print(f"{c.at:%H:%M:%S} feedwatch: {describe(c.error)}", markup=False)
        elif c.error is not None:  # its traceback is logged above
            err.print(
                f"{c.at:%H:%M:%S} feedwatch: the check failed ({type(c.error).__name__}:"
                f" {c.error}); the next one comes as usual",
                markup=False,
            )
        if c.summary is not None:
            out.print(f"{c.at:%H:%M:%S}", end=" ")
            _print_summary(c.summary)
        elif c.plan is not None and not self.quiet:
            out.print(f"{c.at:%H:%M:%S} {_nothing_due(c.plan, hint=False)}")
        self.quiet = c.error is None and c.summary is None


def _nothing_due(plan: RunPlan, *, hint: bool = True) -> str:
    if not plan.feeds:
        return (
            "Nothing to do: there are no feeds (add them to feeds.yaml, or 'feedwatch feeds add')."
        )
    if plan.disabled == plan.feeds:
        line = (
            "Nothing to do: the feed is disabled"
            if plan.feeds == 1
            else (f"Nothing to do: all {plan.feeds} feeds are disabled")
        )
        return line + " ('feedwatch feeds enable NAME')."
    line = (
        "Nothing to do: the feed is not due"
        if plan.feeds == 1
        else f"Nothing to do: none of the {plan.feeds} feeds is due"
    )
    if plan.disabled:
        line += f" ({plan.disabled} disabled)"
    if plan.next_due:
        name, when = plan.next_due
        minutes = max(0, round((when - datetime.now(UTC)).total_seconds() / 60))
        line += f"; next: {name} at {when:%H:%M} UTC, in {counted(minutes, 'minute')}"
    return line + (". ('--all' polls every enabled feed now.)" if hint else ".")


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
    from flows.runtime.prefect_api import prefect_api

    with exit_codes(), prefect_api(notice, preload=["flows.poll"]):
        from flows.poll import poll_feeds

        with reporting(for_console(err)):
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
        f"Polled {counted(s.feeds_polled, 'feed')} ({s.feeds_skipped} not due,"
        f" {s.not_modified} not modified, {len(s.failed)} failed) in {s.seconds:.1f} s"
    )
    out.print(
        f"New entries: {s.new_entries} · new articles: {s.new_articles} "
        f"(pages fetched: {s.pages_fetched}, copies of stored articles: {s.duplicate_articles}) "
        f"· topic hits: {len(s.hits)}"
    )
    stories = s.stories_per_topic()
    for topic, n in sorted(s.hits_per_topic().items()):
        out.print(
            f"  {topic}: {counted(n, 'new hit')} in {counted(stories[topic], 'story', 'stories')}"
        )
    for name, error in s.failed:
        out.print(f"  [red]failed[/red] {name}: {error}")
    if s.spooled_loaded:
        out.print(
            f"Loaded {counted(s.spooled_loaded, 'batch', 'batches')} spooled by earlier runs."
        )
    if s.spooled:
        out.print(
            "[yellow]The warehouse was held by another process:[/yellow] batches of this run"
            " are spooled beside it and load at the next run; nothing is lost."
        )
    if s.stale_topics:
        out.print(
            f"[yellow]Topics changed since the last rescore: {', '.join(s.stale_topics)}.[/yellow]"
            " Stored articles keep their old matches until you run 'feedwatch rescore'."
        )


@app.command(cls=Command)
def demo(
    db: DbOpt = DEMO_DB,
    topics: TopicsOpt = None,
) -> None:
    """Serve the bundled demo site on 127.0.0.1 and poll it (works offline)."""
    import os
    import tempfile
    from datetime import timedelta

    from flows.demo import ATOM_PATH, RSS_PATH, demo_server
    from flows.settings import load_topics
    from warehouse import check_path

    topics = topics or default_topics()
    with exit_codes():
        load_topics(topics)
        check_path(db)
    # The demo site lives on loopback, which feedwatch otherwise refuses to fetch.
    os.environ["FEEDWATCH_ALLOW_PRIVATE_NETWORKS"] = "1"
    # Its stories dated over the four weeks before now, so the digest has days to show.
    recent = datetime.now(UTC) - timedelta(hours=1)
    with demo_server(recent_to=recent) as server, tempfile.TemporaryDirectory() as tmp:
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
    out.print(f"See it as a page:      feedwatch digest --db {db} --since 30d --out report.html")


def _print_top_hits(db: Path, limit: int = 10) -> None:
    from extractors.errors import WarehouseError
    from warehouse import open_warehouse

    try:
        with open_warehouse(db, read_only=True) as wh:  # reading never takes the write lock
            rows = wh.top_hits(limit)
    except WarehouseError as e:
        notice(f"top hits not shown: {e}")
        return
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


@app.command(cls=Command)
def rescore(
    topics: TopicsOpt = None,
    db: DbOpt = DEFAULT_DB,
    all_topics: Annotated[
        bool, typer.Option("--all", help="Re-match every topic, changed or not.")
    ] = False,
) -> None:
    """Re-match stored articles for topics changed since the last rescore (no refetching).

    No topic changed: says so and exits without starting Prefect.
    """
    from flows.preflight import plan_rescore
    from flows.settings import load_topics

    topics = topics or default_topics()
    with exit_codes():
        todo = plan_rescore(load_topics(topics), db, all_topics=all_topics)
    if not todo:
        out.print("Every topic is up to date: nothing to re-match.")
        return
    from flows.runtime.prefect_api import prefect_api

    with exit_codes(), prefect_api(notice, preload=["flows.rescore"]):
        from flows.rescore import rescore_topics

        with reporting(for_console(err)):
            summary = rescore_topics(topics_path=str(topics), db=str(db), all_topics=all_topics)
    if not summary.topics:
        out.print("Every topic is up to date: nothing to re-match.")
        return
    out.print(
        f"Re-matched {counted(summary.articles, 'stored article')} in {summary.seconds:.1f} s:"
    )
    for topic, hits in summary.hits.items():
        out.print(f"  {topic}: {counted(hits, 'hit')}")


for _command, _cls in COMMANDS:  # sql, export, prune, digest, hits, label
    app.command(cls=_cls)(_command)


@app.command(cls=Command)
def serve(
    prefect_yaml: Annotated[
        Path, typer.Option("--prefect-yaml", metavar="FILE", help="The deployments to serve.")
    ] = Path("prefect.yaml"),
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="Flow runs at once, at most.")
    ] = 2,
) -> None:
    """Run every deployment of prefect.yaml on its schedule from this process.

    No work pool or worker needed; it runs against the Prefect server of
    PREFECT_API_URL. Stop it with Ctrl-C.
    """
    from flows.runtime.prefect_api import require_server
    from flows.serve import serve as serve_deployments

    with exit_codes():
        require_server("feedwatch serve")
        serve_deployments(prefect_yaml, limit=limit)


def main() -> None:
    try:
        app()
    except SystemExit as e:
        if e.code == 130:  # typer's exit for a Ctrl-C that reached the top: stop now
            _exit_now(130)
        raise


def _exit_now(code: int) -> None:
    """End at once, without waiting for threads still at work (a page fetch can hold
    the exit for minutes). What a run wrote is safe as after a SIGKILL (one transaction
    a load, or the spool); its processes end with it (flows.runtime.lifeline), and Prefect has
    marked its run Crashed, or the next run will (flows.runtime.liveness)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
