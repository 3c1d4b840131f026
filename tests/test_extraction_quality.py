"""feedwatch's text beside trafilatura's best mode, on real pages scored as trafilatura
scores itself (benchmarks/bench_extract_quality.py prints the whole table).

The development half of trafilatura's own evaluation corpus: 481 pages of news,
blogs and forums in many languages, with the snippets their main text must and
must not contain. Both are measured here, in the same process on the same pages;
no number is written down.
"""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT, corpora

sys.path.insert(0, str(ROOT / "benchmarks"))
from _extraction_eval import count, evaluate, feedwatch, load, trafilatura_fallback


@pytest.mark.corpora
@pytest.mark.slow
def test_text_is_at_least_as_good_as_trafilaturas_fallback_mode() -> None:
    pages = load(corpora() / "articles" / "trafilatura-eval-dev")
    assert len(pages) == 481
    scores = evaluate(pages, {"feedwatch": feedwatch, "fallback": trafilatura_fallback})
    ours, theirs = scores["feedwatch"], scores["fallback"]
    summary = (
        f"feedwatch P {ours.precision:.4f} R {ours.recall:.4f} F1 {ours.f1:.4f}; "
        f"trafilatura fallback P {theirs.precision:.4f} R {theirs.recall:.4f} F1 {theirs.f1:.4f}"
    )
    assert ours.f1 >= theirs.f1, summary
    assert ours.recall >= theirs.recall, summary  # where feedwatch was losing text


def test_scoring_counts_snippets_as_trafilatura_does() -> None:
    item = {"with": ["main  text", "missing"], "without": ["Newsletter"]}
    assert count(item, "The main\ntext, and a Newsletter box") == (1, 1, 1)
    assert count(item, None) == (0, 0, 2)
