"""`feedwatch figures`: the numbers a topic's stories report, and a check for any text."""

from __future__ import annotations

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
    Group,
    TopicsOpt,
    check_format,
    default_topics,
    exit_codes,
    format_opt,
    out,
    since,
)
from extractors.errors import ConfigError

__all__ = ["figures_app"]

figures_app = typer.Typer(
    help="The figures a topic's stories report: how many troops, shells, casualties, by whom.",
    rich_markup_mode=None,
    invoke_without_command=True,
    cls=Group,
)


@figures_app.callback()
def figures(
    ctx: typer.Context,
    topic: Annotated[
        str | None, typer.Option("--topic", metavar="NAME", help="The topic (required).")
    ] = None,
    since_: Annotated[
        str,
        typer.Option(
            "--since",
            metavar="AGE",
            help="Stories published (else fetched) this recently: 90d, 12h.",
        ),
    ] = "90d",
    kind: Annotated[
        str | None,
        typer.Option("--kind", metavar="KIND", help="Only this kind: troops, shells, killed, …"),
    ] = None,
    db: DbOpt = DEFAULT_DB,
    fmt: Annotated[str, format_opt("table", "json (one object a line)", "csv")] = "table",
) -> None:
    """Per kind of thing counted: the figures reported, the lowest and the highest, by
    whom, the first and last dates, and how many stories (copies counted once)."""
    if ctx.invoked_subcommand is not None:
        return
    from extractors.figures import KINDS, summarize
    from flows.settings import check_topic
    from warehouse import open_warehouse

    check_format(fmt, ("table", "json", "csv"))
    with exit_codes():
        if topic is None:
            raise ConfigError("--topic: which topic's figures? (feedwatch figures --topic NAME)")
        if kind is not None and kind not in KINDS:
            raise ConfigError(f"--kind {kind}: not a kind of figure (one of {', '.join(KINDS)})")
        start = since(since_)
        with open_warehouse(db, read_only=True) as wh:
            check_topic(topic, wh.current_topics())
            rows = wh.reported_figures(topic, start, kind)
    summary = summarize(rows)
    if fmt == "json":
        for s in summary:
            sys.stdout.write(json.dumps(s, default=str, ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(
            ["kind", "stories", "lowest", "highest", "first", "last", "sources", "figures"]
        )
        for s in summary:
            writer.writerow(
                [
                    s["kind"],
                    s["stories"],
                    s["lowest"],
                    s["highest"],
                    s["first"],
                    s["last"],
                    "; ".join(s["sources"]),
                    "; ".join(s["figures"]),
                ]
            )
        return
    if not summary:
        out.print(f"No figures reported for {topic} since {start:%Y-%m-%d}.")
        return
    table = Table("kind", "stories", "lowest", "highest", "first", "last", "by whom", "figures")
    for s in summary:
        table.add_row(
            s["kind"],
            str(s["stories"]),
            _num(s["lowest"]),
            _num(s["highest"]),
            f"{s['first']:%Y-%m-%d}",
            f"{s['last']:%Y-%m-%d}",
            "; ".join(s["sources"][:4]) + (" …" if len(s["sources"]) > 4 else ""),
            "; ".join(s["figures"][:6]) + (" …" if len(s["figures"]) > 6 else ""),
        )
    out.print(table)


def _num(n: float | None) -> str:
    from extractors.figures import describe

    return "" if n is None else describe(n, n, n, "exact")


@figures_app.command("check", cls=Command)
def figures_check(
    jsonl: Annotated[
        Path,
        typer.Option(
            "--jsonl",
            metavar="FILE",
            help='Texts, one JSON object a line: {"id", "title", "text"}; - for standard input.',
        ),
    ],
    topics: TopicsOpt = None,
) -> None:
    """Print the figures of each text's topic hits, one JSON line per text.

    Each line: {"id", "figures": [{"topic", "value", "low", "high", "hedge", "counted",
    "kind", "source", "sentence"}]}; no warehouse needed."""
    from cli.topics import read_cases
    from flows.settings import load_topics

    with exit_codes():
        compiled = load_topics(topics or default_topics())
        cases = read_cases(jsonl)
    for case in cases:
        found: list[dict[str, Any]] = []
        for m in compiled.match(case["title"], case["text"]):
            found += [{"topic": m.topic, **f.reported()} for f in m.figures]
        sys.stdout.write(
            json.dumps({"id": case["id"], "figures": found}, ensure_ascii=False) + "\n"
        )
