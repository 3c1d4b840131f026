"""`feedwatch topics`: check topics against text, and measure them on labelled cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from extractors.errors import ConfigError
from flows._cli import (
    Command,
    TopicsOpt,
    check_format,
    default_topics,
    err,
    exit_codes,
    format_opt,
    open_input,
    out,
)

topics_app = typer.Typer(
    help="Check topic definitions against text.", no_args_is_help=True, rich_markup_mode=None
)


@topics_app.command("check", cls=Command)
def topics_check(
    jsonl: Annotated[
        Path,
        typer.Option(
            "--jsonl",
            metavar="FILE",
            help='Cases, one JSON object a line: {"id", "title", "text"}; - for standard input.',
        ),
    ],
    topics: TopicsOpt = None,
) -> None:
    """Match topics against cases; print one JSON line per case with each topic's verdict."""
    from flows.settings import load_topics

    with exit_codes():
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


@topics_app.command("eval", cls=Command)
def topics_eval(
    cases: Annotated[
        Path,
        typer.Argument(
            metavar="CASES",
            help='Labelled cases, one JSON object a line: {"id", "title", "text", "labels":'
            " {topic: true|false}}; - for standard input.",
        ),
    ],
    topics: TopicsOpt = None,
    fmt: Annotated[str, format_opt("table", "json")] = "table",
    min_precision: Annotated[
        float,
        typer.Option(metavar="P", help="Exit 1 when a topic's precision is below this (0 to 1)."),
    ] = 0.0,
    min_recall: Annotated[
        float,
        typer.Option(metavar="R", help="Exit 1 when a topic's recall is below this (0 to 1)."),
    ] = 0.0,
) -> None:
    """Precision, recall and the misclassified cases of each topic on a labelled set."""
    from extractors.topics.evaluate import evaluate
    from flows.settings import load_topics

    check_format(fmt, ("table", "json"))
    with exit_codes():
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
    short = [
        f"{sc.topic}: {name} {value:.3f} is below --min-{name} {bound:g}"
        for sc in scores
        for name, value, bound in (
            ("precision", sc.precision, min_precision),
            ("recall", sc.recall, min_recall),
        )
        if value < bound
    ]
    for line in short:
        err.print(f"feedwatch: {line}", markup=False)
    if short:
        raise typer.Exit(1)


def _read_cases(path: Path, *, labelled: bool = False) -> list[dict[str, Any]]:
    """Cases from a JSON-lines file, or standard input for '-'."""
    try:
        with open_input(path) as f:
            lines = f.read().splitlines()
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
