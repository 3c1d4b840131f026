"""The topic query language: parser and syntax tree (pure).

    query   := or
    or      := and ("OR" and)*
    and     := near (["AND"] near)*          adjacent clauses are ANDed
    near    := unary ("NEAR/" n unary)*       both sides within n words
    unary   := "NOT" unary | primary
    primary := "(" or ")" | "phrase in quotes" | word

Operators are upper case, as in Media Cloud and GDELT, so "and"/"or"/"not"
in lower case are ordinary words. Terms are normalised like article text
(extractors.topics.normalize), so case, hyphens and possessives do not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from extractors.errors import TopicSyntaxError
from extractors.topics.normalize import tokenize

__all__ = ["And", "Near", "Node", "Not", "Or", "Term", "parse_query", "terms_of"]


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # normalised
    text: str  # as written, for explanations

    def __str__(self) -> str:
        return f'"{self.text}"' if len(self.words) > 1 else self.text


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {self.child}"


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int

    def __str__(self) -> str:
        return f"({self.left} NEAR/{self.distance} {self.right})"


Node = Term | And | Or | Not | Near

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<phrase>"[^"]*"?)
  | (?P<near>NEAR/(?P<n>\d*))
  | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # lparen rparen phrase near word AND OR NOT end
    text: str
    pos: int
    n: int = 0


def _lex(query: str, topic: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        assert m is not None  # the word alternative matches any other character
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "near":
            n = m.group("n")
            if not n:
                raise TopicSyntaxError(
                    "NEAR needs a distance, as in NEAR/10", topic=topic, position=pos, query=query
                )
            toks.append(_Tok("near", text, pos, int(n)))
        elif kind == "phrase":
            if len(text) < 2 or not text.endswith('"'):
                raise TopicSyntaxError("unclosed quote", topic=topic, position=pos, query=query)
            toks.append(_Tok("phrase", text[1:-1], pos))
        elif kind == "word" and text in _OPERATORS:
            toks.append(_Tok(text, text, pos))
        elif kind == "word" and text.startswith("NEAR"):
            raise TopicSyntaxError(
                "NEAR needs a distance, as in NEAR/10", topic=topic, position=pos, query=query
            )
        elif kind != "space":
            toks.append(_Tok(kind, text, pos))
        pos = m.end()
        # The near pattern also swallows "NEAR/" followed by junk; reject that here.
        if kind == "near" and pos < len(query) and query[pos] not in ' \t\n()"':
            raise TopicSyntaxError(
                "NEAR/n must be followed by a space", topic=topic, position=pos, query=query
            )
    toks.append(_Tok("end", "", len(query)))
    return toks


class _Parser:
    def __init__(self, query: str, topic: str):
        self.query = query
        self.topic = topic
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
        children = [self.parse_near()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in {"lparen", "phrase", "word", "NOT"}:
                break
            children.append(self.parse_near())
        if all(isinstance(c, Not) for c in children):
            raise self.error("a query cannot be only NOT clauses: say what to look for too")
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_near(self) -> Node:
        node = self.parse_unary()
        while self.peek().kind == "near":
            tok = self.take()
            right = self.parse_unary()
            if isinstance(node, Not) or isinstance(right, Not):
                raise self.error("NOT cannot stand beside NEAR", tok)
            node = Near(node, right, tok.n)
        return node

    def parse_unary(self) -> Node:
        if self.peek().kind == "NOT":
            self.take()
            return Not(self.parse_unary())
        return self.parse_primary()

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
            words = tuple(t.norm for t in tokenize(tok.text))
            if not words:
                raise self.error(f"{tok.text!r} has no letters or digits to match", tok)
            return Term(words, tok.text)
        if tok.kind == "end":
            raise self.error("query ends where a term was expected")
        raise self.error(f"expected a term, found {tok.text!r}")


def parse_query(query: str, topic: str = "<query>") -> Node:
    """Parse a query. Raises TopicSyntaxError naming the topic and the position."""
    return _Parser(query, topic).parse()


def terms_of(node: Node, *, positive: bool = True) -> list[Term]:
    """The terms of a query (those outside NOT clauses, when positive)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return [] if positive else terms_of(node.child, positive=False)
    if isinstance(node, Near):
        return terms_of(node.left, positive=positive) + terms_of(node.right, positive=positive)
    return [t for c in node.children for t in terms_of(c, positive=positive)]
