"""Text → tokens that topic terms are matched against (pure).

Both the article and the query go through `normalize_word`, so whatever one
side folds the other folds the same way: case, Unicode width (NFKC),
diacritics, curly apostrophes, possessives ("Russia's" → russia), and
Russian inflection (Россия, России, Россией → one stem). Hyphens, dashes
and spaces all separate words, so "Kim Jong-un" = "Kim Jong Un". Offsets
always point into the original text, for snippets.

Scripts without inflection by suffix-stripping get the matcher's help
instead (see matcher.py): Korean words match as prefixes (북한 finds 북한군은)
and Chinese/Japanese terms as substrings, since those languages do not put
spaces between words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

__all__ = ["WORD", "Token", "is_cjk", "is_hangul", "normalize_word", "sentence_bounds", "tokenize"]

# A word: letters/digits, possibly joined by apostrophes (o'clock, Russia's).
WORD = re.compile(r"\w+(?:['’ʼ`]\w+)*")
_APOSTROPHES = "'’ʼ`"
# Where a sentence may end: . ! ? (and closing quotes) before a space, Chinese and
# Japanese full stops, line breaks. Whether a full stop does is decided in
# sentence_bounds: not after initials and abbreviations (N. Korea, the U.S. said,
# Gen. Belousov, Jan. 5) nor before a lower-case word or a German month (17. Oktober).
_SENTENCE_END = re.compile(r"([.!?])[\"'”’»)\]]*\s+(?=\S)|(?<=[。！？])[\"'”’»)\]]*\s*(?=\S)|\n+")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "sgt",
        "adm",
        "cmdr",
        "gov",
        "sen",
        "rep",
        "rev",
        "st",
        "mt",
        "ft",
        "jr",
        "sr",
        "no",
        "nos",
        "vol",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "approx",
        "est",
        "fig",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "bzw",
        "ca",
        "nr",
        "str",
        "dr",
        "hr",
        "fr",
        "vgl",
        "usw",
    ]
)
_MONTHS_DE = frozenset(
    [
        "januar",
        "februar",
        "märz",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "dezember",
    ]
)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_RUSSIAN = snowballstemmer.stemmer("russian")


@dataclass(frozen=True, slots=True)
class Token:
    norm: str
    start: int
    end: int


def is_hangul(word: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in word)


def is_cjk(word: str) -> bool:
    """Han ideographs or Japanese kana: languages written without spaces."""
    return any(
        "\u4e00" <= c <= "\u9fff" or "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u4dbf"
        for c in word
    )


@lru_cache(maxsize=131072)
def normalize_word(word: str) -> str:
    """Fold one word: NFKC, case, diacritics, apostrophes, the possessive 's, Russian endings."""
    w = unicodedata.normalize("NFKC", word).casefold()
    for a in _APOSTROPHES[1:]:
        w = w.replace(a, "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    if w.isascii():
        return w
    if _CYRILLIC.search(w):
        # й and ё carry meaning in Russian: stem before any diacritic folding.
        return str(_RUSSIAN.stemWord(w.replace("ё", "е")))
    # Strip combining marks (é → e); NFC afterwards re-composes Hangul syllables.
    decomposed = unicodedata.normalize("NFD", w)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def tokenize(text: str) -> list[Token]:
    return [Token(normalize_word(m.group()), m.start(), m.end()) for m in WORD.finditer(text)]


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of a text, by punctuation and line breaks."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.group(1) == "." and not _ends_sentence(text, m.start(), m.end()):
            continue
        if m.start() > start:
            bounds.append((start, m.start() + (1 if m.group(1) else 0)))
        start = m.end()
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


def _ends_sentence(text: str, dot: int, next_start: int) -> bool:
    """Whether the full stop at `dot` ends a sentence (the next one starting at next_start)."""
    if text[next_start : next_start + 1].islower():
        return False  # sentences do not start in lower case
    start = dot
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    word = text[start:dot]
    if len(word) == 1 and word.isalpha():
        return False  # an initial: N. Korea, the U.S. military, Kim J. Un
    if len(word) <= 5 and word.lower() in _ABBREVIATIONS:
        return False
    if word.isdigit():  # am 17. Oktober: a German date, not the end of a sentence
        following = text[next_start : next_start + 12].split()[0].strip(",.")
        return following.lower() not in _MONTHS_DE
    return True
