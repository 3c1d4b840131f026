"""The topic query language, normalisation, explanations and the default topic."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors.errors import TopicSyntaxError
from extractors.models import Topic
from extractors.topics import compile_topic, match_topics, parse_query
from extractors.topics.normalize import normalize_word, sentence_bounds, tokenize
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


def test_near_does_not_bridge_title_and_text() -> None:
    assert _match("seoul NEAR/3 moscow", "Moscow said", title="Seoul") is None


def test_score_counts_occurrences_and_headline_double() -> None:
    assert _match("kursk", "Kursk, Kursk and Kursk") == 3
    assert _match("kursk", "Kursk", title="Kursk") == 3
    assert _match("kursk", "Kursk", min_score=2) is None


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
