"""Verdicts explained both ways in the warehouse; analysts' labels as the evaluation set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from conftest import read_rows, write_feeds
from flows.demo import ATOM_PATH, RSS_PATH, SiteServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
runner = CliRunner()


@pytest.fixture(scope="module")
def polled(
    tmp_path_factory: pytest.TempPathFactory, site: SiteServer, topics_file: Path
) -> Iterator[Path]:
    from flows.poll import poll_feeds

    tmp = tmp_path_factory.mktemp("explained")
    feeds = write_feeds(
        tmp / "feeds.yaml", {"demo-latest": site.url(RSS_PATH), "demo-world": site.url(ATOM_PATH)}
    )
    db = tmp / "w.duckdb"
    poll_feeds(feeds_path=str(feeds), topics_path=str(topics_file), db=str(db), poll_all=True)
    yield db


def _id(db: Path, title_start: str) -> str:
    ((article_id,),) = read_rows(
        db, f"SELECT article_id FROM articles WHERE title LIKE '{title_start}%'"
    )
    return str(article_id)


def test_hits_and_near_misses_keep_the_parts_of_their_score(polled: Path) -> None:
    rows = read_rows(
        polled,
        "SELECT matched, score, headline_points, lead_points, share_points, carrying_sentences,"
        " total_sentences, share, verdict FROM current_topic_matches WHERE topic = 'dprk-russia'",
    )
    hits = [r for r in rows if r[0]]
    misses = [r for r in rows if not r[0]]
    assert len(hits) >= 8 and len(misses) >= 8  # the demo's stories and their near-misses
    for matched, score, h, lead, share_points, carrying, total, share, verdict in rows:
        assert score == pytest.approx(h + lead + share_points)
        assert 0 <= share <= 1
        assert carrying <= (total or 0)  # sentences are counted where the query held
        assert verdict.startswith("hit: " if matched else "miss: ")
    # "Why was this one left out?" has an answer in SQL.
    ((verdict,),) = read_rows(
        polled,
        "SELECT m.verdict FROM current_topic_matches m JOIN articles a USING (article_id)"
        " WHERE m.topic = 'dprk-russia' AND a.title LIKE 'China and Russia begin joint naval%'",
    )
    assert verdict.startswith("miss: ")


def test_explain_says_why_for_a_hit_and_a_miss(polled: Path) -> None:
    hit = _id(polled, "North Korean troops arrive in Russia")
    result = runner.invoke(
        app, ["topics", "explain", hit[:8], "--topic", "dprk-russia", "--db", str(polled)]
    )
    assert result.exit_code == 0, result.output
    assert "dprk-russia: hit: headline 2 + lead" in result.output
    assert "✓ headline:" in result.output and "✓ sentence 1 of" in result.output
    miss = _id(polled, "Russia launches largest drone attack")
    result = runner.invoke(
        app, ["topics", "explain", miss, "--topic", "dprk-russia", "--db", str(polled)]
    )
    assert result.exit_code == 0, result.output
    assert "dprk-russia: miss:" in result.output and "✓" not in result.output
    assert "terms found, never together as the query asks:" in result.output
    for args, problem in (
        (["nope", "--topic", "dprk-russia"], "give at least 6 characters"),
        (["ffffffffff", "--topic", "dprk-russia"], "no stored article has this id"),
        ([hit, "--topic", "nope"], "no such topic"),
    ):
        bad = runner.invoke(app, ["topics", "explain", *args, "--db", str(polled)])
        assert bad.exit_code == 2 and problem in bad.output, bad.output


def test_explain_cases_from_a_file(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps(
            {
                "id": "c1",
                "title": "North Korean troops fight for Russia in Kursk",
                "text": "Thousands of soldiers were sent. Weather was cold.",
            }
        )
        + "\n"
    )
    result = runner.invoke(
        app, ["topics", "explain", "--jsonl", str(cases), "--topic", "dprk-russia"]
    )
    assert result.exit_code == 0, result.output
    assert "c1" in result.output and "hit: headline 2" in result.output


def test_labels_become_the_evaluation_set(polled: Path) -> None:
    hit = _id(polled, "North Korean troops arrive in Russia")
    miss = _id(polled, "China and Russia begin joint naval")
    db = ["--db", str(polled)]
    said = runner.invoke(app, ["label", hit, "--topic", "dprk-russia", "--yes", *db])
    assert said.exit_code == 0, said.output
    assert f"Labelled {hit} about dprk-russia" in said.output
    # An analyst who disagrees with feedwatch: the label says so, and eval counts it.
    said = runner.invoke(
        app, ["label", miss[:10], "--topic", "dprk-russia", "--yes", "--note", "naval ties", *db]
    )
    assert said.exit_code == 0 and "they disagree" in said.output, said.output
    rows = read_rows(
        polled, "SELECT article_id, label, note, labelled_by FROM topic_labels ORDER BY 1"
    )
    assert {(r[0], r[1]) for r in rows} == {(hit, True), (miss, True)}
    assert all(r[3] for r in rows)
    result = runner.invoke(
        app, ["topics", "eval", "--labels-from-warehouse", "--format", "json", *db]
    )
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert row["cases"] == 2 and row["false_negatives"] == [miss] and row["recall"] == 0.5
    # Changing one's mind replaces the verdict.
    runner.invoke(app, ["label", miss, "--topic", "dprk-russia", "--no", *db])
    assert read_rows(polled, f"SELECT label FROM topic_labels WHERE article_id = '{miss}'") == [
        (False,)
    ]
    tuned = runner.invoke(
        app, ["topics", "tune", "--topic", "dprk-russia", "--labels-from-warehouse", *db]
    )
    assert tuned.exit_code == 0, tuned.output
    assert "min_score 2, as topics.yaml" in tuned.output and "share_weight" in tuned.output
    assert "2 labelled cases; topics.yaml is unchanged" in tuned.output
    bad = runner.invoke(app, ["label", hit, "--topic", "dprk-russia", *db])
    assert bad.exit_code == 2 and "--yes" in bad.output


def test_tune_shows_the_thresholds_on_real_cases(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    lines = [
        {
            "id": "pos",
            "title": "North Korean troops in Kursk",
            "text": "They fight for Russia.",
            "labels": {"dprk-russia": True},
        },
        {
            "id": "neg",
            "title": "Weather",
            "text": "Rain in Moscow. Sun in Pyongyang.",
            "labels": {"dprk-russia": False},
        },
    ]
    cases.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = runner.invoke(app, ["topics", "tune", "--topic", "dprk-russia", str(cases)])
    assert result.exit_code == 0, result.output
    assert "min_score 0.5" in result.output and "min_score 5" in result.output
    result = runner.invoke(app, ["topics", "tune", "--topic", "nope", str(cases)])
    assert result.exit_code == 2 and "no such topic" in result.output
