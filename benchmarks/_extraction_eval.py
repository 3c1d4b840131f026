"""Text extraction scored as trafilatura scores itself, beside trafilatura's two modes.

A corpus folder holds `evaldata.json` ({url: {file, with, without}}) and the pages
as `html/<file>.gz`. For each page, each snippet of `with` found in the main text
(whitespace normalised in both) is a true positive, each one missing a false
negative; each snippet of `without` found is a false positive. Precision, recall
and F1 over all pages together, as trafilatura's tests/eval_common.py computes
them. Each extractor runs on every page in the same process, in turns (the order
rotates page by page, so no one profits from the caches another warmed), and its
CPU time is counted alone.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

from extractors.articles import extract_article, prepare

# trafilatura's canonical evaluation settings, in its two modes.
_OPTIONS = {"include_comments": False, "include_tables": True, "include_formatting": False}


def feedwatch(html: bytes, url: str) -> str:
    """All of extract_article (text, metadata, language, signature); scored on its text."""
    return extract_article(html, url=url).text


def trafilatura_fast(html: bytes, url: str) -> str | None:
    return trafilatura.extract(html, url=url, fast=True, **_OPTIONS)  # type: ignore[arg-type]


def trafilatura_fallback(html: bytes, url: str) -> str | None:
    return trafilatura.extract(html, url=url, fast=False, **_OPTIONS)  # type: ignore[arg-type]


EXTRACTORS: dict[str, Callable[[bytes, str], str | None]] = {
    "feedwatch": feedwatch,
    "trafilatura fast": trafilatura_fast,
    "trafilatura fallback": trafilatura_fallback,
}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    cpu: float = 0.0
    pages: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def count(item: Mapping[str, list[str]], text: str | None) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one page's text."""
    found = _norm(text or "")
    tp = sum(_norm(w) in found for w in item["with"])
    fp = sum(_norm(w) in found for w in item["without"])
    return tp, fp, len(item["with"]) - tp


def load(folder: Path) -> list[tuple[str, dict[str, list[str]], bytes]]:
    """(url, annotations, page) of every page of a corpus folder."""
    data = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
    return [
        (url, item, gzip.decompress((folder / "html" / f"{item['file']}.gz").read_bytes()))
        for url, item in data.items()
    ]


def evaluate(
    pages: list[tuple[str, dict[str, list[str]], bytes]],
    extractors: Mapping[str, Callable[[bytes, str], str | None]] = EXTRACTORS,
) -> dict[str, Score]:
    names = list(extractors)
    prepare()  # the language model, loaded once as a running poll has it
    url, _, html = pages[0]
    for name in names:  # first calls load stop lists and models: not counted
        extractors[name](html, url)
    scores = {name: Score() for name in names}
    for i, (url, item, html) in enumerate(pages):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t0 = time.process_time()
            try:
                text = extractors[name](html, url)
            except Exception:  # a crash is a full miss, as in trafilatura's own scoring
                text = None
            scores[name].cpu += time.process_time() - t0
            counts = count(item, text)
            scores[name].pages[url] = counts
            s = scores[name]
            s.tp, s.fp, s.fn = s.tp + counts[0], s.fp + counts[1], s.fn + counts[2]
    return scores
