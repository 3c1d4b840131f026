"""The warehouse on DuckLake (a SQLite catalog here, the data as Parquet files): the
same poll loads the same records as into the DuckDB file, a second poll adds
nothing, and an analyst's SQL reads the lake and nothing else.

These run in .venv-lake (DuckDB 1.4.4 with the duckdb-ext-* packages): `make test`
runs them there, `make test-lake` alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from extractors.errors import OutsideReachError, ReadOnlyError
from flows.poll import poll_feeds
from warehouse import open_warehouse

pytestmark = [pytest.mark.lake, pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

COUNTS = (
    "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM articles),"
    " (SELECT count(*) FROM topic_hits), (SELECT count(*) FROM topic_stories),"
    " (SELECT count(*) FROM feed_health), (SELECT count(DISTINCT cluster_id) FROM articles)"
)
HITS = "SELECT topic, link, score FROM topic_hits ORDER BY ALL"


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("duckdb_ext", reason="the lake's extensions: pip install 'feedwatch[lake]'")
    monkeypatch.setenv("FEEDWATCH_DATA_PATH", str(tmp_path / "lake-data") + "/")
    return f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"


def _read(db: str, sql: str) -> list[tuple[Any, ...]]:
    with open_warehouse(db, read_only=True) as wh:
        ((_, rows),) = wh.query(sql)
    return rows


def test_a_poll_loads_into_the_lake_what_it_loads_into_the_file(
    lake: str, demo_feeds: Path, topics_file: Path, tmp_path: Path
) -> None:
    file_db = str(tmp_path / "w.duckdb")
    into_file = poll_feeds(str(demo_feeds), str(topics_file), file_db, poll_all=True)
    into_lake = poll_feeds(str(demo_feeds), str(topics_file), lake, poll_all=True)
    assert (into_lake.new_entries, into_lake.new_articles, len(into_lake.hits)) == (
        into_file.new_entries,
        into_file.new_articles,
        len(into_file.hits),
    )
    assert into_lake.new_articles > 0 and into_lake.hits
    assert _read(lake, COUNTS) == _read(file_db, COUNTS)
    assert _read(lake, HITS) == _read(file_db, HITS)

    again = poll_feeds(str(demo_feeds), str(topics_file), lake, poll_all=True)
    assert again.new_entries == 0 and again.new_articles == 0 and not again.hits
    assert _read(lake, COUNTS) == _read(file_db, COUNTS)  # nothing twice


def test_every_view_exports_and_a_rescore_finds_the_same_hits(
    lake: str, demo_feeds: Path, topics_file: Path, tmp_path: Path
) -> None:
    from flows.rescore import rescore
    from flows.settings import load_topics

    polled = poll_feeds(str(demo_feeds), str(topics_file), lake, poll_all=True)
    with open_warehouse(lake, read_only=True) as wh:
        written = wh.export(tmp_path / "out", "parquet")
    assert {"topic_hits", "topic_stories", "daily_topic_counts", "story_clusters"} <= set(written)
    assert written["topic_hits"] == len(polled.hits) > 0
    before = _read(lake, HITS)
    again = rescore(lake, load_topics(topics_file), all_topics=True)
    assert sum(again.hits.values()) == len(polled.hits)
    assert _read(lake, HITS) == before  # re-matched in place: the same hits, once each


def test_sql_on_the_lake_reads_the_lake_and_nothing_else(
    lake: str, demo_feeds: Path, topics_file: Path, tmp_path: Path
) -> None:
    poll_feeds(str(demo_feeds), str(topics_file), lake, poll_all=True)
    data = tmp_path / "lake-data"
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nabc\n")
    assert _read(lake, "SELECT count(*) > 0 FROM articles") == [(True,)]
    for statement, error in (
        (f"COPY articles TO '{data / 'out.csv'}'", OutsideReachError),  # even into its folder
        (f"SELECT * FROM read_csv('{secret}')", OutsideReachError),
        ("INSERT INTO feeds (feed_id, url) VALUES ('x', 'y')", ReadOnlyError),
        ("DELETE FROM articles", ReadOnlyError),
    ):
        with pytest.raises(error):
            _read(lake, statement)
    assert not (data / "out.csv").exists()
    assert _read(lake, "SELECT count(*) FROM feeds WHERE feed_id = 'x'") == [(0,)]


def test_the_cli_reads_a_lake_given_its_data_path(
    lake: str, demo_feeds: Path, topics_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`feedwatch --data-path DIR sql --db ducklake:…` (or --data-path after the command),
    with no FEEDWATCH_DATA_PATH."""
    import os
    import subprocess
    import sys

    data = os.environ["FEEDWATCH_DATA_PATH"]
    poll_feeds(str(demo_feeds), str(topics_file), lake, poll_all=True)
    sql = "SELECT count(*) AS stories FROM topic_stories"
    ((stories,),) = _read(lake, sql)
    assert stories > 0
    monkeypatch.delenv("FEEDWATCH_DATA_PATH")
    exe = str(Path(sys.executable).parent / "feedwatch")
    # --data-path before the command, or beside --db
    for args in (
        ["--data-path", data, "sql", "--db", lake],
        ["sql", "--db", lake, "--data-path", data],
    ):
        done = subprocess.run(
            [exe, *args, "--format", "csv", sql], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["stories", str(stories)]
