"""Precision and recall of topics on labelled cases (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from extractors.topics.matcher import TopicSet

__all__ = ["TopicScore", "evaluate"]


@dataclass
class TopicScore:
    topic: str
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


def evaluate(topics: TopicSet, cases: Iterable[Mapping[str, Any]]) -> list[TopicScore]:
    """Score each topic on the cases that carry a label for it."""
    scores = {ct.topic.name: TopicScore(ct.topic.name) for ct in topics}
    for case in cases:
        labels: Mapping[str, bool] = case.get("labels", {})
        hits = {m.topic for m in topics.match(case.get("title"), case.get("text", "")) if m.matched}
        for name, expected in labels.items():
            if name not in scores:
                continue
            sc = scores[name]
            sc.cases += 1
            got = name in hits
            if got and expected:
                sc.true_positives += 1
            elif got:
                sc.false_positives.append(str(case["id"]))
            elif expected:
                sc.false_negatives.append(str(case["id"]))
    return [sc for sc in scores.values() if sc.cases]
