"""A topic of topics.yaml as `topics learn` reads it, and the file it writes back.

The file is edited, not regenerated: ruamel.yaml keeps every comment, every
other topic and the order of keys, and each change `topics learn` makes carries
a comment saying what it decides on the cases.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from extractors.errors import ConfigError
from extractors.topics.learn import Candidate, Learned, TopicSpec
from flows.settings import load_topics

__all__ = ["read_spec", "write_learned"]


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 100
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def read_spec(path: Path, name: str) -> tuple[str, TopicSpec]:
    """The file's text and topic `name` as written (its alias lists unresolved)."""
    load_topics(path)  # every problem of the file said with its line, as `run` says it
    text = path.read_text(encoding="utf-8")
    data: Any = _yaml().load(text)
    topics = data.get("topics")
    if isinstance(topics, list):
        body = next((t for t in topics if isinstance(t, dict) and t.get("name") == name), None)
    else:
        body = topics.get(name)
    if body is None:
        raise ConfigError(f"no topic {name!r}", path=str(path))
    if isinstance(body, str):
        body = {"query": body}
    aliases = {k: [str(x) for x in v] for k, v in (data.get("aliases") or {}).items()}
    aliases.update({k: [str(x) for x in v] for k, v in (body.get("aliases") or {}).items()})
    weights = {
        k: body[k]
        for k in ("min_sentences", "headline_weight", "lead_weight", "share_weight")
        if k in body
    }
    if "lead_sentences" in body:
        weights["lead_sentences"] = int(body["lead_sentences"])
    spec = TopicSpec(
        name=name,
        query=str(body["query"]),
        aliases=aliases,
        min_score=float(body.get("min_score", 1.0)),
        **weights,
    )
    return text, spec


def _stats(c: Candidate, positives: int) -> str:
    where = f"in {c.positives}/{positives} positives' anchor sentences, {c.negatives} negatives'"
    if c.translates:
        return f"{', '.join(c.translates)} in every language; {where}"
    if c.false_hits < 0:
        return f"in {c.negatives} negatives' carrying sentences, no positive's; {-c.false_hits} fewer false hits"
    if c.false_hits and not c.gained:
        return f"{where}; made {c.false_hits} false hits"
    return f"{where}; {c.gained} more found, {c.false_hits} more false hits"


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def write_learned(text: str, learned: Learned, cases: int, positives: int) -> str:
    """The topics file with `learned` applied; its comments and other topics kept."""
    y = _yaml()
    data: Any = y.load(text)
    name = learned.after.name
    topics = data["topics"]
    body: Any
    if isinstance(topics, list):
        body = next(t for t in topics if isinstance(t, dict) and t.get("name") == name)
    else:
        body = topics[name]
        if isinstance(body, str):  # name: "query" shorthand
            topics[name] = body = CommentedMap(query=body)
    after = learned.after
    # Country lists joined to the anchors, where each list is defined.
    for alias, code in learned.countries.items():
        own = body.get("aliases") or {}
        where = own if alias in own else data.get("aliases")
        seq = where[alias]
        seq.fa.set_block_style()  # a comment per entry reads better one entry a line
        seq.append(f"@country:{code}")
        seq.yaml_add_eol_comment(
            "learned: the cases are in other languages; the country's names in each",
            len(seq) - 1,
        )
    lists = [
        (
            learned.learned_alias,
            learned.added,
            f"learned by 'feedwatch topics learn' from {cases} labelled cases ({positives}"
            " positive): each term with what it decides on them",
        ),
        (
            learned.excluded_alias,
            learned.excluded,
            "learned: a sentence holding one of these does not carry the topic (found where"
            " negatives carried it, in no positive)",
        ),
    ]
    for list_name, found, why in lists:
        if not list_name:
            continue
        own = body.get("aliases")
        if own is None:
            body.insert(len(body) - 1 if "query" in body else len(body), "aliases", CommentedMap())
            own = body["aliases"]
        seq = CommentedSeq(after.aliases[list_name])
        for i, c in enumerate(found):
            seq.yaml_add_eol_comment(_stats(c, positives), i)
        own[list_name] = seq
        own.yaml_set_comment_before_after_key(list_name, before=why, indent=6)
    if after.query != learned.before.query:
        body["query"] = (
            LiteralScalarString(after.query + "\n") if "\n" in str(body["query"]) else after.query
        )
    if learned.proximity:
        body.yaml_set_comment_before_after_key(
            "query",
            before=f"learned: the two anchors within {learned.proximity} words of each other"
            f" (a relation's news names them side by side): {learned.errors_apart} errors on"
            f" the cases without it, {learned.errors} with it",
            indent=4,
        )
    if learned.dropped:
        body.yaml_set_comment_before_after_key(
            "query",
            before="topics learn dropped: "
            + "; ".join(f"{c.term} ({_stats(c, positives)})" for c in learned.dropped),
            indent=4,
        )
    before = learned.before
    for key in ("min_score", "headline_weight"):
        new, old = getattr(after, key), getattr(before, key)
        if new != old or key in body:
            body[key] = _number(new)
            if new != old:
                body.yaml_add_eol_comment(f"learned (was {old:g})", key)
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()
