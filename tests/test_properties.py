"""Property tests (hypothesis): what must hold for any input, not just the ones we thought of."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from extractors.dedup import canonical_url
from extractors.errors import FeedwatchError, ParseError, TopicSyntaxError
from extractors.feeds import parse_feed
from extractors.topics.query import parse_query

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like queries: their words and operators, and anything else.
query_text = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(
            [
                '"north korea"',
                "kursk",
                "troops",
                "shell*",
                "AND",
                "OR",
                "NOT",
                "(",
                ")",
                "NEAR/5",
                "NEAR/s",
                "title:",
                "^2",
                '"',
                "*",
                "russia",
                "pyongyang",
                "朝鲜",
                "-",
            ]
        ),
        max_size=12,
    ).map(" ".join),
)


@SETTINGS
@given(query_text)
def test_the_query_parser_never_crashes_and_round_trips_what_it_prints(text: str) -> None:
    try:
        node = parse_query(text, topic="t")
    except TopicSyntaxError as e:
        assert "t" in str(e)  # names the topic (and where)
        return
    printed = str(node)
    assert parse_query(printed, topic="t") == node
    assert str(parse_query(printed, topic="t")) == printed


@SETTINGS
@given(st.one_of(urls(), st.text(max_size=80).map(lambda s: "https://news.example/" + s)))
def test_url_canonicalisation_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(
            lambda s: f"<rss><channel><item>{s}</item></channel></rss>".encode()
        ),
        st.binary(max_size=300).map(lambda b: b"<?xml version='1.0'?><feed>" + b),
    )
)
def test_feed_parsing_of_any_bytes_raises_nothing_but_a_parse_error(content: bytes) -> None:
    try:
        feed = parse_feed(content, {}, "https://news.example/feed")
    except ParseError as e:
        assert (isinstance(e, FeedwatchError) and "news.example" in str(e)) or str(e)
        return
    assert isinstance(feed.entries, list | tuple)


# Pages built from what trafilatura's byline search looks at: the tags, classes,
# ids and attributes of its expressions (and near misses), nested, with the
# dates, figures and comment sections it prunes before searching.
_tags = st.sampled_from(
    [
        "div",
        "span",
        "a",
        "p",
        "strong",
        "address",
        "h3",
        "h4",
        "section",
        "time",
        "figure",
        "author",
        "li",
        "header",
        "rel",
        "link",
    ]
)
_values = st.sampled_from(
    [
        *("author", "byline", "Byline", "author-name", "AuthorName", "writer", "username"),
        *("BBL", "comments", "Comments-box", "sidebar", "title", "date", "quote", "print"),
        *("meta-date", "post-author sidebar", "byl", "screenname", "posted-by", "zuozhe"),
        *("story", "me", "comment-list", "ProductReviews", "x-Author-box", "is-hidden author"),
    ]
)
_attrs = st.dictionaries(
    st.sampled_from(["class", "id", "itemprop", "data-component", "rel", "data-testid"]),
    st.one_of(_values, st.sampled_from(["author name", "AuthorCard", "AuthorURL", "FigureBlock"])),
    max_size=3,
)
_words = st.sampled_from(["By Jane Roe", "Kim", "", "and", "x" * 130, "Moscow", "Ri Son-gwon"])


def _markup(depth: int) -> st.SearchStrategy[str]:
    def element(parts: tuple[str, dict[str, str], str, list[str], str]) -> str:
        tag, attrs, text, children, tail = parts
        attributes = "".join(f' {k}="{v}"' for k, v in attrs.items())
        return f"<{tag}{attributes}>{text}{''.join(children)}</{tag}>{tail}"

    children = st.just([]) if depth == 0 else st.lists(_markup(depth - 1), max_size=3)
    return st.tuples(_tags, _attrs, _words, children, _words).map(element)


@settings(SETTINGS, max_examples=1500)  # a pruned <div class="date"> took ~3,000 to find
@given(st.lists(_markup(3), min_size=1, max_size=4))
def test_the_byline_is_trafilaturas_own(body: list[str]) -> None:
    from trafilatura.metadata import extract_author
    from trafilatura.utils import load_html

    from extractors.byline import find_byline

    tree = load_html(f"<html><body>{''.join(body)}</body></html>")
    assert tree is not None
    assert find_byline(tree) == extract_author(tree)
