"""Topic versions and re-scoring stored articles without refetching."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import read_rows
from flows.demo import SiteServer
from flows.poll import poll_feeds
from flows.rescore import rescore_topics

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_changed_topic_is_rescored_without_refetching(
    site: SiteServer, demo_feeds: Path, topics_file: Path, db: Path, tmp_path: Path
) -> None:
    first = poll_feeds(str(demo_feeds), str(topics_file), str(db), poll_all=True)
    assert first.new_articles == 20 and not first.stale_topics
    hits_before = read_rows(
        db, "SELECT count(*) FROM current_topic_matches WHERE topic = 'dprk-russia' AND matched"
    )[0][0]

    # The analyst loosens the topic: one co-occurrence is now enough.
    changed = tmp_path / "topics.yaml"
    changed.write_text(topics_file.read_text().replace("min_score: 2", "min_score: 1", 1))
    requests_before = len(site.requests)
    again = poll_feeds(str(demo_feeds), str(changed), str(db), poll_all=True)
    assert again.stale_topics == ["dprk-russia"]  # the poll warns

    summary = rescore_topics(topics_path=str(changed), db=str(db))
    assert summary.topics == ["dprk-russia"]  # only the changed topic
    assert summary.articles == 20
    pages_fetched = [
        p for p, _, _ in site.requests[requests_before:] if not p.startswith("/feeds/")
    ]
    assert pages_fetched == []  # nothing was fetched again

    versions = read_rows(
        db, "SELECT topic, current, rescored_at IS NOT NULL FROM topics ORDER BY topic, current"
    )
    assert versions == [
        ("dprk-missiles", True, True),
        ("dprk-russia", False, True),
        ("dprk-russia", True, True),
    ]
    hits_after = read_rows(
        db, "SELECT count(*) FROM current_topic_matches WHERE topic = 'dprk-russia' AND matched"
    )[0][0]
    assert hits_after >= hits_before == 9
    # Old matches stay, under their own version.
    assert (
        read_rows(
            db,
            "SELECT count(DISTINCT topic_version) FROM topic_matches WHERE topic = 'dprk-russia'",
        )[0][0]
        == 2
    )

    assert rescore_topics(topics_path=str(changed), db=str(db)).topics == []  # up to date now
    assert not poll_feeds(str(demo_feeds), str(changed), str(db), poll_all=True).stale_topics


def test_rescoring_recomputes_the_figures_of_the_hits(
    demo_feeds: Path, topics_file: Path, db: Path
) -> None:
    poll_feeds(str(demo_feeds), str(topics_file), str(db), poll_all=True)
    query = (
        "SELECT article_id, topic, topic_version, position, kind, value, low, high, hedge, source"
        " FROM topic_figures ORDER BY ALL"
    )
    polled = read_rows(db, query)
    assert polled  # the demo's hits report figures, stored as they load
    # Every figure belongs to a hit of the same topic version.
    orphans = read_rows(
        db,
        "SELECT count(*) FROM topic_figures f LEFT JOIN topic_matches m USING"
        " (article_id, topic, topic_version) WHERE m.matched IS DISTINCT FROM true",
    )[0][0]
    assert orphans == 0
    with duckdb.connect(str(db)) as con:  # figures lost, as on a warehouse from before them
        con.execute("DELETE FROM topic_figures")
    summary = rescore_topics(topics_path=str(topics_file), db=str(db), all_topics=True)
    assert summary.articles == 20
    assert read_rows(db, query) == polled  # recomputed, the same
