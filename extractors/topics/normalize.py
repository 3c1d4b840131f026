"""Text → tokens that topic terms are matched against (pure).

Both the article and the query go through `normalize_word`, so whatever one
side folds the other folds the same way: case, Unicode width (NFKC),
diacritics, curly apostrophes, possessives ("Russia's" → russia). Hyphens,
dashes and spaces all separate words, so "Kim Jong-un" = "Kim Jong Un".
Offsets always point into the original text, for snippets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Token", "normalize_word", "sentence_bounds", "tokenize"]

# A word: letters/digits, possibly joined by apostrophes (o'clock, Russia's).
_WORD = re.compile(r"\w+(?:['’ʼ`]\w+)*")
_APOSTROPHES = "'’ʼ`"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’»)\]]*\s+|\n+")


@dataclass(frozen=True, slots=True)
class Token:
    norm: str
    start: int
    end: int


@lru_cache(maxsize=65536)
def normalize_word(word: str) -> str:
    """Fold one word: NFKC, case, diacritics, apostrophes, the possessive 's."""
    w = unicodedata.normalize("NFKC", word).casefold()
    for a in _APOSTROPHES[1:]:
        w = w.replace(a, "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    if not w.isascii():
        # Strip combining marks (é → e); NFC afterwards re-composes Hangul syllables.
        decomposed = unicodedata.normalize("NFD", w)
        w = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
        )
    return w


def tokenize(text: str) -> list[Token]:
    return [Token(normalize_word(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of a text, by punctuation and line breaks."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > start:
            bounds.append((start, m.start()))
        start = m.end()
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds
