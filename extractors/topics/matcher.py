"""Match topics against an article's title and text (pure).

Every term of every topic goes into one Aho-Corasick automaton, built once
per topic set. An article is tokenised once, its normalised tokens joined
by spaces, and the automaton finds every term in a single pass: exact words
and phrases (" north korea "), prefixes (" russia…", Korean nouns with their
particles), suffixes ("…bündnis ") and Chinese/Japanese substrings. The
boolean query is then evaluated on those hits, in the headline and in each
sentence of the body on its own; scoring.py turns where it held into a score.
Nothing is a regex per term. Each result explains itself: the parts of its
score, and every mention with its field, offsets and sentence.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from math import inf

import ahocorasick

from extractors.errors import TopicSyntaxError
from extractors.figures import figures_of
from extractors.models import Figure, Mention, Topic, TopicMatch
from extractors.topics.document import FIELD_GAP, Document
from extractors.topics.query import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Term,
    all_terms,
    parse_query,
    terms_of,
    unknown_node,
)
from extractors.topics.scoring import Score, score_units

__all__ = ["CompiledTopic", "TopicSet", "compile_topic", "match_topics"]

MAX_MENTIONS = 50

_Key = tuple[tuple[str, ...], str]  # (normalised words, mode)
_Occurrences = dict[_Key, list[tuple[int, int]]]  # key → [(first token, token count)]


@dataclass(frozen=True)
class CompiledTopic:
    topic: Topic
    tree: Node


def compile_topic(
    topic: Topic,
    *,
    aliases: dict[str, list[str]] | None = None,
    path: str | None = None,
    line: int | None = None,
) -> CompiledTopic:
    try:
        return CompiledTopic(topic, parse_query(topic.query, topic.name, aliases))
    except TopicSyntaxError as e:
        e.path, e.line = path, line
        raise


def _pattern(words: tuple[str, ...], mode: str) -> str:
    body = " ".join(words)
    if mode == "exact":
        return f" {body} "
    if mode == "prefix":
        return f" {body}"
    if mode == "suffix":
        return f"{body} "
    return body  # substring


class TopicSet:
    """Compiled topics and the one automaton that finds all their terms."""

    def __init__(self, topics: Iterable[CompiledTopic]):
        self.topics = list(topics)
        # A topic is looked at in an article only where one of its own terms is.
        self._positive: dict[str, dict[_Key, Term]] = {
            ct.topic.name: {(t.words, t.mode): t for t in reversed(terms_of(ct.tree))}
            for ct in self.topics
        }
        by_pattern: dict[str, list[_Key]] = defaultdict(list)
        for ct in self.topics:
            for term in all_terms(ct.tree):
                key = (term.words, term.mode)
                pattern = _pattern(*key)
                if key not in by_pattern[pattern]:
                    by_pattern[pattern].append(key)
        self._automaton = ahocorasick.Automaton()
        for pattern, keys in by_pattern.items():
            self._automaton.add_word(pattern, (pattern, keys))
        if by_pattern:
            self._automaton.make_automaton()
        self._empty = not by_pattern

    def __iter__(self) -> Iterator[CompiledTopic]:
        return iter(self.topics)

    def __len__(self) -> int:
        return len(self.topics)

    def __getitem__(self, index: int) -> CompiledTopic:
        return self.topics[index]

    def only(self, names: Iterable[str]) -> TopicSet:
        wanted = set(names)
        return TopicSet(ct for ct in self.topics if ct.topic.name in wanted)

    def find(self, doc: Document) -> _Occurrences:
        """Every occurrence of every term: key → [(first token, token count)]."""
        found: _Occurrences = defaultdict(list)
        if self._empty or not len(doc):
            return found
        for end, (pattern, keys) in self._automaton.iter(doc.joined):
            start = end - len(pattern) + 1
            first = doc.token_at(start + 1 if pattern.startswith(" ") else start)
            last = doc.token_at(end - 1 if pattern.endswith(" ") else end)
            if doc.field(first) != doc.field(last):
                continue
            for key in keys:
                found[key].append((first, last - first + 1))
        return found

    def match(self, title: str | None, text: str) -> list[TopicMatch]:
        return self.match_document(Document(title, text))

    def match_document(self, doc: Document) -> list[TopicMatch]:
        """A TopicMatch for every topic with any of its terms in the document: a hit
        when its score says so, a near-miss with the reasons otherwise."""
        occurrences = self.find(doc)
        by_unit: dict[int, _Occurrences] | None = None
        matches = []
        for ct in self.topics:
            mine: _Occurrences = {
                k: occurrences[k] for k in self._positive[ct.topic.name] if k in occurrences
            }
            if not mine:
                continue
            units: dict[int, _Result] = {}
            # Only where the query can hold in the whole text can it hold in a sentence
            # (NOT aside): most articles stop at this cheap test.
            if _Evaluator(doc, occurrences, lenient=True).eval(ct.tree, None) is not None:
                if by_unit is None:
                    by_unit = _by_unit(doc, occurrences)
                candidates = sorted({doc.unit(first) for occ in mine.values() for first, _ in occ})
                for u in candidates:
                    result = _Evaluator(doc, by_unit[u]).eval(ct.tree, None)
                    if result is not None and result.score > 0:
                        units[u] = result
            matches.append(_explain(ct.topic, doc, units, mine, self._positive[ct.topic.name]))
        return matches


def _by_unit(doc: Document, occurrences: _Occurrences) -> dict[int, _Occurrences]:
    """The occurrences split by unit (the headline, each body sentence)."""
    split: dict[int, _Occurrences] = defaultdict(lambda: defaultdict(list))
    for key, occ in occurrences.items():
        for first, n in occ:
            split[doc.unit(first)][key].append((first, n))
    return split


def match_topics(topics: list[CompiledTopic], title: str | None, text: str) -> list[TopicMatch]:
    """Convenience for one-off matching; build a TopicSet once to match many articles."""
    return TopicSet(topics).match(title, text)


@dataclass(frozen=True, slots=True)
class _Hit:
    tok: int  # index of the first token
    length: int
    term: Term


@dataclass(slots=True)
class _Span:
    lo: int  # word positions
    hi: int
    first: int  # token indices
    last: int
    hits: tuple[_Hit, ...]


@dataclass(slots=True)
class _Result:
    spans: list[_Span]
    score: float  # inf for a satisfied NOT: neutral inside AND


class _Evaluator:
    """A query evaluated on some occurrences: a sentence's, or (lenient: every NOT
    taken as holding) the whole document's, to tell whether any sentence can hold it."""

    def __init__(self, doc: Document, occurrences: _Occurrences, *, lenient: bool = False):
        self.doc = doc
        self.occurrences = occurrences
        self.lenient = lenient

    def eval(self, node: Node, field: str | None) -> _Result | None:
        if isinstance(node, Term):
            return self.term(node, field)
        if isinstance(node, Field):
            return self.eval(node.child, node.name)
        if isinstance(node, Not):
            if self.lenient or self.eval(node.child, field) is None:
                return _Result([], inf)
            return None
        if isinstance(node, Or):
            # Of its terms (an alias list may hold hundreds), only those found here.
            occurrences = self.occurrences
            children = [
                c
                for c in node.children
                if not isinstance(c, Term) or (c.words, c.mode) in occurrences
            ]
            results = [r for r in (self.eval(c, field) for c in children) if r is not None]
            if not results:
                return None
            score = max(r.score for r in results) * node.weight  # the strongest clause
            return _Result([s for r in results for s in r.spans], score)
        if isinstance(node, And):
            results = []
            for c in node.children:
                r = self.eval(c, field)
                if r is None:
                    return None
                results.append(r)
            score = min(r.score for r in results) * node.weight
            return _Result([s for r in results for s in r.spans], score)
        if isinstance(node, Near):
            return self.near(node, field)
        raise unknown_node(node)

    def term(self, term: Term, field: str | None) -> _Result | None:
        doc = self.doc
        spans = []
        score = 0.0
        for first, n in self.occurrences.get((term.words, term.mode), ()):
            if field is not None and doc.field(first) != field:
                continue
            last = first + n - 1
            spans.append(
                _Span(doc.position(first), doc.position(last), first, last, (_Hit(first, n, term),))
            )
            score = term.weight  # a sentence counts once, however often it names the term
        return _Result(spans, score) if spans else None

    def near(self, node: Near, field: str | None) -> _Result | None:
        left, right = self.eval(node.left, field), self.eval(node.right, field)
        if left is None or right is None:
            return None
        doc = self.doc
        rights = sorted(right.spans, key=lambda s: s.lo)
        los = [s.lo for s in rights]
        longest = max(s.hi - s.lo for s in rights)
        merged: dict[tuple[int, int], _Span] = {}
        for ls in left.spans:
            # Only the right spans that can be near: those starting at most `distance`
            # words (plus their own length) before this one (a long report holds
            # hundreds of each; all pairs would cost their product).
            first = (
                0 if node.sentence else bisect.bisect_left(los, ls.lo - node.distance - longest - 1)
            )
            for rs in rights[first:]:
                if node.sentence:
                    sentence = doc.sentence(ls.first)
                    together = (
                        sentence
                        == doc.sentence(ls.last)
                        == doc.sentence(rs.first)
                        == doc.sentence(rs.last)
                    )
                else:
                    if rs.lo > ls.hi + node.distance + 1:
                        break
                    together = max(rs.lo - ls.hi - 1, ls.lo - rs.hi - 1, 0) <= node.distance
                if together:
                    key = (min(ls.lo, rs.lo), max(ls.hi, rs.hi))
                    if key not in merged:
                        merged[key] = _Span(
                            key[0],
                            key[1],
                            min(ls.first, rs.first),
                            max(ls.last, rs.last),
                            ls.hits + rs.hits,
                        )
        if not merged:
            return None
        return _Result(list(merged.values()), node.weight)


def _explain(
    topic: Topic,
    doc: Document,
    units: dict[int, _Result],
    found: _Occurrences,
    terms: dict[_Key, Term],
) -> TopicMatch:
    """The match with its reasons: the parts of the score, and the mentions where the
    query held (where it held nowhere: the terms found)."""
    # Where the query held nowhere its share is 0 whatever the length: not counted.
    total = doc.body_sentences if units else 0
    score: Score = score_units(topic, {u: r.score for u, r in units.items()}, total)
    spans = [s for r in units.values() for s in r.spans]
    seen: set[tuple[int, int]] = set()
    hits: list[_Hit] = []
    if spans:
        for span in spans:
            for h in span.hits:
                if (h.tok, h.length) not in seen:
                    seen.add((h.tok, h.length))
                    hits.append(h)
    hits.sort(key=lambda h: h.tok)
    mentions = []
    for h in hits[:MAX_MENTIONS]:
        start, end = doc.chars(h.tok)[0], doc.chars(h.tok + h.length - 1)[1]
        field_name = doc.field(h.tok)
        mentions.append(
            Mention(
                term=str(h.term),
                field=field_name,
                start=start,
                end=end,
                snippet=doc.snippet(field_name, start, end),
            )
        )
    if not hits:
        # The query held nowhere: name the terms that are here (their places are not
        # worked out, which for most articles would cost more than the match itself).
        first_at = {k: min(first for first, _ in occ) for k, occ in found.items()}
        named = tuple(str(terms[k]) for k in sorted(first_at, key=first_at.__getitem__))
    else:
        named = tuple(dict.fromkeys(m.term for m in mentions))
    return TopicMatch(
        topic=topic.name,
        version=topic.version,
        score=score.total_points,
        matched=score.matched,
        terms=named,
        mentions=tuple(mentions),
        snippet=_best_snippet(doc, spans) if spans else None,
        sentences=score.units,
        headline_points=score.headline,
        lead_points=score.lead,
        share_points=score.share_points,
        carrying=score.carrying,
        total_sentences=score.total if units else None,
        share=score.share,
        verdict=score.verdict(),
        units=tuple(sorted((u, r.score) for u, r in units.items())),
        figures=_figures(doc, units) if score.matched else (),
    )


def _figures(doc: Document, units: dict[int, _Result]) -> tuple[Figure, ...]:
    """The figures of a hit: in its headline, and in the body sentences where the query held."""
    bounds = doc.bounds("text")
    starts = [b[0] for b in bounds]
    sentences = []
    for u in sorted(units):
        tokens = doc.tokens_of(u)
        if u == 0 or not tokens or not bounds:
            continue
        i = max(bisect.bisect_right(starts, doc.chars(tokens[0])[0]) - 1, 0)
        sentences.append(doc.fields["text"][bounds[i][0] : bounds[i][1]])
    return figures_of(doc.fields["title"], sentences)


def _best_snippet(doc: Document, spans: list[_Span]) -> str | None:
    """The text around the first place the whole query held (text preferred to title)."""
    for span in sorted(spans, key=lambda s: (s.lo < FIELD_GAP, s.lo)):
        toks = [h.tok for h in span.hits] + [h.tok + h.length - 1 for h in span.hits]
        lo, hi = min(toks), max(toks)
        field_name = doc.field(lo)
        if doc.field(hi) == field_name:
            return doc.snippet(field_name, doc.chars(lo)[0], doc.chars(hi)[1])
    return None
