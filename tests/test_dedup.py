"""Canonical URLs and content hashes."""

from __future__ import annotations

import pytest

from extractors.dedup import article_id, canonical_url, content_hash, pick_canonical


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.COM/News/Story.html", "http://www.example.com/News/Story.html"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://example.com/a",
        ),
        ("https://example.com/a?fbclid=IwAR3x&gclid=Cj0K", "https://example.com/a"),
        ("https://example.com/a?mc_cid=1&mc_eid=2", "https://example.com/a"),
        ("https://example.com/article?id=42&utm_source=tw", "https://example.com/article?id=42"),
        ("https://example.com/search?q=kursk&page=2", "https://example.com/search?page=2&q=kursk"),
        ("https://example.com", "https://example.com/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent


def test_pick_canonical_prefers_the_page_but_not_a_home_page() -> None:
    fetched = "http://127.0.0.1:8000/world/story?utm_source=atom"
    assert pick_canonical(fetched, "https://news.example/2024/story.html") == (
        "https://news.example/2024/story.html"
    )
    assert pick_canonical(fetched, "https://news.example/") == "http://127.0.0.1:8000/world/story"
    assert pick_canonical(fetched, "javascript:void(0)") == "http://127.0.0.1:8000/world/story"
    assert pick_canonical(fetched, None) == "http://127.0.0.1:8000/world/story"


def test_content_hash_folds_case_width_and_space() -> None:
    assert content_hash("North  Korea\nsends troops") == content_hash("north korea sends TROOPS")
    assert content_hash("Ｋｕｒｓｋ") == content_hash("kursk")
    assert content_hash("troops") != content_hash("tanks")


def test_article_id_is_stable_and_short() -> None:
    assert article_id("https://a.example/x") == article_id("https://a.example/x")
    assert len(article_id("https://a.example/x")) == 16


def test_signature_is_datasketchs_minhash_over_the_distinct_shingles() -> None:
    """signature() computes datasketch 2's MinHash(num_perm=64, seed=7) itself; the
    bytes must stay those (stored signatures are compared with new ones)."""
    from datasketch import MinHash

    from extractors.dedup import NUM_PERM, _shingles, signature

    words = [
        "North",
        "Korean",
        "troops",
        "crossed",
        "into",
        "Kursk",
        "while",
        "shells",
        "moved",
        "by",
        "rail",
        "and",
        "sea",
    ]
    texts = [" ".join(words[(i * k) % len(words)] for i in range(60 + 13 * k)) for k in range(1, 9)]
    texts.append("Сеул заявил, что КНДР направила войска в Курскую область. " * 8)
    for text in texts:
        shingles = _shingles(text)
        reference = MinHash(num_perm=NUM_PERM, seed=7)
        reference.update_batch(shingles)
        expected = (
            len(set(shingles)).to_bytes(8, "little") + reference.hashvalues.astype("<u8").tobytes()
        )
        assert signature(text) == expected
    assert signature("too short to compare") == b""
