"""`feedwatch topics`: check topics against text, and measure them on labelled cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cli.common import (
    DEFAULT_DB,
    Command,
    DbOpt,
    TopicsOpt,
    check_format,
    default_topics,
    err,
    exit_codes,
    format_opt,
    open_input,
    out,
)
from extractors.errors import ConfigError

if TYPE_CHECKING:
    from extractors.topics import TopicSet

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
        cases = read_cases(jsonl)
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


CasesArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="[CASES]",
        help='Labelled cases, one JSON object a line: {"id", "title", "text", "labels":'
        " {topic: true|false}}; - for standard input.",
        show_default=False,
    ),
]
FromWarehouseOpt = Annotated[
    bool,
    typer.Option(
        "--labels-from-warehouse",
        help="Also the verdicts analysts stored with 'feedwatch label' (in --db).",
    ),
]


def _labelled(cases: Path | None, from_warehouse: bool, db: Path) -> list[dict[str, Any]]:
    """The evaluation set: a JSON-lines file, the warehouse's labels, or both."""
    if cases is None and not from_warehouse:
        raise ConfigError("give a CASES file, --labels-from-warehouse, or both")
    rows = read_cases(cases, labelled=True) if cases is not None else []
    if from_warehouse:
        from warehouse import open_warehouse

        with open_warehouse(db, read_only=True) as wh:
            stored = wh.labelled_cases()
        if not stored:
            raise ConfigError(f"{db}: no labels stored yet ('feedwatch label ARTICLE --topic T')")
        rows += stored
    return rows


@topics_app.command("eval", cls=Command)
def topics_eval(
    cases: CasesArg = None,
    topics: TopicsOpt = None,
    from_warehouse: FromWarehouseOpt = False,
    db: DbOpt = DEFAULT_DB,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="FIELD",
            help="Figures apart for each value of a field of the cases (lang).",
        ),
    ] = None,
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
        rows = _labelled(cases, from_warehouse, db)
    scores = evaluate(compiled, rows, by=by)
    if fmt == "json":
        for sc in scores:
            row = vars(sc) | {"precision": sc.precision, "recall": sc.recall}
            if not by:
                row.pop("group")
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        table = Table("topic", *([by] if by else []), "cases", "precision", "recall")
        table.add_column("false positives", overflow="fold")
        table.add_column("false negatives", overflow="fold")
        for sc in scores:
            table.add_row(
                sc.topic,
                *([sc.group] if by else []),
                str(sc.cases),
                f"{sc.precision:.3f}",
                f"{sc.recall:.3f}",
                ", ".join(sc.false_positives) or "-",
                ", ".join(sc.false_negatives) or "-",
            )
        out.print(table)
    short = [
        f"{sc.topic}{f' ({by} {sc.group})' if by else ''}: {name} {value:.3f} is below"
        f" --min-{name} {bound:g}"
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


@topics_app.command("tune", cls=Command)
def topics_tune(
    topic: Annotated[str, typer.Option("--topic", metavar="NAME", help="The topic to tune.")],
    cases: CasesArg = None,
    topics: TopicsOpt = None,
    from_warehouse: FromWarehouseOpt = False,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Precision and recall for other thresholds and weights; changes nothing.

    Each case is matched once with the topic as topics.yaml defines it, then judged
    again under each setting: min_score over a range, then each weight (headline,
    lead, share) and the lead's length in turn, the others as they are.
    """
    from extractors.topics.evaluate import tune
    from flows.settings import check_topic, load_topics

    with exit_codes():
        compiled = load_topics(topics or default_topics())
        check_topic(topic, [ct.topic.name for ct in compiled])
        rows = _labelled(cases, from_warehouse, db)
        thresholds, weights = tune(compiled, topic, rows)
    for title, settings in (("threshold", thresholds), ("weights", weights)):
        table = Table(title=f"{topic} by {title}", title_justify="left")
        table.add_column("setting", no_wrap=True)
        for name in ("P", "R", "F1", "FP", "FN"):
            table.add_column(name, justify="right", no_wrap=True)
        for st in settings:
            table.add_row(
                st.changed or f"min_score {st.topic.min_score:g}, as topics.yaml",
                f"{st.score.precision:.3f}",
                f"{st.score.recall:.3f}",
                f"{st.score.f1:.3f}",
                str(len(st.score.false_positives)),
                str(len(st.score.false_negatives)),
                style="bold" if not st.changed else None,
            )
        out.print(table)
    out.print("P precision, R recall, FP false positives, FN false negatives.")
    labelled = thresholds[0].score.cases
    out.print(f"{topic}: {labelled} labelled cases; topics.yaml is unchanged.")


@topics_app.command("learn", cls=Command)
def topics_learn(
    topic: Annotated[str, typer.Option("--topic", metavar="NAME", help="The topic to learn.")],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out", metavar="FILE", help="Where to write the improved topics file ('-': stdout)."
        ),
    ],
    cases: CasesArg = None,
    topics: TopicsOpt = None,
    from_warehouse: FromWarehouseOpt = False,
    db: DbOpt = DEFAULT_DB,
    folds: Annotated[
        int,
        typer.Option(
            "--folds", metavar="K", min=2, help="Folds of the cross-validation of the figures."
        ),
    ] = 5,
) -> None:
    """Improve a topic from labelled cases: vocabulary, languages, thresholds.

    Writes the whole topics file, edited: the learned terms in a list of their own,
    each with a comment saying what it decides on the cases; the topic's alias
    lists given every language the cases are in (CLDR's country names); terms that
    only made false hits dropped; min_score and the headline's weight fitted. Prints
    precision and recall before and after, per language, estimated by
    cross-validation: learned on part of the cases, judged on the rest. Review the
    difference, copy it over topics.yaml, then 'feedwatch rescore'.
    """
    from extractors.topics.learn import learn_and_validate
    from flows.settings import check_topic, load_topics
    from flows.topics_file import read_spec, write_learned

    with exit_codes():
        path = topics or default_topics()
        compiled = load_topics(path)
        check_topic(topic, [ct.topic.name for ct in compiled])
        rows = [r for r in _labelled(cases, from_warehouse, db) if topic in r["labels"]]
        if not any(r["labels"][topic] for r in rows):
            raise ConfigError(f"no case is labelled as about {topic!r}: nothing to learn from")
        for r in rows:
            r.setdefault("lang", None)
            if not r["lang"]:
                from extractors.articles import detect_language

                r["lang"] = detect_language(f"{r['title']}\n{r['text']}") or "-"
        text, spec = read_spec(Path(path), topic)
        positives = sum(1 for r in rows if r["labels"][topic])
        k = max(2, min(folds, positives))
        learned, before, after = learn_and_validate(spec, rows, k=k)
        written = write_learned(text, learned, len(rows), positives)
        if str(out_path) == "-":
            sys.stdout.write(written)
        else:
            try:
                out_path.write_text(written, encoding="utf-8")
            except OSError as e:
                raise ConfigError(f"--out {out_path}: cannot write: {e.strerror or e}") from e
        load_topics(out_path if str(out_path) != "-" else path)  # it reads back
    table = Table(
        title=f"{topic}: {len(rows)} cases, {positives} positive; after: {k}-fold cross-validation",
        title_justify="left",
    )
    for col in ("lang", "cases", "P before", "R before", "P after", "R after"):
        table.add_column(col, justify="left" if col == "lang" else "right")
    for b, a in zip(before, after, strict=True):
        table.add_row(
            b.group,
            str(b.cases),
            f"{b.precision:.2f}",
            f"{b.recall:.2f}",
            f"{a.precision:.2f}",
            f"{a.recall:.2f}",
            style="bold" if b.group == "all" else None,
        )
    err.print(table)
    for c in learned.added:
        err.print(
            f"  + {c.term}: {c.gained} more found, {c.false_hits} more false hits", markup=False
        )
    for c in learned.dropped:
        err.print(f"  - {c.term}: made {c.false_hits} false hits, found nothing", markup=False)
    for c in learned.excluded:
        err.print(f"  NOT {c.term}: {-c.false_hits} fewer false hits", markup=False)
    if learned.proximity:
        err.print(f"  the two anchors within {learned.proximity} words", markup=False)
    for alias, code in learned.countries.items():
        err.print(f"  @{alias} + @country:{code}", markup=False)
    for note in learned.notes:
        err.print(f"  {note}", markup=False)
    spec_after = learned.after
    err.print(
        f"  min_score {spec_after.min_score:g}, headline_weight {spec_after.headline_weight:g}"
        + ("" if str(out_path) == "-" else f"; written to {out_path}"),
        markup=False,
    )


@topics_app.command("explain", cls=Command)
def topics_explain(
    topic: Annotated[str, typer.Option("--topic", metavar="NAME", help="The topic.")],
    article: Annotated[
        str | None,
        typer.Argument(
            metavar="[ARTICLE_ID]",
            help="A stored article (its id, or the first characters of it).",
            show_default=False,
        ),
    ] = None,
    jsonl: Annotated[
        Path | None,
        typer.Option("--jsonl", metavar="FILE", help="Explain these cases instead; - for stdin."),
    ] = None,
    topics: TopicsOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Why an article is a hit of a topic, or why it was left out.

    Prints the verdict and the parts of the score: the headline, the lead, each
    sentence where the query holds and the share of the text they make, with the
    terms found.
    """
    from flows.settings import check_topic, load_topics

    with exit_codes():
        compiled = load_topics(topics or default_topics())
        check_topic(topic, [ct.topic.name for ct in compiled])
        if (article is None) == (jsonl is None):
            raise ConfigError("give an ARTICLE_ID or --jsonl CASES (one of the two)")
        one = compiled.only([topic])
        if jsonl is not None:
            for case in read_cases(jsonl):
                _explain(one, str(case["id"]), case["title"], case["text"])
            return
        assert article is not None
        from warehouse import open_warehouse

        with open_warehouse(db, read_only=True) as wh:
            stored = wh.article(article)
            kept = wh.stored_match(stored["article_id"], topic)
    if stored["text_source"] == "pruned":
        out.print(f"{stored['article_id']}: its text was pruned; the stored verdict:")
        out.print(f"  {kept['verdict'] if kept else 'no terms of the topic were found'}")
        return
    _explain(one, stored["article_id"], stored["title"], stored["text"], stored["url"])


def _explain(
    topics: TopicSet, case_id: str, title: str | None, text: str, url: str | None = None
) -> None:
    from extractors.topics.normalize import sentence_bounds

    (ct,) = list(topics)
    found = topics.match(title, text)
    out.print(f"[bold]{case_id}[/bold]{f'  {url}' if url else ''}", markup=True)
    out.print(f"  headline: {title or '(none)'}", markup=False)
    if not found:
        out.print(f"  {ct.topic.name}: miss: none of its terms is here", markup=False)
        out.print()
        return
    m = found[0]
    out.print(f"  {ct.topic.name}: {m.verdict}", markup=False)
    bounds = sentence_bounds(text)
    weights = dict(m.units)
    terms_at: dict[int, list[str]] = {}
    for x in m.mentions:
        unit = (
            0
            if x.field == "title"
            else 1 + next((i for i, (a, b) in enumerate(bounds) if a <= x.start < b), 0)
        )
        terms_at.setdefault(unit, []).append(x.term)
    if 0 in weights:
        out.print(f"  ✓ headline: {', '.join(dict.fromkeys(terms_at.get(0, [])))}", markup=False)
    for unit, count in weights.items():
        if unit == 0:
            continue
        a, b = bounds[unit - 1]
        where = "lead" if unit <= ct.topic.lead_sentences else "body"
        sentence = " ".join(text[a:b].split())
        weight = "" if count == 1 else f" (counts {count:g})"
        out.print(
            f"  ✓ sentence {unit} of {len(bounds)} ({where}){weight}: {sentence}", markup=False
        )
    if not weights:
        terms = ", ".join(m.terms)
        out.print(f"  terms found, never together as the query asks: {terms}", markup=False)
    out.print()


def read_cases(path: Path, *, labelled: bool = False) -> list[dict[str, Any]]:
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
            case
            | {
                "id": case["id"],
                "title": case.get("title") or "",
                "text": case.get("text") or "",
                "labels": labels,
            }
        )
    return cases
