"""Precision and recall of topics on labelled cases, and what other settings would give (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from extractors.models import Topic, TopicMatch
from extractors.topics.matcher import TopicSet
from extractors.topics.scoring import score_units

__all__ = ["Setting", "TopicScore", "evaluate", "tune"]


@dataclass
class TopicScore:
    topic: str
    group: str = ""  # the value of the field the cases were grouped by (e.g. a language)
    cases: int = 0
    true_positives: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + len(self.false_positives)
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + len(self.false_negatives)
        return self.true_positives / wanted if wanted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, case_id: str, expected: bool, got: bool) -> None:
        self.cases += 1
        if got and expected:
            self.true_positives += 1
        elif got:
            self.false_positives.append(case_id)
        elif expected:
            self.false_negatives.append(case_id)


def evaluate(
    topics: TopicSet, cases: Iterable[Mapping[str, Any]], by: str | None = None
) -> list[TopicScore]:
    """Score each topic on the cases that carry a label for it; with `by`, apart for each
    value of that field of the cases (cases without it: group "-")."""
    scores: dict[tuple[str, str], TopicScore] = {}
    names = {ct.topic.name for ct in topics}
    for case in cases:
        labels: Mapping[str, bool] = case.get("labels", {})
        if not any(name in names for name in labels):
            continue
        hits = {m.topic for m in topics.match(case.get("title"), case.get("text", "")) if m.matched}
        group = str(case.get(by) or "-") if by else ""
        for name, expected in labels.items():
            if name in names:
                sc = scores.setdefault((name, group), TopicScore(name, group))
                sc.add(str(case["id"]), expected, name in hits)
    return sorted(scores.values(), key=lambda s: (s.topic, s.group))


@dataclass(frozen=True)
class Setting:
    """One line of `topics tune`: a topic's scoring changed in one respect, and its figures."""

    changed: str  # what differs from topics.yaml ("min_score 2.5", "share_weight 15"), or ""
    topic: Topic
    score: TopicScore


def tune(
    topics: TopicSet, name: str, cases: Sequence[Mapping[str, Any]]
) -> tuple[list[Setting], list[Setting]]:
    """Precision and recall of topic `name` for a range of thresholds, and for each of its
    weights in turn: (thresholds, weights). Each case is matched once; other settings are
    scored again from where its query held."""
    (ct,) = [ct for ct in topics if ct.topic.name == name]
    base = ct.topic
    labelled = [c for c in cases if name in c.get("labels", {})]
    parts: list[tuple[str, bool, TopicMatch | None]] = []
    for case in labelled:
        found = [m for m in topics.only([name]).match(case.get("title"), case.get("text", ""))]
        parts.append((str(case["id"]), bool(case["labels"][name]), found[0] if found else None))

    def figures(changed: str, topic: Topic) -> Setting:
        sc = TopicScore(name)
        for case_id, expected, m in parts:
            sc.add(case_id, expected, m is not None and _rescored(m, topic))
        return Setting(changed, topic, sc)

    steps = sorted({round(base.min_score * f, 2) for f in (0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3)})
    thresholds = [
        figures("" if s == base.min_score else f"min_score {s:g}", replace(base, min_score=s))
        for s in sorted({*steps, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0})
    ]
    weights = [figures("", base)]
    for key in ("headline_weight", "lead_weight", "share_weight", "lead_sentences"):
        current = getattr(base, key)
        values = {round(current * f, 2) for f in (0, 0.5, 1.5, 2)} - {current}
        if key == "lead_sentences":
            values = {int(v) for v in values} - {current}
        for value in sorted(values):
            weights.append(figures(f"{key} {value:g}", replace(base, **{key: value})))
    return thresholds, weights


def _rescored(m: TopicMatch, now: Topic) -> bool:
    """Whether the match is a hit under `now`, from where its query held."""
    return score_units(now, dict(m.units), m.total_sentences or 0).matched
