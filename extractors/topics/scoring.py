"""How much an article is about a topic: where the query holds, and how much of it (pure).

The query is matched against the headline and against each sentence of the body
on its own (matcher.py). What counts is where it holds and how much of the text
carries it:

    score = headline_weight × H              H: 1 when it holds in the headline
          + lead_weight × L                  L: lead sentences where it holds
          + min(share_weight × share, 5)     share: body sentences where it holds,
                                                    over all the body's sentences

A sentence counts once, however many terms it holds, by the weight of the
strongest clause that holds there: 1 without weights, 2 for `clause^2`, ½ for
`clause^0.5`. With the defaults (2, 1 for each of the first 3
sentences, 20): the headline alone reaches 2; so does a short item whose lead
says it; so does any text where a tenth of the sentences do; a 15,000-word
report that says it in a few of its hundreds of sentences stays far below. The
share's points stop at 5, so a score reads out of 10 whatever the length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from extractors.models import Topic

__all__ = ["SCORING_RULES", "SHARE_CAP", "SHARE_FLOOR", "Score", "score_units"]

# Part of every topic's version: when these rules change, stored matches are out of date.
SCORING_RULES = "units-2"

SHARE_CAP = 5.0  # the most points the share gives: half the sentences, with the defaults
SHARE_FLOOR = 10  # a shorter body counts as this many sentences: one sentence of a short
# item is not a large share of it (its headline and lead speak for it)


@dataclass(frozen=True)
class Score:
    headline: float  # points from the headline
    lead: float  # points from the lead sentences
    share_points: float  # points from the share
    carrying: int  # body sentences where the query held
    total: int  # body sentences
    share: float  # how much of the body carries it: Σ counts / total
    units: int  # places where the query held: the headline and body sentences
    min_score: float
    min_sentences: int

    @property
    def total_points(self) -> float:
        return round(self.headline + self.lead + self.share_points, 3)

    @property
    def matched(self) -> bool:
        return self.total_points >= self.min_score and self.units >= self.min_sentences

    def verdict(self) -> str:
        """The rule that decided, in words: 'hit: headline 2 + share 1.2 (…) = 3.2 ≥ 2'."""
        if not self.units:
            return "miss: the query holds in no sentence (only some of its terms are here)"
        parts = []
        if self.headline:
            parts.append(f"headline {self.headline:g}")
        if self.lead:
            parts.append(f"lead {self.lead:g}")
        if self.share_points:
            out_of = (
                f"{self.total}"
                if self.total >= SHARE_FLOOR
                else f"{self.total}, counted as {SHARE_FLOOR}"
            )
            parts.append(
                f"share {self.share_points:g} ({self.carrying} of {out_of} sentences:"
                f" {self.share:.0%})"
            )
        total = self.total_points
        sums = f"{' + '.join(parts)} = {total:g}"
        if total < self.min_score:
            return f"miss: {sums} < min_score {self.min_score:g}"
        if self.units < self.min_sentences:
            return (
                f"miss: {sums}, but the query holds in {self.units} of the"
                f" {self.min_sentences} sentences min_sentences asks for"
            )
        return f"hit: {sums} ≥ {self.min_score:g}"


def score_units(topic: Topic, units: Mapping[int, float], total: int) -> Score:
    """The score of an article from the places where the query held.

    units: unit → how much it counts (1 unweighted); unit 0 is the headline, unit k ≥ 1
    the k-th sentence of the body. total: the body's sentences.
    """
    headline = topic.headline_weight * units.get(0, 0.0)
    body = {u: c for u, c in units.items() if u > 0 and c > 0}
    lead = topic.lead_weight * sum(c for u, c in body.items() if u <= topic.lead_sentences)
    share = sum(body.values()) / max(total, SHARE_FLOOR) if total else 0.0
    return Score(
        headline=round(headline, 3),
        lead=round(lead, 3),
        share_points=round(min(topic.share_weight * share, SHARE_CAP), 3),
        carrying=len(body),
        total=total,
        share=round(share, 4),
        units=sum(1 for c in units.values() if c > 0),
        min_score=topic.min_score,
        min_sentences=topic.min_sentences,
    )
