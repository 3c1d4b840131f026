"""Topics of the DuckDB warehouse: their versions, the matches of every article (hits
and near-misses, with the parts of their scores), re-scoring, and analysts' labels."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from extractors.models import ArticleRecord, Figure, Topic, TopicMatch
from warehouse._duckdb import transaction
from warehouse._session import Session
from warehouse.api import Hit

__all__ = ["TopicStore"]


class TopicStore(Session):
    def register_topics(self, topics: Sequence[Topic]) -> None:
        """Record the current topic versions."""
        with transaction(self.con):
            self._register_topics(topics, datetime.now(UTC))

    def _register_topics(self, topics: Sequence[Topic], now: datetime) -> None:
        """register_topics inside the caller's transaction. A new version on a warehouse
        with no articles yet is applied to all of them (none) at once."""
        if not topics:
            return
        has_articles = self.count_articles() > 0
        known = {
            (t, v) for t, v in self.con.execute("SELECT topic, version FROM topics").fetchall()
        }
        self.con.execute(
            "UPDATE topics SET current = false WHERE topic IN (SELECT unnest(?))",
            [[t.name for t in topics]],
        )
        for t in topics:
            if (t.name, t.version) in known:
                self.con.execute(
                    "UPDATE topics SET current = true WHERE topic = ? AND version = ?",
                    [t.name, t.version],
                )
                continue
            self._stage(
                "new_topic",
                "topics",
                [
                    {
                        "topic": t.name,
                        "version": t.version,
                        "query": t.query,
                        "min_score": t.min_score,
                        "min_sentences": t.min_sentences,
                        "description": t.description,
                        "first_seen_at": now,
                        "current": True,
                        "rescored_at": None if has_articles else now,
                        "headline_weight": t.headline_weight,
                        "lead_weight": t.lead_weight,
                        "share_weight": t.share_weight,
                        "lead_sentences": t.lead_sentences,
                    }
                ],
            )
            self.con.execute("INSERT INTO topics BY NAME SELECT * FROM new_topic")

    def topic_versions(self) -> dict[tuple[str, str], bool]:
        """(topic, version) → whether the stored articles were matched with it."""
        return {
            (t, v): done
            for t, v, done in self.con.execute(
                "SELECT topic, version, rescored_at IS NOT NULL FROM topics"
            ).fetchall()
        }

    def count_articles(self) -> int:
        return self._count("articles")

    def article_batches(self, size: int = 2000) -> Iterator[list[tuple[str, str | None, str]]]:
        """(article_id, title, text) of every stored article, a batch at a time."""
        last = ""
        while True:
            rows = self.con.execute(
                "SELECT article_id, title, text FROM articles WHERE article_id > ?"
                " ORDER BY article_id LIMIT ?",
                [last, size],
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def replace_matches(self, topics: Sequence[Topic]) -> None:
        """Forget the stored matches of these topic versions (before re-matching them)."""
        with transaction(self.con):
            for t in topics:
                for table in ("topic_matches", "topic_figures"):
                    self.con.execute(
                        f"DELETE FROM {table} WHERE topic = ? AND topic_version = ?",
                        [t.name, t.version],
                    )

    def insert_matches(self, matches: Sequence[tuple[str, TopicMatch]]) -> None:
        """Store (article_id, match) pairs in one transaction."""
        if not matches:
            return
        with transaction(self.con):
            self._insert(matches, datetime.now(UTC))

    def _insert(self, matches: Sequence[tuple[str, TopicMatch]], now: datetime) -> None:
        self._stage("batch_matches", "topic_matches", [_match_row(a, m, now) for a, m in matches])
        self.con.execute("INSERT INTO topic_matches BY NAME SELECT * FROM batch_matches")
        figures = [_figure_row(a, m, i, f) for a, m in matches for i, f in enumerate(m.figures)]
        if figures:
            self._stage("batch_figures", "topic_figures", figures)
            self.con.execute("INSERT INTO topic_figures BY NAME SELECT * FROM batch_figures")

    def _insert_new_matches(
        self, new: Sequence[tuple[str, ArticleRecord]], clusters: dict[str, str], now: datetime
    ) -> list[Hit]:
        """The matches of articles stored for the first time; their hits, best first."""
        self._insert([(aid, m) for aid, r in new for m in r.matches], now)
        hits = [
            Hit(m.topic, m.score, aid, r.article.title, r.article.url, m.snippet, clusters[aid])
            for aid, r in new
            for m in r.matches
            if m.matched
        ]
        return sorted(hits, key=lambda h: -h.score)

    def mark_rescored(self, topics: Sequence[Topic]) -> None:
        for t in topics:
            self.con.execute(
                "UPDATE topics SET rescored_at = now() WHERE topic = ? AND version = ?",
                [t.name, t.version],
            )

    def set_label(
        self, article_id: str, topic: str, label: bool, note: str | None, by: str
    ) -> None:
        """An analyst's verdict on an article and a topic; it replaces an earlier one."""
        with transaction(self.con):
            self.con.execute(
                "MERGE INTO topic_labels USING (SELECT ? AS article_id, ? AS topic, ? AS label,"
                " ? AS note, ? AS labelled_by, ?::TIMESTAMPTZ AS labelled_at) AS b"
                " ON topic_labels.article_id = b.article_id AND topic_labels.topic = b.topic"
                " WHEN MATCHED THEN UPDATE SET label = b.label, note = b.note,"
                " labelled_by = b.labelled_by, labelled_at = b.labelled_at"
                " WHEN NOT MATCHED THEN INSERT BY NAME",
                [article_id, topic, label, note, by, datetime.now(UTC)],
            )

    def labelled_cases(self, topic: str | None = None) -> list[dict[str, Any]]:
        """Analysts' labels as evaluation cases: {id, title, text, lang, labels: {topic: bool}},
        one per article (articles whose text was pruned are left out: nothing to match)."""
        rows = self.con.execute(
            "SELECT l.article_id, a.title, a.text, a.language,"
            " map_from_entries(list((l.topic, l.label)))"
            " FROM topic_labels l JOIN articles a USING (article_id)"
            " WHERE (CAST(? AS VARCHAR) IS NULL OR l.topic = ?) AND a.text_source <> 'pruned'"
            " GROUP BY ALL ORDER BY 1",
            [topic, topic],
        ).fetchall()
        return [
            {"id": aid, "title": title or "", "text": text, "lang": lang, "labels": dict(labels)}
            for aid, title, text, lang, labels in rows
        ]


def _match_row(article_id: str, m: TopicMatch, now: datetime) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "topic": m.topic,
        "topic_version": m.version,
        "score": m.score,
        "matched": m.matched,
        "terms": list(m.terms),
        "snippet": m.snippet,
        "mentions": [
            {
                "term": x.term,
                "field": x.field,
                "start_offset": x.start,
                "end_offset": x.end,
                "snippet": x.snippet,
            }
            for x in m.mentions
        ],
        "matched_at": now,
        "headline_points": m.headline_points,
        "lead_points": m.lead_points,
        "share_points": m.share_points,
        "carrying_sentences": m.carrying,
        "total_sentences": m.total_sentences,
        "share": m.share,
        "verdict": m.verdict,
    }


def _figure_row(article_id: str, m: TopicMatch, position: int, f: Figure) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "topic": m.topic,
        "topic_version": m.version,
        "position": position,
        **f.reported(),
        "in_headline": f.in_headline,
    }
