"""`feedwatch feeds`: feed health, and adding, importing, exporting, disabling feeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    DEFAULT_DB,
    Command,
    DbOpt,
    FeedsFileOpt,
    check_format,
    exit_codes,
    fail,
    format_opt,
    out,
)
from extractors.errors import ConfigError
from flows.units import counted

feeds_app = typer.Typer(
    help="List feed health; add, import, export, disable and enable feeds.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@feeds_app.command("status", cls=Command)
def feeds_status(
    db: DbOpt = DEFAULT_DB,
    all_feeds: Annotated[bool, typer.Option("--all", help="List every feed, healthy too.")] = False,
    fmt: Annotated[str, format_opt("table", "json")] = "table",
) -> None:
    """List feeds that are failing, stale or disabled, with their last error."""
    from warehouse import open_warehouse

    check_format(fmt, ("table", "json"))
    with exit_codes(), open_warehouse(db, read_only=True) as wh:
        health = wh.feed_health()
    shown = [h for h in health if all_feeds or h.needs_care]
    if fmt == "json":
        for h in shown:
            row = {k: v for k, v in vars(h).items()}
            row["problem"] = h.problem
            sys.stdout.write(json.dumps(row, default=str) + "\n")
        return
    if not shown:
        out.print(
            "The feed is healthy." if len(health) == 1 else f"All {len(health)} feeds are healthy."
        )
        return
    table = Table("feed", "status", "last success", "problem")
    for h in shown:
        last = f"{h.last_success_at:%Y-%m-%d %H:%M}" if h.last_success_at else "never"
        table.add_row(h.feed_id, h.status, last, h.problem)
    out.print(table)
    counts = {s: sum(h.status == s for h in health) for s in ("failing", "stale", "disabled")}
    out.print(
        f"{counted(len(health), 'feed')}: {counts['failing']} failing, {counts['stale']} stale, "
        f"{counts['disabled']} disabled"
    )


@feeds_app.command("add", cls=Command)
def feeds_add(
    url: Annotated[
        str, typer.Argument(metavar="URL", help="A feed's URL, or a page that links to its feeds.")
    ],
    db: DbOpt = DEFAULT_DB,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Name for the feed.")] = None,
    interval: Annotated[
        str, typer.Option(metavar="DURATION", help="How often it is due: 15m, 2h, 1d.")
    ] = "15m",
    tags: Annotated[str, typer.Option(metavar="TAGS", help="Comma-separated tags.")] = "",
    fetch_pages: Annotated[bool, typer.Option(help="Fetch and extract each entry's page.")] = True,
) -> None:
    """Add a feed by URL; given a site page, add the feeds it advertises."""
    from flows.manage import add_feed
    from flows.settings import parse_interval

    try:
        seconds = parse_interval(interval)
    except ValueError as e:
        raise fail(ConfigError(f"--interval: {e}"), 2) from e
    with exit_codes():
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


@feeds_app.command("import-opml", cls=Command)
def feeds_import_opml(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="An OPML file exported from a feed reader.")
    ],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Add the feeds of an OPML file (folders become tags)."""
    from flows.manage import import_opml

    with exit_codes():
        added, known = import_opml(db, file)
    out.print(f"Added {counted(len(added), 'feed')} ({known} already known).")


@feeds_app.command("export-opml", cls=Command)
def feeds_export_opml(
    db: DbOpt = DEFAULT_DB,
    feeds: FeedsFileOpt = Path("feeds.yaml"),
    output: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Write here, not to stdout.")
    ] = None,
) -> None:
    """Write every feed (feeds.yaml and stored) as OPML 2.0."""
    from flows.manage import export_opml

    with exit_codes():
        document = export_opml(db, feeds)
    if output:
        output.write_bytes(document)
    else:
        sys.stdout.write(document.decode("utf-8"))


@feeds_app.command("disable", cls=Command)
def feeds_disable(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The feed's name.")],
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="Why, for the record.")
    ] = "disabled by hand",
    db: DbOpt = DEFAULT_DB,
    feeds: FeedsFileOpt = Path("feeds.yaml"),
) -> None:
    """Stop polling a feed (also with --all) until it is enabled again."""
    _set_disabled(db, name, reason, feeds)
    out.print(f"Disabled {name}.")


@feeds_app.command("enable", cls=Command)
def feeds_enable(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The feed's name.")],
    db: DbOpt = DEFAULT_DB,
    feeds: FeedsFileOpt = Path("feeds.yaml"),
) -> None:
    """Poll a disabled feed again, from the next run on."""
    _set_disabled(db, name, None, feeds)
    out.print(f"Enabled {name}; it is due at the next run.")


def _set_disabled(db: Path, name: str, reason: str | None, feeds: Path) -> None:
    from flows.manage import disable_feed

    with exit_codes():
        disable_feed(db, name, reason, feeds)
