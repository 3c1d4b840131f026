"""An article prepared once for all topics (pure): tokens, fields, sentences.

The matcher scans `joined` with its automaton and asks a Document where a
token is (field, word position, sentence, scoring unit) and for the
sentence around a mention.
"""

from __future__ import annotations

import bisect
from itertools import accumulate

from extractors.topics.normalize import WORD, normalize_word, sentence_bounds

__all__ = ["FIELD_GAP", "Document"]

FIELD_GAP = 10_000  # word positions between title and text: NEAR never bridges them
SNIPPET_CHARS = 300


class Document:
    """An article prepared once for all topics.

    The cheap part is done at once: words, their normalised forms and the
    string the automaton scans. Character offsets and sentences are worked
    out only when a query needs them (most articles match nothing).
    """

    def __init__(self, title: str | None, text: str):
        self.fields = {"title": title or "", "text": text or ""}
        title_norms = [normalize_word(w) for w in WORD.findall(self.fields["title"])]
        text_norms = [normalize_word(w) for w in WORD.findall(self.fields["text"])]
        self.n_title = len(title_norms)
        self.norms = title_norms + text_norms
        # Tokens joined by spaces, the two fields apart, and where each token starts.
        self.joined = " " + " ".join(title_norms) + " \n " + " ".join(text_norms) + " "
        steps = [1] + [len(n) + 1 for n in title_norms] + [2] + [len(n) + 1 for n in text_norms]
        offsets = list(accumulate(steps))
        del offsets[self.n_title]  # the separator between the fields is not a token
        self.offset_of = offsets[: len(self.norms)]
        self._chars: list[tuple[int, int]] | None = None
        self._sentence: list[int] | None = None
        self._unit: list[int] | None = None
        self._bounds: dict[str, list[tuple[int, int]]] = {}

    def __len__(self) -> int:
        return len(self.norms)

    def field(self, i: int) -> str:
        return "title" if i < self.n_title else "text"

    def position(self, i: int) -> int:
        """Word position; the text starts far from the title so NEAR never bridges them."""
        return i if i < self.n_title else FIELD_GAP + i - self.n_title

    def token_at(self, index: int) -> int:
        """The token whose normalised form covers this index of `joined`."""
        return max(bisect.bisect_right(self.offset_of, index) - 1, 0)

    def chars(self, i: int) -> tuple[int, int]:
        """(start, end) of token i in its field's original text."""
        if self._chars is None:
            self._chars = [
                (m.start(), m.end())
                for name in ("title", "text")
                for m in WORD.finditer(self.fields[name])
            ]
        return self._chars[i]

    def bounds(self, field_name: str) -> list[tuple[int, int]]:
        if field_name not in self._bounds:
            self._bounds[field_name] = sentence_bounds(self.fields[field_name])
        return self._bounds[field_name]

    def sentence(self, i: int) -> int:
        """A document-wide sentence number for token i (title sentences first)."""
        if self._sentence is None:
            numbers: list[int] = []
            base = 0
            for name, lo, hi in (("title", 0, self.n_title), ("text", self.n_title, len(self))):
                starts = [b[0] for b in self.bounds(name)]
                numbers += [
                    base + max(bisect.bisect_right(starts, self.chars(k)[0]) - 1, 0)
                    for k in range(lo, hi)
                ]
                base += max(len(starts), 1)
            self._sentence = numbers
        return self._sentence[i]

    def unit(self, i: int) -> int:
        """Where token i is, for scoring: 0 for the headline, k for the body's k-th sentence."""
        if self._unit is None:
            first_text = self.sentence(self.n_title) if len(self) > self.n_title else 0
            self._unit = [0] * self.n_title + [
                1 + self.sentence(k) - first_text for k in range(self.n_title, len(self))
            ]
        return self._unit[i]

    def tokens_of(self, unit: int) -> range:
        """The tokens of a scoring unit (the headline, or one body sentence)."""
        if not len(self):
            return range(0)
        self.unit(0)
        assert self._unit is not None
        return range(
            bisect.bisect_left(self._unit, unit, hi=len(self)),
            bisect.bisect_right(self._unit, unit, hi=len(self)),
        )

    @property
    def body_sentences(self) -> int:
        return len(self.bounds("text")) if self.n_title < len(self) else 0

    def snippet(self, field_name: str, start: int, end: int) -> str:
        """The sentence(s) of a field that hold the characters start…end."""
        text = self.fields[field_name]
        bounds = self.bounds(field_name)
        starts = [b[0] for b in bounds]
        i = max(bisect.bisect_right(starts, start) - 1, 0)
        j = max(bisect.bisect_right(starts, max(end - 1, start)) - 1, i)
        s, e = (bounds[i][0], bounds[j][1]) if bounds else (0, len(text))
        snippet = " ".join(text[s:e].split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
        return snippet
