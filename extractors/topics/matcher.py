"""Match compiled topics against an article's title and text (pure).

Each article is tokenised once; each term is then a dictionary look-up, so
the cost grows with the article, not with the number of terms × topics.
The result explains itself: every mention (term, field, offsets, sentence).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from math import inf

from extractors.errors import TopicSyntaxError
from extractors.models import Mention, Topic, TopicMatch
from extractors.topics.normalize import Token, sentence_bounds, tokenize
from extractors.topics.query import And, Near, Node, Not, Or, Term, parse_query

__all__ = ["CompiledTopic", "Document", "compile_topic", "match_document", "match_topics"]

TITLE_WEIGHT = 2.0  # a term in the headline says more than one deep in the text
_FIELD_GAP = 10_000  # word positions between title and text: NEAR never bridges them
MAX_MENTIONS = 50
SNIPPET_CHARS = 300


@dataclass(frozen=True)
class CompiledTopic:
    topic: Topic
    tree: Node


def compile_topic(
    topic: Topic, *, path: str | None = None, line: int | None = None
) -> CompiledTopic:
    try:
        return CompiledTopic(topic, parse_query(topic.query, topic.name))
    except TopicSyntaxError as e:
        e.path, e.line = path, line
        raise


@dataclass(frozen=True, slots=True)
class _Hit:
    tok: int  # index of the first token
    length: int
    term: Term


@dataclass(slots=True)
class _Span:
    lo: int  # word positions
    hi: int
    hits: tuple[_Hit, ...]


@dataclass(slots=True)
class _Result:
    spans: list[_Span]
    score: float  # inf for a satisfied NOT: neutral inside AND


class Document:
    """An article tokenised once for all topics."""

    def __init__(self, title: str | None, text: str):
        self.fields = {"title": title or "", "text": text or ""}
        self.tokens: list[Token] = []
        self.field_of: list[str] = []
        self.position: list[int] = []
        for offset, name in ((0, "title"), (_FIELD_GAP, "text")):
            for i, tok in enumerate(tokenize(self.fields[name])):
                self.tokens.append(tok)
                self.field_of.append(name)
                self.position.append(offset + i)
        self.index: dict[str, list[int]] = {}
        for i, tok in enumerate(self.tokens):
            self.index.setdefault(tok.norm, []).append(i)
        self._sentences: dict[str, list[tuple[int, int]]] = {}

    def occurrences(self, term: Term) -> list[int]:
        first = self.index.get(term.words[0], [])
        if len(term.words) == 1:
            return first
        n = len(term.words)
        found = []
        for i in first:
            if (
                i + n <= len(self.tokens)
                and self.field_of[i] == self.field_of[i + n - 1]
                and all(self.tokens[i + k].norm == term.words[k] for k in range(1, n))
            ):
                found.append(i)
        return found

    def sentence(self, field_name: str, start: int, end: int) -> str:
        text = self.fields[field_name]
        if field_name not in self._sentences:
            self._sentences[field_name] = sentence_bounds(text)
        bounds = self._sentences[field_name]
        starts = [b[0] for b in bounds]
        i = max(bisect.bisect_right(starts, start) - 1, 0)
        j = max(bisect.bisect_right(starts, max(end - 1, start)) - 1, i)
        s, e = (bounds[i][0], bounds[j][1]) if bounds else (0, len(text))
        snippet = " ".join(text[s:e].split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
        return snippet


@dataclass
class _Evaluator:
    doc: Document

    def eval(self, node: Node) -> _Result | None:
        if isinstance(node, Term):
            return self.term(node)
        if isinstance(node, Or):
            results = [r for r in (self.eval(c) for c in node.children) if r is not None]
            if not results:
                return None
            return _Result([s for r in results for s in r.spans], sum(r.score for r in results))
        if isinstance(node, And):
            results = []
            for c in node.children:
                r = self.eval(c)
                if r is None:
                    return None
                results.append(r)
            return _Result([s for r in results for s in r.spans], min(r.score for r in results))
        if isinstance(node, Not):
            return None if self.eval(node.child) is not None else _Result([], inf)
        return self.near(node)

    def term(self, term: Term) -> _Result | None:
        doc = self.doc
        spans = []
        score = 0.0
        for i in doc.occurrences(term):
            n = len(term.words)
            spans.append(_Span(doc.position[i], doc.position[i + n - 1], (_Hit(i, n, term),)))
            score += TITLE_WEIGHT if doc.field_of[i] == "title" else 1.0
        return _Result(spans, score) if spans else None

    def near(self, node: Near) -> _Result | None:
        left, right = self.eval(node.left), self.eval(node.right)
        if left is None or right is None:
            return None
        rights = sorted(right.spans, key=lambda s: s.lo)
        merged: dict[tuple[int, int], _Span] = {}
        for ls in left.spans:
            for rs in rights:
                if rs.lo > ls.hi + node.distance + 1:
                    break
                gap = max(rs.lo - ls.hi - 1, ls.lo - rs.hi - 1, 0)
                if gap <= node.distance:
                    key = (min(ls.lo, rs.lo), max(ls.hi, rs.hi))
                    if key not in merged:
                        merged[key] = _Span(key[0], key[1], ls.hits + rs.hits)
        if not merged:
            return None
        spans = list(merged.values())
        score = sum(TITLE_WEIGHT if s.lo < _FIELD_GAP else 1.0 for s in spans)
        return _Result(spans, score)


def match_document(topics: list[CompiledTopic], doc: Document) -> list[TopicMatch]:
    """One TopicMatch for every topic whose query the document satisfies."""
    matches = []
    for ct in topics:
        result = _Evaluator(doc).eval(ct.tree)
        if result is None:
            continue
        score = 0.0 if result.score == inf else result.score
        matches.append(_explain(ct.topic, doc, result, score))
    return matches


def match_topics(topics: list[CompiledTopic], title: str | None, text: str) -> list[TopicMatch]:
    return match_document(topics, Document(title, text))


def _explain(topic: Topic, doc: Document, result: _Result, score: float) -> TopicMatch:
    seen: set[tuple[int, int]] = set()
    hits: list[_Hit] = []
    for span in sorted(result.spans, key=lambda s: s.lo):
        for h in span.hits:
            if (h.tok, h.length) not in seen:
                seen.add((h.tok, h.length))
                hits.append(h)
    hits.sort(key=lambda h: h.tok)
    mentions = []
    for h in hits[:MAX_MENTIONS]:
        first, last = doc.tokens[h.tok], doc.tokens[h.tok + h.length - 1]
        field_name = doc.field_of[h.tok]
        mentions.append(
            Mention(
                term=str(h.term),
                field=field_name,
                start=first.start,
                end=last.end,
                snippet=doc.sentence(field_name, first.start, last.end),
            )
        )
    terms = tuple(dict.fromkeys(m.term for m in mentions))
    snippet = _best_snippet(doc, result)
    return TopicMatch(
        topic=topic.name,
        version=topic.version,
        score=score,
        matched=score >= topic.min_score,
        terms=terms,
        mentions=tuple(mentions),
        snippet=snippet,
    )


def _best_snippet(doc: Document, result: _Result) -> str | None:
    """The text around the first place the whole query held (text preferred to title)."""
    spans = sorted(result.spans, key=lambda s: (s.lo < _FIELD_GAP, s.lo))
    for span in spans:
        toks = [h.tok for h in span.hits] + [h.tok + h.length - 1 for h in span.hits]
        lo, hi = min(toks), max(toks)
        field_name = doc.field_of[lo]
        if doc.field_of[hi] != field_name:
            continue
        return doc.sentence(field_name, doc.tokens[lo].start, doc.tokens[hi].end)
    return None
