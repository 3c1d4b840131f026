"""The topic query language: parser and syntax tree (pure).

    query   := or
    or      := and ("OR" and)*
    and     := near (["AND"] near)*            adjacent clauses are ANDed
    near    := unary (("NEAR/" n | "NEAR/s") unary)*
                                               within n words, or in one sentence
    unary   := "NOT" unary | field
    field   := ["title:" | "text:"] boosted    only in the headline, or only in the body
    boosted := primary ["^" number]            weight of the clause in the score
    primary := "(" or ")" | "phrase" | word | @alias
    word    := letters, with an optional * at the start or end (russia*, *bündnis)

Operators are upper case, as in Media Cloud and GDELT, so "and"/"or"/"not"
in lower case are ordinary words. Terms are normalised like article text
(extractors.topics.normalize), so case, hyphens and possessives do not
matter. `@name` stands for a named list of aliases, ORed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from extractors.errors import TopicSyntaxError
from extractors.topics.normalize import is_cjk, is_hangul, tokenize
from extractors.topics.shared import resolve_aliases

__all__ = ["And", "Field", "Near", "Node", "Not", "Or", "Term", "parse_query", "terms_of"]

Mode = Literal["exact", "prefix", "suffix", "substring"]


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # normalised
    text: str  # as written, for explanations and printing
    mode: Mode = "exact"  # how the last (prefix) or first (suffix) word may be extended
    weight: float = 1.0

    def __str__(self) -> str:
        whole_word = self.mode == "exact" and any(is_cjk(w) or is_hangul(w) for w in self.words)
        plain = _PLAIN.fullmatch(self.text) and self.text not in _OPERATORS and not whole_word
        return (self.text if plain else f'"{self.text}"') + _w(self.weight)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    weight: float = 1.0

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")" + _w(self.weight)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    weight: float = 1.0

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")" + _w(self.weight)


@dataclass(frozen=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {self.child}"


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int  # words between; ignored when sentence
    sentence: bool = False
    weight: float = 1.0

    def __str__(self) -> str:
        op = "NEAR/s" if self.sentence else f"NEAR/{self.distance}"
        return f"({self.left} {op} {self.right})" + _w(self.weight)


@dataclass(frozen=True)
class Field:
    name: Literal["title", "text"]
    child: Node

    def __str__(self) -> str:
        return f"{self.name}:{self.child}"


Node = Term | And | Or | Not | Near | Field


def _w(weight: float) -> str:
    return f"^{weight:g}" if weight != 1.0 else ""


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<phrase>"[^"]*"?)
  | (?P<near>NEAR/(?P<n>\d+|[sS])?)
  | (?P<field>(?:title|text):)
  | (?P<boost>\^(?P<weight>\d+(?:\.\d+)?)?)
  | (?P<alias>@[\w:-]*)
  | (?P<word>[^\s()"^]+)
    """,
    re.VERBOSE,
)
_OPERATORS = {"AND", "OR", "NOT"}
_PLAIN = re.compile(r"\*?\w+\*?")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int
    n: int = 0
    weight: float = 1.0


def _lex(query: str, topic: str) -> list[_Tok]:
    def error(problem: str, pos: int) -> TopicSyntaxError:
        return TopicSyntaxError(problem, topic=topic, position=pos, query=query)

    toks: list[_Tok] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        assert m is not None  # the word alternative matches any other character
        kind, text = m.lastgroup or "", m.group()
        if kind == "near":
            n = m.group("n")
            if not n:
                raise error("NEAR needs a distance, as in NEAR/10, or NEAR/s for one sentence", pos)
            toks.append(_Tok("near", text, pos, -1 if n in "sS" else int(n)))
        elif kind == "phrase":
            if len(text) < 2 or not text.endswith('"'):
                raise error("unclosed quote", pos)
            toks.append(_Tok("phrase", text[1:-1], pos))
        elif kind == "boost":
            if not m.group("weight"):
                raise error("^ needs a weight, as in ^2", pos)
            toks.append(_Tok("boost", text, pos, weight=float(m.group("weight"))))
        elif kind == "word" and text in _OPERATORS:
            toks.append(_Tok(text, text, pos))
        elif kind == "word" and text.startswith("NEAR"):
            raise error("NEAR needs a distance, as in NEAR/10, or NEAR/s for one sentence", pos)
        elif kind != "space":
            toks.append(_Tok(kind, text, pos))
        pos = m.end()
        if kind == "near" and pos < len(query) and query[pos] not in ' \t\n()"@':
            raise error("NEAR/n must be followed by a space", pos)
    toks.append(_Tok("end", "", len(query)))
    return toks


def make_term(text: str, weight: float = 1.0, *, quoted: bool = False) -> Term | None:
    """A term from its written form; None when it holds nothing to match.

    Quoted ("北", or '"러"' in an alias list), a Korean, Chinese or Japanese word
    matches only as a whole word: the one-syllable forms headlines use (북·러, 北)
    would otherwise start or sit inside countless other words.
    """
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        text, quoted = text[1:-1], True
    quoted = quoted and re.fullmatch(r"\w+", text) is not None  # one word, letters only
    mode: Mode = "exact"
    core = text
    if len(core) > 2 and core.startswith("*") and core.endswith("*"):
        mode, core = "substring", core.strip("*")  # inside a word: Korean compounds (해상훈련)
    elif core.endswith("*"):
        mode, core = "prefix", core.rstrip("*")
    elif core.startswith("*"):
        mode, core = "suffix", core.lstrip("*")
    words = tuple(t.norm for t in tokenize(core))
    if not words:
        return None
    if mode == "substring" and len(words) > 1:
        mode = "exact"  # a phrase is matched word by word
    if mode == "exact" and not quoted and all(is_cjk(w) for w in words):
        mode = "substring"  # no spaces between words in Chinese and Japanese
    elif mode == "exact" and not quoted and is_hangul(words[-1]):
        mode = "prefix"  # Korean particles and suffixes attach to the noun: 북한 → 북한군은
    return Term(words, text, mode, weight)


class _Parser:
    def __init__(self, query: str, topic: str, aliases: Mapping[str, Sequence[str]]):
        self.query = query
        self.topic = topic
        self.aliases = aliases
        self.toks = _lex(query, topic)
        self.i = 0

    def error(self, problem: str, tok: _Tok | None = None) -> TopicSyntaxError:
        tok = tok or self.peek()
        return TopicSyntaxError(problem, topic=self.topic, position=tok.pos, query=self.query)

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("empty query")
        node = self.parse_or()
        tok = self.peek()
        if tok.kind == "rparen":
            raise self.error("unmatched ')'")
        if tok.kind != "end":
            raise self.error(f"unexpected {tok.text!r}")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek().kind == "OR":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        first = self.peek()
        children = [self.parse_near()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in {"lparen", "phrase", "word", "NOT", "field", "alias"}:
                break
            children.append(self.parse_near())
        if all(isinstance(c, Not) for c in children):
            raise self.error("a query cannot be only NOT clauses: say what to look for too", first)
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_near(self) -> Node:
        node = self.parse_unary()
        while self.peek().kind == "near":
            tok = self.take()
            right = self.parse_unary()
            if isinstance(node, Not) or isinstance(right, Not):
                raise self.error("NOT cannot stand beside NEAR", tok)
            node = Near(node, right, max(tok.n, 0), sentence=tok.n < 0)
        return node

    def parse_unary(self) -> Node:
        if self.peek().kind == "NOT":
            self.take()
            return Not(self.parse_unary())
        if self.peek().kind == "field":
            tok = self.take()
            return Field("title" if tok.text == "title:" else "text", self.parse_boosted())
        return self.parse_boosted()

    def parse_boosted(self) -> Node:
        node = self.parse_primary()
        if self.peek().kind == "boost":
            weight = self.take().weight
            node = _weighted(node, weight)
        return node

    def parse_primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "lparen":
            self.take()
            if self.peek().kind == "rparen":
                raise self.error("empty parentheses")
            node = self.parse_or()
            if self.peek().kind != "rparen":
                raise self.error("missing ')'", tok)
            self.take()
            return node
        if tok.kind in {"phrase", "word"}:
            self.take()
            term = make_term(tok.text, quoted=tok.kind == "phrase")
            if term is None:
                raise self.error(f"{tok.text!r} has no letters or digits to match", tok)
            return term
        if tok.kind == "alias":
            self.take()
            name = tok.text[1:]
            if name not in self.aliases:
                known = ", ".join(f"@{a}" for a in sorted(self.aliases) if ":" not in a)
                raise self.error(
                    f"unknown alias @{name} (known: {known or 'none defined'};"
                    " built in: @country:CODE, @vocab:NAME)",
                    tok,
                )
            terms = [t for t in (make_term(a) for a in self.aliases[name]) if t is not None]
            if not terms:
                raise self.error(f"alias @{name} has no terms", tok)
            return terms[0] if len(terms) == 1 else Or(tuple(terms))
        if tok.kind == "end":
            raise self.error("query ends where a term was expected")
        if tok.kind == "boost":
            raise self.error("^ must follow a term or a parenthesis")
        raise self.error(f"expected a term, found {tok.text!r}")


def _weighted(node: Node, weight: float) -> Node:
    if isinstance(node, Term | And | Or | Near):
        return replace(node, weight=weight)
    if isinstance(node, Field):
        return Field(node.name, _weighted(node.child, weight))
    return node


def parse_query(
    query: str, topic: str = "<query>", aliases: Mapping[str, Sequence[str]] | None = None
) -> Node:
    """Parse a query. Raises TopicSyntaxError naming the topic and the position.

    `@name` is one of `aliases` or a built-in list (extractors.topics.shared)."""
    return _Parser(query, topic, resolve_aliases(aliases or {}, query, topic)).parse()


def terms_of(node: Node, *, positive: bool = True) -> list[Term]:
    """The terms of a query (those outside NOT clauses, when positive)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return [] if positive else terms_of(node.child, positive=False)
    if isinstance(node, Field):
        return terms_of(node.child, positive=positive)
    if isinstance(node, Near):
        return terms_of(node.left, positive=positive) + terms_of(node.right, positive=positive)
    if isinstance(node, And | Or):
        return [t for c in node.children for t in terms_of(c, positive=positive)]
    raise unknown_node(node)


def all_terms(node: Node) -> list[Term]:
    """Every term of a query, NOT clauses included."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not | Field):
        return all_terms(node.child)
    if isinstance(node, Near):
        return all_terms(node.left) + all_terms(node.right)
    if isinstance(node, And | Or):
        return [t for c in node.children for t in all_terms(c)]
    raise unknown_node(node)


def unknown_node(node: object) -> TypeError:
    """A query tree holding something the parser never makes: a bug, said at once."""
    return TypeError(f"not a topic query node: {type(node).__name__}")
