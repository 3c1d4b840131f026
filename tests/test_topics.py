"""The topic query language, normalisation, explanations and the default topic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from extractors.errors import TopicSyntaxError
from extractors.models import Topic
from extractors.topics import CompiledTopic, TopicSet, compile_topic, match_topics, parse_query
from extractors.topics.normalize import normalize_word, sentence_bounds, tokenize
from extractors.topics.query import And
from flows.demo import load_articles
from flows.settings import load_topics


def _match(query: str, text: str, title: str = "", min_score: float = 1.0) -> float | None:
    topic = compile_topic(Topic("t", query, "v", min_score=min_score))
    found = match_topics([topic], title, text)
    return found[0].score if found and found[0].matched else None


@pytest.mark.parametrize(
    ("query", "text", "hit"),
    [
        ("russia", "Russia's army", True),
        ("russia", "Belarussian", False),
        ('"kim jong un"', "Kim Jong-un met the envoy", True),
        ('"kim jong-un"', "KIM JONG UN met the envoy", True),
        ("a AND b", "a and b", True),
        ("a AND b", "a alone", False),
        ("a b", "b then a", True),  # adjacent clauses are ANDed
        ("a OR b", "only b", True),
        ("a AND NOT b", "a and b", False),
        ("a AND NOT b", "a and c", True),
        ("(a OR b) AND c", "b c", True),
        ("(a OR b) AND c", "a b", False),
        ("a NEAR/2 b", "a x y b", True),
        ("a NEAR/2 b", "a x y z b", False),
        ("a NEAR/2 b", "b x a", True),  # either order
        ('"north korea" NEAR/3 (russia OR moscow)', "North Korea's envoy in Moscow", True),
        ("pokemon", "Pokémon", True),  # diacritics folded
        ("ｋｕｒｓｋ", "Kursk", True),  # width folded (NFKC)
        ("don't", "Don’t stop", True),  # curly apostrophe
        ("north", "North-Korean", True),  # hyphen splits words
    ],
)
def test_queries(query: str, text: str, hit: bool) -> None:
    assert (_match(query, text) is not None) is hit


def test_a_query_node_nobody_knows_is_an_error_not_a_near() -> None:
    """A tree node the matcher does not know must fail loudly, never be read as NEAR."""

    @dataclass(frozen=True)
    class Odd:
        weight: float = 1.0

    parsed = compile_topic(Topic("t", "korea AND russia", "v"))
    assert isinstance(parsed.tree, And)
    odd = CompiledTopic(parsed.topic, And((parsed.tree.children[0], Odd())))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a topic query node: Odd"):
        TopicSet([odd]).match("Korea and Russia", "Korea and Russia met.")


def test_near_does_not_bridge_title_and_text() -> None:
    assert _match("seoul NEAR/3 moscow", "Moscow said", title="Seoul") is None


def test_a_sentence_counts_once_however_many_terms_it_holds() -> None:
    # One sentence, the lead: 1 for the lead + 10 × 1/10 (a short text counts as 10).
    assert _match("kursk", "Kursk, Kursk and Kursk") == 2
    # The headline too: 2 more.
    assert _match("kursk", "Kursk", title="Kursk") == 4


def _long(carrying: set[int], n: int, term: str = "Kursk") -> str:
    return " ".join(
        f"Sentence {i} names {term} here." if i in carrying else f"Sentence {i} is about rain."
        for i in range(1, n + 1)
    )


@pytest.mark.parametrize(
    ("title", "carrying", "n", "score"),
    [
        ("Kursk", set(), 0, 2),  # a headline alone
        ("", {1}, 1, 2),  # a one-sentence item: the lead, and 1 of (at least) 10
        ("", {5}, 8, 1),  # one sentence deep in a short article: 1 of 10, no lead
        ("", {3, 9, 20, 31, 44}, 50, 1),  # five sentences of fifty: 10 %
        ("", set(range(1, 26)), 50, 7),  # half of fifty, two in the lead: 2 + 5 (the cap)
        ("", {300, 301, 302, 303, 304, 305}, 770, 0.078),  # a long report, in passing
        ("Kursk", {1, 2, 3, 4}, 12, 7.333),  # headline 2 + lead 2 + 10 × 4/12
    ],
)
def test_where_and_how_much(title: str, carrying: set[int], n: int, score: float) -> None:
    topic = compile_topic(Topic("t", "kursk", "v"))
    (m,) = match_topics([topic], title, _long(carrying, n))
    assert m.score == score, m.verdict
    assert m.carrying == len(carrying) and m.total_sentences == n
    assert m.matched is (score >= 1)


def test_every_verdict_says_why() -> None:
    topic = compile_topic(Topic("t", "kursk AND troops", "v", min_score=2))
    (hit,) = match_topics([topic], "Troops in Kursk", "Troops went to Kursk. Rain.")
    assert hit.matched
    assert hit.verdict == (
        "hit: headline 2 + lead 1 + share 1 (1 of 2, counted as 10 sentences: 10%) = 4 ≥ 2"
    )
    (miss,) = match_topics([topic], "Weather", _long({7}, 40, "Kursk troops"))
    assert not miss.matched
    assert miss.verdict == "miss: share 0.25 (1 of 40 sentences: 2%) = 0.25 < min_score 2"
    (none,) = match_topics([topic], "Weather", "Kursk is a city. Troops are soldiers.")
    assert not none.matched and none.score == 0
    assert none.verdict.startswith("miss: the query holds in no sentence")
    assert none.terms == ("kursk", "troops")  # what was there, in order


@pytest.mark.parametrize(
    ("query", "position", "problem"),
    [
        ("a AND", 5, "query ends where a term was expected"),
        ("(a OR b", 0, "missing ')'"),
        ("a ) b", 2, "unmatched ')'"),
        ('a "b c', 2, "unclosed quote"),
        ("a NEAR b", 2, "NEAR needs a distance"),
        ("a NEAR/x b", 2, "NEAR"),
        ("NOT a", 0, "only NOT clauses"),
        ("", 0, "empty query"),
        ("()", 1, "empty parentheses"),
        ("a OR OR b", 5, "expected a term"),
        ("a AND ---", 6, "no letters or digits"),
    ],
)
def test_syntax_errors_name_topic_and_position(query: str, position: int, problem: str) -> None:
    with pytest.raises(TopicSyntaxError) as info:
        parse_query(query, "my-topic")
    assert info.value.position == position
    assert problem in str(info.value)
    assert "my-topic" in str(info.value)


def test_printed_query_parses_to_the_same_tree() -> None:
    tree = parse_query('(a OR "b c") NEAR/5 d AND NOT e')
    assert parse_query(str(tree)) == tree


def test_normalisation() -> None:
    assert normalize_word("Russia's") == "russia"
    assert normalize_word("RUSSIA’S") == "russia"
    assert normalize_word("Koreans") == "koreans"
    assert normalize_word("Pyŏngyang") == "pyongyang"
    assert normalize_word("북한군은") == "북한군은"  # Hangul survives NFD/NFC
    assert [t.norm for t in tokenize("Kim Jong-un's troops")] == ["kim", "jong", "un", "troops"]
    text = "First one. Second one! Third"
    assert [text[a:b] for a, b in sentence_bounds(text)] == ["First one.", "Second one!", "Third"]


def test_match_explains_itself() -> None:
    topic = compile_topic(Topic("t", '"north korea" NEAR/5 russia', "v1"))
    text = "Nothing here. North Korea sent troops to Russia last year. Unrelated."
    (m,) = match_topics([topic], "Headline", text)
    assert m.matched and m.version == "v1"
    assert m.terms == ('"north korea"', "russia")
    assert m.snippet == "North Korea sent troops to Russia last year."
    first = m.mentions[0]
    assert text[first.start : first.end] == "North Korea" and first.field == "text"
    assert first.snippet == m.snippet


def test_topics_yaml_version_is_a_hash_of_the_definition(tmp_path: Path) -> None:
    f = tmp_path / "topics.yaml"
    f.write_text("topics:\n  t:\n    description: one\n    query: a AND b\n")
    v1 = load_topics(f)[0].topic.version
    f.write_text("topics:\n  t:\n    description: two\n    query: a   AND b\n")
    assert load_topics(f)[0].topic.version == v1  # description and spacing do not count
    f.write_text("topics:\n  t:\n    query: a AND c\n")
    assert load_topics(f)[0].topic.version != v1


def test_default_topic_on_the_demo_site(topics_file: Path) -> None:
    """Every DPRK–Russia story matches; no near-miss or unrelated story does."""
    topics = [t for t in load_topics(topics_file) if t.topic.name == "dprk-russia"]
    _, _, articles = load_articles()
    positives = [a for a in articles if a.label.startswith("positive")]
    negatives = [a for a in articles if not a.label.startswith("positive")]
    assert len(positives) >= 8 and len(negatives) >= 8
    kinds = {a.label for a in negatives}
    assert {
        "near-miss-north-korea-only",
        "near-miss-russia-only",
        "near-miss-south-korea-russia",
        "near-miss-roundup",
    } <= kinds
    for a in articles:
        text = "\n".join(a.body) or (a.summary or "")
        found = [m for m in match_topics(topics, a.title, text) if m.matched]
        assert bool(found) == a.label.startswith("positive"), (a.slug, a.label)
