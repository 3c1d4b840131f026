"""What feedwatch reads from the 181 real pages of the article-extraction benchmark,
held still while extraction is made cheaper.

The text is scored against the benchmark's ground truth (token F1, at least the
0.961 of the release before); everything else an Article carries (title, author,
date, site name, canonical URL, language, content hash, near-duplicate signature,
where its text came from) must come out the same as recorded. The record holds
a digest per page, not the publishers' words. After a deliberate change, rewrite
it with `FEEDWATCH_CORPORA=../shared/corpora python tests/test_corpus_articles.py`
and say why in the commit.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import corpora
from extractors.articles import extract_article
from extractors.models import Article

RECORD = Path(__file__).resolve().parent / "data" / "aeb-articles.json"
FIELDS = (
    "title",
    "author",
    "published",
    "site_name",
    "canonical_url",
    "language",
    "content_hash",
    "signature",
    "text_source",
)


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def _f1(expected: str, got: str) -> float:
    e, g = _tokens(expected), _tokens(got)
    overlap = sum((e & g).values())
    p, r = overlap / max(sum(g.values()), 1), overlap / max(sum(e.values()), 1)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _digest(article: Article) -> dict[str, str]:
    def one(value: object) -> str:
        text = value.hex() if isinstance(value, bytes) else str(value)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    return {f: one(getattr(article, f)) for f in FIELDS}


def read(root: Path) -> tuple[dict[str, dict[str, str]], float]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    digests, scores = {}, []
    for key in sorted(truth):
        html = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        article = extract_article(html, url=truth[key]["url"])
        digests[key] = _digest(article)
        scores.append(_f1(truth[key]["articleBody"], article.text))
    return digests, sum(scores) / len(scores)


@pytest.mark.corpora
def test_real_pages_extract_as_recorded() -> None:
    digests, f1 = read(corpora() / "articles" / "scrapinghub-aeb")
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    assert len(digests) == 181
    assert f1 >= 0.961, f"mean token F1 {f1:.4f} over 181 pages"
    changed = Counter(
        f for key, fields in digests.items() for f in FIELDS if fields[f] != recorded[key][f]
    )
    assert not changed, f"fields that changed, by number of pages: {dict(changed)}"


if __name__ == "__main__":
    import os

    digests, f1 = read(Path(os.environ["FEEDWATCH_CORPORA"]) / "articles" / "scrapinghub-aeb")
    RECORD.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {RECORD.name}: {len(digests)} pages, mean token F1 {f1:.4f}", file=sys.stderr)
