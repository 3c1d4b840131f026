"""Learn a topic from labelled cases (pure): vocabulary, languages, thresholds.

A topic a new user writes has the shape `ANCHORS AND (VOCABULARY)`:
`@china AND @russia AND (military OR exercise* OR drone*)`. The anchors say
who (they are kept); the vocabulary clause says what, and it is what a short
definition lacks. From labelled cases the learner:

1. gives the anchors every language the cases are in: an alias list naming a
   country in English ("china", "russia*") gains `@country:CODE` (CLDR's names);
2. looks at the *anchor sentences* (the headline and the sentences where the
   anchors hold) of the positives and of the negatives, and weighs each
   candidate (a word, a Korean stem, a Chinese or Japanese character pair, a
   built-in `@vocab:` list) by its log-odds with a prior: found in many
   positives' anchor sentences and few negatives'. Candidates are then added,
   best first, while each one raises F1 on the cases by enough (at least one
   more case right than it costs);
3. drops the vocabulary terms that made only false hits;
4. fits `min_score` and the headline's weight.

The cases it learns from are matched once; every step after is sets of
sentences and the score's formula (scoring.py), so 200 cases take seconds.
Precision and recall are estimated by `cross_validate`, which learns on part
of the cases and judges with the real matcher on the rest.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from extractors.models import Topic
from extractors.topics.document import Document
from extractors.topics.evaluate import TopicScore
from extractors.topics.matcher import CompiledTopic, TopicSet
from extractors.topics.normalize import is_cjk, is_hangul, normalize_word
from extractors.topics.query import Or, Term, make_term, parse_query
from extractors.topics.scoring import SHARE_CAP, SHARE_FLOOR
from extractors.topics.shared import builtin, country, country_codes, resolve_aliases, vocabulary

__all__ = [
    "Candidate",
    "Learned",
    "TopicSpec",
    "cross_validate",
    "learn",
    "learn_and_validate",
    "topic_set",
]

PRIOR = 1.0  # pseudo-count of the log-odds: a word in 2 of 2 positives is not certain
MIN_POSITIVES = 3  # a learned word finds at least this many positives of the cases
MIN_LIST_POSITIVES = 2  # a built-in list, at least this many
MIN_LOG_ODDS = math.log(2)  # and is at least twice as common in positives' anchor sentences
MAX_TERMS = 40
COMMON = 0.3  # a word in this share of all the cases is no evidence
MIN_SCORES = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
HEADLINE_WEIGHTS = (2.0, 3.0)
PROXIMITY = (3, 5, 8)  # words between the two anchors tried
MARGIN = 1  # fewer errors on the cases that a closeness of the anchors must make
WEIGHT_KEYS = ("headline_weight", "lead_weight", "share_weight", "lead_sentences")

# Words that say nothing on their own, in the languages of the cases; a candidate
# must also be three letters or more (two for Korean, Chinese and Japanese).
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "their",
        "they",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "you",
        "not",
        "but",
        "also",
        "said",
        "says",
        "say",
        "will",
        "would",
        "could",
        "may",
        "can",
        "after",
        "before",
        "over",
        "under",
        "into",
        "about",
        "than",
        "more",
        "most",
        "new",
        "first",
        "last",
        "one",
        "two",
        "three",
        "year",
        "years",
        "time",
        "week",
        "day",
        "month",
        "told",
        "according",
        "which",
        "who",
        "what",
        "when",
        "where",
        "while",
        "there",
        "here",
        "all",
        "some",
        "any",
        "other",
        "such",
        "just",
        "only",
        "since",
        "during",
        "amid",
        "against",
        "between",
        "including",
        "because",
        "however",
        "still",
        "even",
        "now",
        "then",
        "both",
        "each",
        "many",
        "much",
        "very",
        "well",
        "being",
        "does",
        "did",
        "out",
        "off",
        "down",
        "per",
        "via",
        "upon",
        "within",
        "without",
        "toward",
        "towards",
        "across",
        "through",
        "among",
        "around",
        "again",
        "already",
        "yet",
        "der",
        "die",
        "das",
        "und",
        "oder",
        "ein",
        "eine",
        "mit",
        "von",
        "zu",
        "im",
        "den",
        "dem",
        "des",
        "ist",
        "sind",
        "wird",
        "nicht",
        "auch",
        "le",
        "la",
        "les",
        "et",
        "ou",
        "un",
        "une",
        "des",
        "du",
        "de",
        "en",
        "au",
        "aux",
        "est",
        "sont",
        "pour",
        "par",
        "avec",
        "dans",
        "sur",
        "el",
        "los",
        "las",
        "y",
        "o",
        "del",
        "por",
        "para",
        "con",
        "una",
        "es",
        "son",
        "в",
        "и",
        "на",
        "с",
        "по",
        "не",
        "что",
        "это",
        "как",
        "из",
        "за",
        "от",
        "для",
        "к",
        "о",
        "у",
        "же",
        "finally",
        "recently",
        "currently",
        "reportedly",
        "likely",
        "nearly",
        "mostly",
        "early",
        "later",
        "soon",
        "once",
        "ever",
        "never",
        "must",
        "should",
        "might",
        "shall",
        "whose",
        "whom",
        "become",
        "became",
        "made",
        "make",
        "take",
        "took",
        "given",
        "give",
        "get",
        "got",
        "another",
        "every",
    ]
)
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True)
class TopicSpec:
    """What the learner reads and writes of a topic: its query, the alias lists it can
    name (as written, before built-ins are resolved) and its scoring."""

    name: str
    query: str
    aliases: Mapping[str, Sequence[str]]
    min_score: float = 1.0
    min_sentences: int = 1
    headline_weight: float = 2.0
    lead_weight: float = 1.0
    share_weight: float = 10.0
    lead_sentences: int = 2

    def topic(self) -> Topic:
        return Topic(
            name=self.name,
            query=self.query,
            version="learn",
            min_score=self.min_score,
            min_sentences=self.min_sentences,
            headline_weight=self.headline_weight,
            lead_weight=self.lead_weight,
            share_weight=self.share_weight,
            lead_sentences=self.lead_sentences,
        )


def topic_set(spec: TopicSpec) -> TopicSet:
    """The topic compiled as `feedwatch` would compile it."""
    aliases = resolve_aliases(spec.aliases, spec.query, spec.name)
    return TopicSet([CompiledTopic(spec.topic(), parse_query(spec.query, spec.name, aliases))])


@dataclass(frozen=True)
class Candidate:
    """A term the learner weighed, with what it decides on the cases it learned from."""

    term: str  # as topics.yaml writes it: a word, a prefix*, a quoted phrase, @vocab:NAME
    positives: int  # positives with it in an anchor sentence
    negatives: int  # negatives with it in an anchor sentence
    log_odds: float
    gained: int = 0  # positives it makes hits that were not
    false_hits: int = 0  # negatives it makes hits that were not
    translates: tuple[str, ...] = ()  # the clause's own words this built-in list holds


@dataclass
class Learned:
    before: TopicSpec
    after: TopicSpec
    learned_alias: str | None  # the name of the alias list of learned terms, if any
    added: list[Candidate] = field(default_factory=list)
    dropped: list[Candidate] = field(default_factory=list)
    excluded: list[Candidate] = field(default_factory=list)  # words that stop a sentence counting
    excluded_alias: str | None = None
    proximity: int | None = None  # the anchors within this many words of each other
    errors_apart: int = 0  # with a proximity: the errors on the cases without it
    errors: int = 0  # on the cases learned from: false hits and misses
    countries: dict[str, str] = field(default_factory=dict)  # alias list → country code added
    notes: list[str] = field(default_factory=list)


# --- the query's parts ---------------------------------------------------------------


def split_and(query: str) -> list[str]:
    """The query's top-level AND clauses, as written ("a AND (b OR c)" → [a, (b OR c)])."""
    parts, depth, start, i = [], 0, 0, 0
    text = " ".join(query.split())
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = text.find('"', i + 1)
            if i < 0:
                break
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(" AND ", i):
            parts.append(text[start:i].strip())
            start = i + 5
            i += 4
        elif depth == 0 and text.startswith(" OR ", i):
            return [text]  # an OR at the top: one clause
        i += 1
    parts.append(text[start:].strip())
    return parts


def _terms_clause(clause: str) -> list[str] | None:
    """The terms of a clause that is a plain list of them ("(a OR b* OR "c d")"), as
    written; None for anything else (an alias, NEAR, NOT, nesting)."""
    inner = clause
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    if "(" in inner or "@" in inner or "NEAR" in inner or "NOT " in inner:
        return None
    try:
        tree = parse_query(inner)
    except Exception:
        return None
    if isinstance(tree, Term):
        return [str(tree)]
    if isinstance(tree, Or) and all(isinstance(c, Term) and c.weight == 1 for c in tree.children):
        return [str(c) for c in tree.children]
    return None


def _written(term: str) -> str:
    return term[1:-1] if len(term) > 1 and term[0] == term[-1] == '"' else term


# --- the cases, matched once ---------------------------------------------------------


@dataclass
class _Case:
    id: str
    lang: str
    label: bool
    doc: Document
    total: int
    anchor_units: set[int]
    forms: dict[str, set[int]]


@dataclass
class _Prepared:
    """A case prepared once for every trial and every fold: its Document (which
    keeps its sentences), the candidate words of its anchor units (filled in by the
    first _prepare: the anchors without closeness, a superset of every trial's
    units), and where each anchor query tried holds."""

    doc: Document
    forms: dict[str, set[int]] = field(default_factory=dict)
    anchors: dict[str, set[int]] = field(default_factory=dict)


def _documents(cases: Sequence[Mapping[str, Any]]) -> list[_Prepared]:
    return [_Prepared(Document(c.get("title"), c.get("text", ""))) for c in cases]


def _prepare(
    spec: TopicSpec, anchors: str, cases: Sequence[Mapping[str, Any]], docs: Sequence[_Prepared]
) -> list[_Case]:
    # The anchors' lists may differ between trials (a country list joined or not).
    key = anchors + repr(sorted((k, tuple(v)) for k, v in spec.aliases.items()))
    probe: TopicSet | None = None
    out = []
    for case, prepared in zip(cases, docs, strict=True):
        doc, forms = prepared.doc, prepared.forms
        units = prepared.anchors.get(key)
        if units is None:
            probe = probe or topic_set(replace(spec, query=anchors))
            units = set()
            for m in probe.match_document(doc):
                units = {u for u, w in m.units if w > 0}
            prepared.anchors[key] = units
        if units and not forms:
            forms.update(_forms(doc, sorted(units)))
        out.append(
            _Case(
                str(case["id"]),
                str(case.get("lang") or "-"),
                bool(case["labels"][spec.name]),
                doc,
                doc.body_sentences,
                units,
                forms,
            )
        )
    return out


def _units_of(terms: Sequence[str], cases: Sequence[_Case]) -> list[list[set[int]]]:
    """For each term, for each case: the anchor units where the term is."""
    compiled = [make_term(t) if not t.startswith("@") else None for t in terms]
    per_term: list[list[set[int]]] = [[set() for _ in cases] for _ in terms]
    lists: dict[int, list[Term]] = {}
    for i, t in enumerate(terms):
        if t.startswith("@"):
            lists[i] = [x for x in (make_term(a) for a in builtin(t[1:]) or ()) if x]
    keys: dict[tuple[tuple[str, ...], str], list[int]] = defaultdict(list)
    all_terms: list[Term] = []
    for i, term in enumerate(compiled):
        for x in [term] if term else lists.get(i, []):
            if x is None:
                continue
            keys[(x.words, x.mode)].append(i)
            all_terms.append(x)
    if not all_terms:
        return per_term
    finder = TopicSet(
        [CompiledTopic(Topic("candidates", "-", "-"), Or(tuple(dict.fromkeys(all_terms))))]
    )
    for c, case in enumerate(cases):
        if not case.anchor_units:
            continue
        for key, occ in finder.find(case.doc).items():
            for first, _ in occ:
                u = case.doc.unit(first)
                if u in case.anchor_units:
                    for i in keys.get(key, ()):
                        per_term[i][c].add(u)
    return per_term


def _hit(spec: TopicSpec, case: _Case, units: set[int]) -> bool:
    """Whether a case with the query holding in these units is a hit: scoring.py's
    formula for unweighted units, without building its explanation (called for
    every case of every trial)."""
    if not units or len(units) < spec.min_sentences:
        return False
    headline = spec.headline_weight if 0 in units else 0.0
    lead = spec.lead_weight * sum(1 for u in range(1, spec.lead_sentences + 1) if u in units)
    body = len(units) - (0 in units)
    share = body / max(case.total, SHARE_FLOOR) if case.total else 0.0
    points = (
        round(headline, 3) + round(lead, 3) + round(min(spec.share_weight * share, SHARE_CAP), 3)
    )
    return round(points, 3) >= spec.min_score


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _changed(
    spec: TopicSpec,
    cases: Sequence[_Case],
    current: Sequence[set[int]],
    trial: Sequence[set[int]],
    base: tuple[int, ...],
) -> tuple[int, ...]:
    """The counts under `trial`, from `base` (the counts under `current`): only the
    cases whose sentences differ are scored again."""
    tp, fp, fn = base
    for case, old, new in zip(cases, current, trial, strict=True):
        if old == new:
            continue
        was, now = _hit(spec, case, old), _hit(spec, case, new)
        if was == now:
            continue
        step = 1 if now else -1
        if case.label:
            tp += step
            fn -= step
        else:
            fp += step
    return tp, fp, fn


def _counts(spec: TopicSpec, cases: Sequence[_Case], units: Sequence[set[int]]) -> tuple[int, ...]:
    tp = fp = fn = 0
    for case, u in zip(cases, units, strict=True):
        got = _hit(spec, case, u)
        tp += got and case.label
        fp += got and not case.label
        fn += case.label and not got
    return tp, fp, fn


# --- candidates ----------------------------------------------------------------------


def _forms(doc: Document, units: Iterable[int]) -> dict[str, set[int]]:
    """Every candidate the words of these units make, and the units it is in: a word,
    a Korean stem (its first two syllables: 훈련 of 훈련을), a pair of Chinese or
    Japanese characters. Each matches in the real matcher where it is found here (a
    word exactly, a Korean stem as a prefix, a character pair inside a word)."""
    forms: dict[str, set[int]] = defaultdict(set)
    for unit in units:
        for i in doc.tokens_of(unit):
            norm = doc.norms[i]
            if _DIGITS.search(norm):
                continue
            if is_cjk(norm):
                for a, b in itertools.pairwise(norm):
                    if is_cjk(a) and is_cjk(b):
                        forms[a + b].add(unit)
            elif is_hangul(norm):
                if len(norm) >= 2:
                    forms[norm[:2]].add(unit)
            elif len(norm) >= 3 and norm not in _STOP:
                forms[norm].add(unit)
    return forms


def _candidate_words(case: _Case, excluded: set[str]) -> set[str]:
    """The candidates of a case's anchor sentences."""
    return {
        f
        for f, units in case.forms.items()
        if f not in excluded and not units.isdisjoint(case.anchor_units)
    }


_NOWHERE: frozenset[int] = frozenset()


def _word_units(words: Sequence[str], cases: Sequence[_Case]) -> list[list[set[int]]]:
    """For each candidate word, for each case: the anchor units where it is (read
    only: absent is one shared empty set)."""
    index = {w: i for i, w in enumerate(words)}
    per: list[list[Any]] = [[_NOWHERE] * len(cases) for _ in words]
    for c, case in enumerate(cases):
        for form, units in case.forms.items():
            i = index.get(form)
            if i is not None and (found := units & case.anchor_units):
                per[i][c] = found
    return per


def _excluded(cases: Iterable[Mapping[str, Any]]) -> set[str]:
    """Words of the cases' outlets and links: never learned (a rule names no outlet)."""
    words: set[str] = set()
    for case in cases:
        for key in ("publisher", "source", "link", "url", "feed"):
            value = case.get(key)
            if isinstance(value, str):
                words.update(normalize_word(w) for w in re.findall(r"\w+", value))
    return words


def _log_odds(pos: int, neg: int, n_pos: int, n_neg: int) -> float:
    return math.log((pos + PRIOR) / (n_pos - pos + PRIOR)) - math.log(
        (neg + PRIOR) / (n_neg - neg + PRIOR)
    )


# --- learning ------------------------------------------------------------------------


def learn(spec: TopicSpec, cases: Sequence[Mapping[str, Any]]) -> Learned:
    """A better definition of `spec` from cases labelled for it (others are ignored).

    A topic of two anchors (who with whom) is also learned with the anchors named
    close together (`@china NEAR/3 @russia`): news of a relation names the two side
    by side ("China and Russia hold drills", 中俄, 북·러), a report about one that
    mentions the other names them apart. The closeness is kept when it makes at least
    MARGIN fewer errors on the cases, learned terms included."""
    cases = [c for c in cases if spec.name in c.get("labels", {})]
    return _learn_best(spec, cases, _documents(cases))


def _learn_best(
    spec: TopicSpec, cases: Sequence[Mapping[str, Any]], docs: Sequence[_Prepared]
) -> Learned:
    best = _learn(spec, cases, docs)
    clauses = split_and(spec.query)
    vocab_at = _vocabulary_clause(clauses)
    anchors = [i for i in range(len(clauses)) if i != vocab_at]
    if vocab_at is None or len(anchors) != 2 or not any(c["labels"][spec.name] for c in cases):
        return best
    fewest = best.errors - MARGIN
    for n in PROXIMITY:
        near = list(clauses)
        near[anchors[0]] = f"({clauses[anchors[0]]} NEAR/{n} {clauses[anchors[1]]})"
        del near[anchors[1]]
        trial = _learn(replace(spec, query=" AND ".join(near)), cases, docs)
        trial.before = spec
        trial.proximity = n
        trial.errors_apart = best.errors_apart if best.proximity else best.errors
        if trial.errors <= fewest:
            best, fewest = trial, trial.errors - MARGIN
    return best


def _vocabulary_clause(clauses: Sequence[str]) -> int | None:
    """Which clause says what (not who): a plain list of terms, one naming no country
    if there is one, the longest, the last of equals (who is said first)."""
    lists = {i: _terms_clause(c) for i, c in enumerate(clauses)}
    found = {i: terms for i, terms in lists.items() if terms is not None}
    names = _english_names()
    plain = {
        i: terms
        for i, terms in found.items()
        if not any(_written(t).lower().rstrip("*") in names for t in terms)
    }
    pool = plain or found
    return max(pool, key=lambda i: (len(pool[i]), i), default=None)


def _learn(
    spec: TopicSpec, cases: Sequence[Mapping[str, Any]], docs: Sequence[_Prepared]
) -> Learned:
    result = Learned(before=spec, after=spec, learned_alias=None)
    clauses = split_and(spec.query)
    vocab_at = _vocabulary_clause(clauses)
    langs = {str(c.get("lang")) for c in cases if c.get("lang")}
    other_languages = bool(langs - {"en"})
    spec, clauses = _with_countries(
        spec, clauses, vocab_at, result, other_languages=other_languages
    )
    if vocab_at is None or len(clauses) < 2:
        result.notes.append(
            "the query is not ANCHORS AND (term OR term …): only its thresholds were fitted"
        )
        result.after = _fit_scoring(spec, _prepare(spec, spec.query, cases, docs), None)
        return result
    anchors = " AND ".join(c for i, c in enumerate(clauses) if i != vocab_at)
    own = _terms_clause(clauses[vocab_at]) or []
    prepared = _prepare(spec, anchors, cases, docs)
    n_pos = sum(c.label for c in prepared)
    n_neg = len(prepared) - n_pos
    if not n_pos:
        result.notes.append("no positive case: nothing to learn from")
        return result

    # Candidates: the built-in lists, and the words of the positives' anchor sentences.
    excluded = _excluded(cases)
    # Words in a third of all the cases are the language's own furniture (since,
    # during, 있다), whatever the language: never learned.
    df: Counter[str] = Counter()
    for case in prepared:
        df.update(set(case.doc.norms))
    excluded |= {w for w, n in df.items() if n >= COMMON * len(prepared)}
    words: Counter[str] = Counter()
    for case in prepared:
        if case.label:
            words.update(_candidate_words(case, excluded))
    own_words = {_written(t).rstrip("*") for t in own}
    lists = [f"@vocab:{name}" for name in vocabulary()]
    found = sorted(w for w, n in words.items() if n >= MIN_POSITIVES and w not in own_words)
    texts = lists + found
    units = _units_of(own + lists, prepared) + _word_units(found, prepared)
    own_units, cand_units = units[: len(own)], units[len(own) :]

    def support(per_case: list[set[int]]) -> tuple[int, int]:
        pos = sum(1 for case, u in zip(prepared, per_case, strict=True) if u and case.label)
        neg = sum(1 for case, u in zip(prepared, per_case, strict=True) if u and not case.label)
        return pos, neg

    current = [set().union(*(t[c] for t in own_units)) for c in range(len(prepared))]
    spec = _fit_scoring(spec, prepared, current)

    # Drop the terms of the clause that made only false hits.
    kept = list(own)
    for t, per_case in zip(own, own_units, strict=True):
        pos, neg = support(per_case)
        if pos or not neg:
            continue
        without = [
            set().union(*(own_units[j][c] for j, x in enumerate(own) if x in kept and x != t))
            for c in range(len(prepared))
        ]
        before, after = _counts(spec, prepared, current), _counts(spec, prepared, without)
        if _f1(*after) >= _f1(*before) and len(kept) > 1:
            kept.remove(t)
            current = without
            result.dropped.append(
                Candidate(t, pos, neg, _log_odds(pos, neg, n_pos, n_neg), false_hits=neg)
            )

    # The clause's own words in every language: each built-in list holding one of
    # them joins, unless it costs more cases than it wins.
    if other_languages:
        for i, t in enumerate(texts):
            name = t[len("@vocab:") :] if t.startswith("@vocab:") else None
            if name is None or not own_words & {x.rstrip("*") for x in vocabulary()[name]}:
                continue
            trial = [a | b for a, b in zip(current, cand_units[i], strict=True)]
            tp0, fp0, _ = start = _counts(spec, prepared, current)
            tp1, fp1, _ = _changed(spec, prepared, current, trial, start)
            if (tp1 - tp0) - (fp1 - fp0) >= 0:
                pos, neg = support(cand_units[i])
                current = trial
                held = own_words & {x.rstrip("*") for x in vocabulary()[name]}
                result.added.append(
                    Candidate(
                        t,
                        pos,
                        neg,
                        _log_odds(pos, neg, n_pos, n_neg),
                        tp1 - tp0,
                        fp1 - fp0,
                        translates=tuple(sorted(held)),
                    )
                )
    # Add candidates, best log-odds first, while each raises F1 by a case or more.
    scored = []
    for t, per_case in zip(texts, cand_units, strict=True):
        pos, neg = support(per_case)
        lo = _log_odds(pos, neg, n_pos, n_neg)
        if (
            pos >= (MIN_LIST_POSITIVES if t.startswith("@") else MIN_POSITIVES)
            and lo >= MIN_LOG_ODDS
        ):
            scored.append((lo, pos, t.startswith("@"), t, per_case, neg))
    scored.sort(key=lambda x: (-x[0], -x[1], not x[2], x[3]))
    options = [
        (t, per_case, Candidate(t, pos, neg, lo))
        for lo, pos, _, t, per_case, neg in scored
        if not any(c.term == t for c in result.added)
    ]
    current = _greedy(spec, prepared, current, options, result.added, set.union)
    spec = _fit_scoring(spec, prepared, current)

    # Words of the sentences that carry the topic in negatives and in no positive:
    # a sentence holding one no longer carries it (it is about something else).
    current = _exclude(spec, prepared, current, excluded, result, n_pos, n_neg)
    spec = _fit_scoring(spec, prepared, current)
    _, fp, fn = _counts(spec, prepared, current)
    result.errors = fp + fn

    if result.excluded:
        alias = f"{spec.name}-not"
        aliases = dict(spec.aliases)
        aliases[alias] = [c.term for c in result.excluded]
        clauses = [*clauses, f"NOT @{alias}"]
        spec = replace(spec, aliases=aliases)
        result.excluded_alias = alias
    if result.added or result.dropped or result.excluded:
        alias = f"{spec.name}-learned"
        aliases = dict(spec.aliases)
        aliases[alias] = [c.term for c in result.added]
        terms = [t for t in own if t in kept]
        vocab = " OR ".join(terms + ([f"@{alias}"] if result.added else []))
        new_clauses = list(clauses)
        new_clauses[vocab_at] = f"({vocab})"
        spec = replace(spec, query=" AND ".join(new_clauses), aliases=aliases)
        result.learned_alias = alias if result.added else None
    result.after = spec
    return result


def _exclude(
    spec: TopicSpec,
    cases: Sequence[_Case],
    current: list[set[int]],
    excluded: set[str],
    result: Learned,
    n_pos: int,
    n_neg: int,
) -> list[set[int]]:
    """Learn the words that stop a sentence from carrying the topic: found in the
    carrying sentences of at least MIN_POSITIVES negatives and of no positive; best
    first, each kept while it gets at least one more case right than wrong."""
    in_neg: Counter[str] = Counter()
    for case, units in zip(cases, current, strict=True):
        if not case.label and units:
            narrowed = replace(case, anchor_units=units)
            in_neg.update(_candidate_words(narrowed, excluded))
    words = sorted(w for w, n in in_neg.items() if n >= MIN_POSITIVES)
    if not words:
        return current
    carrying = [replace(c, anchor_units=u) for c, u in zip(cases, current, strict=True)]
    per_word = _word_units(words, carrying)
    ranked = []
    for w, per_case in zip(words, per_word, strict=True):
        pos = sum(1 for c, u in zip(cases, per_case, strict=True) if u and c.label)
        neg = sum(1 for c, u in zip(cases, per_case, strict=True) if u and not c.label)
        if pos == 0 and neg >= MIN_POSITIVES:
            ranked.append((-neg, w, per_case, neg))
    options = [
        (w, per_case, Candidate(w, 0, neg, _log_odds(0, neg, n_pos, n_neg)))
        for _, w, per_case, neg in sorted(ranked)
    ]
    current = _greedy(spec, cases, current, options, result.excluded, set.difference)
    return current


def _greedy(
    spec: TopicSpec,
    cases: Sequence[_Case],
    current: list[set[int]],
    options: Sequence[tuple[str, list[set[int]], Candidate]],
    kept: list[Candidate],
    step: Callable[[set[int], set[int]], set[int]],
) -> list[set[int]]:
    """Try each option in turn: its units joined to the carrying ones (set.union) or
    taken from them (set.difference); keep it while it gets at least one more case
    right than wrong and raises F1. The kept ones are appended to `kept`, with what
    they changed."""
    base: tuple[int, ...] | None = None
    for _, per_case, candidate in options:
        if len(kept) >= MAX_TERMS:
            break
        trial = [step(a, b) for a, b in zip(current, per_case, strict=True)]
        if base is None:
            base = _counts(spec, cases, current)
        tp0, fp0, fn0 = base
        tp1, fp1, fn1 = _changed(spec, cases, current, trial, base)
        if (tp1 - tp0) - (fp1 - fp0) >= 1 and _f1(tp1, fp1, fn1) > _f1(tp0, fp0, fn0):
            base = None
            current = trial
            kept.append(replace(candidate, gained=tp1 - tp0, false_hits=fp1 - fp0))
    return current


def _with_countries(
    spec: TopicSpec,
    clauses: Sequence[str],
    vocab_at: int | None,
    result: Learned,
    *,
    other_languages: bool,
) -> tuple[TopicSpec, list[str]]:
    """Anchors that name a country in English gain the country's built-in list, when
    the cases are in other languages too: an alias list gets `@country:CODE` as an
    entry, a clause of terms (`(china OR chinese)`) as one more term."""
    clauses = list(clauses)
    if not other_languages:
        return spec, clauses
    names = _english_names()
    aliases = {k: list(v) for k, v in spec.aliases.items()}
    for i, clause in enumerate(clauses):
        if i == vocab_at:
            continue
        terms = _terms_clause(clause)
        if terms is not None:
            codes = [names[w] for t in terms if (w := _written(t).lower().rstrip("*")) in names]
            if codes:
                clauses[i] = f"({' OR '.join(terms)} OR @country:{codes[0]})"
                result.notes.append(f"{clause} + @country:{codes[0]}")
            continue
        for name in re.findall(r"@([\w-]+)", clause):
            listed = aliases.get(name)
            if listed is None:
                continue
            for t in listed:
                found = names.get(_written(t).lower().rstrip("*"))
                if found and f"@country:{found}" not in listed:
                    listed.append(f"@country:{found}")
                    result.countries[name] = found
                    break
    changed = clauses != split_and(spec.query)  # else the query keeps its own layout
    query = " AND ".join(clauses) if changed else spec.query
    return replace(spec, aliases=aliases, query=query), clauses


@cache
def _english_names() -> dict[str, str]:
    """English country names and adjectives (CLDR) → the country's code."""
    names: dict[str, str] = {}
    for code in country_codes():
        for t in country(code)[:2]:  # the English name and adjective
            if re.fullmatch(r"[a-z' -]+\*?", t):
                names[t.rstrip("*")] = code
    return names


def _fit_scoring(
    spec: TopicSpec, cases: Sequence[_Case], units: Sequence[set[int]] | None
) -> TopicSpec:
    """min_score and the headline's weight that give the best F1 on the cases (ties: the
    current setting, then the stricter threshold)."""
    if units is None:
        ts = topic_set(spec)
        units = []
        for case in cases:
            found = ts.match_document(case.doc)
            units.append({u for m in found for u, w in m.units if w > 0})

    def gain(s: TopicSpec) -> int:
        tp, fp, fn = _counts(s, cases, units)
        return tp - fp - fn

    # A setting other than the current one must gain 2 (a positive more found and
    # missed no more; or two false hits fewer): a single false hit alone moves a
    # threshold as often by chance as for a reason.
    best, needed = spec, gain(spec) + 2
    for hw in HEADLINE_WEIGHTS:
        for ms in MIN_SCORES:
            trial = replace(spec, min_score=ms, headline_weight=hw)
            if (g := gain(trial)) >= needed:
                best, needed = trial, g + 2
    return best


# --- cross-validation ----------------------------------------------------------------


def folds(cases: Sequence[Mapping[str, Any]], k: int, name: str) -> list[list[int]]:
    """k folds of the case indices, each with its share of positives and of every
    language: deterministic (by the cases' order within each group)."""
    groups: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for i, c in enumerate(cases):
        groups[(str(c.get("lang") or "-"), bool(c["labels"][name]))].append(i)
    out: list[list[int]] = [[] for _ in range(k)]
    n = 0
    for key in sorted(groups):
        for i in groups[key]:
            out[n % k].append(i)
            n += 1
    return out


def cross_validate(
    spec: TopicSpec, cases: Sequence[Mapping[str, Any]], k: int = 5, by: str = "lang"
) -> tuple[list[TopicScore], list[TopicScore]]:
    """(before, after) per value of `by`: the topic as given, judged on every case, and
    the topic learned on k-1 folds judged on the fold it did not see, for each fold."""
    cases = [c for c in cases if spec.name in c.get("labels", {})]
    return _validate(spec, cases, _documents(cases), k, by)


def learn_and_validate(
    spec: TopicSpec, cases: Sequence[Mapping[str, Any]], k: int = 5, by: str = "lang"
) -> tuple[Learned, list[TopicScore], list[TopicScore]]:
    """`learn` on every case and `cross_validate`, each case prepared once for both."""
    cases = [c for c in cases if spec.name in c.get("labels", {})]
    docs = _documents(cases)
    return (_learn_best(spec, cases, docs), *_validate(spec, cases, docs, k, by))


def _validate(
    spec: TopicSpec,
    cases: Sequence[Mapping[str, Any]],
    docs: Sequence[_Prepared],
    k: int,
    by: str,
) -> tuple[list[TopicScore], list[TopicScore]]:
    before: dict[str, TopicScore] = {}
    after: dict[str, TopicScore] = {}
    ts = topic_set(spec)

    def add(scores: dict[str, TopicScore], case: Mapping[str, Any], got: bool) -> None:
        group = str(case.get(by) or "-")
        for g in (group, "all"):
            scores.setdefault(g, TopicScore(spec.name, g)).add(
                str(case["id"]), bool(case["labels"][spec.name]), got
            )

    for case, prepared in zip(cases, docs, strict=True):
        add(before, case, any(m.matched for m in ts.match_document(prepared.doc)))
    for test in folds(cases, k, spec.name):
        held = set(test)
        train = [i for i in range(len(cases)) if i not in held]
        learned = _learn_best(spec, [cases[i] for i in train], [docs[i] for i in train])
        judged = topic_set(learned.after)
        for i in test:
            add(after, cases[i], any(m.matched for m in judged.match_document(docs[i].doc)))
    order = lambda s: (s.group == "all", s.group)  # noqa: E731
    return sorted(before.values(), key=order), sorted(after.values(), key=order)
