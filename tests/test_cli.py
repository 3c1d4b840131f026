"""The `feedwatch` command as users run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def feedwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("feedwatch", path=str(Path(sys.executable).parent)) or "feedwatch"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=os.environ.copy()
    )


def test_help_lists_every_command() -> None:
    result = feedwatch("--help")
    assert result.returncode == 0
    for command in ("run", "demo", "sql", "topics"):
        assert command in result.stdout


def test_bad_topics_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  broken:\n    query: (north AND korea\n")
    result = feedwatch(
        "run",
        "--feeds",
        str(ROOT / "feeds.yaml"),
        "--topics",
        str(topics),
        "--db",
        str(tmp_path / "w.duckdb"),
    )
    assert result.returncode == 2
    assert f"{topics}:3:" in result.stderr
    assert "topic 'broken': missing ')'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w.duckdb").exists()  # nothing written


def test_bad_feeds_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - url: https://a.example/rss\n  - url: not a url\n")
    result = feedwatch("run", "--feeds", str(feeds), "--db", str(tmp_path / "w.duckdb"))
    assert result.returncode == 2
    assert f"{feeds}:3: feed 2: 'not a url' is not an http(s) URL" in result.stderr
    assert not (tmp_path / "w.duckdb").exists()  # nothing written


def test_sql_is_read_only(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE articles (url VARCHAR)")
    con.execute("INSERT INTO articles VALUES ('a'), ('b')")
    con.close()
    for statement in ("DELETE FROM articles", "DROP TABLE articles", "CREATE TABLE x (a INT)"):
        result = feedwatch("sql", "--db", str(db), statement)
        assert result.returncode == 2, statement
        assert "read-only" in result.stderr
        assert "Traceback" not in result.stderr
    result = feedwatch(
        "sql", "--db", str(db), "--format", "csv", "SELECT count(*) AS n FROM articles"
    )
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["n", "2"]


def test_sql_cannot_write_files_or_reach_outside_the_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE articles (url VARCHAR)")
    con.execute("INSERT INTO articles VALUES ('a')")
    con.close()
    before = db.read_bytes()
    other = tmp_path / "other.duckdb"
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nabc\n")
    for statement, says in (
        (f"COPY articles TO '{tmp_path / 'out.csv'}'", "only reads"),
        (f"COPY articles TO '{db}'", "attached database"),  # the warehouse itself
        (f"ATTACH '{other}' AS other", "only reads"),
        (f"SELECT * FROM read_csv('{secret}')", "only reads"),
        ("SET enable_external_access = true", "read-only"),
        ("INSTALL httpfs", "only reads"),
    ):
        result = feedwatch("sql", "--db", str(db), statement)
        assert result.returncode == 2, (statement, result.stderr)
        assert "Traceback" not in result.stderr
        assert says in result.stderr, result.stderr
    assert not (tmp_path / "out.csv").exists() and not other.exists()
    assert db.read_bytes() == before


def test_sql_formats_and_errors(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT 1 AS a, 'x' AS b")
    con.close()
    result = feedwatch("sql", "--db", str(db), "--format", "json", "SELECT * FROM t")
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"a": 1, "b": "x"}]
    result = feedwatch("sql", "--db", str(db), "SELEKT 1")
    assert result.returncode == 2 and "SQL error" in result.stderr
    result = feedwatch("sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert result.returncode == 1 and "no warehouse here yet" in result.stderr


def test_topics_check(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps(
            {
                "id": "pos",
                "title": "North Korean troops in Kursk",
                "text": "Pyongyang sent soldiers to Russia.",
            }
        )
        + "\n"
        + json.dumps({"id": "neg", "title": "Bank of Japan raises rates", "text": "The yen rose."})
        + "\n"
    )
    result = feedwatch(
        "topics", "check", "--topics", str(ROOT / "topics.yaml"), "--jsonl", str(cases)
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["pos", "neg"]
    verdict = {t["topic"]: t for t in lines[0]["topics"]}
    assert verdict["dprk-russia"]["matched"] is True and verdict["dprk-russia"]["score"] > 0
    assert not any(t["matched"] for t in lines[1]["topics"])
    assert set(lines[0]["topics"][0]) == {"topic", "score", "matched"}

    cases.write_text('{"id": 1, "text": "ok"}\n{"id": 2, "text": \n')
    result = feedwatch("topics", "check", "--jsonl", str(cases))
    assert result.returncode == 2 and f"{cases}:2: not valid JSON" in result.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_run_with_the_real_feeds_records_every_failure_and_exits_0(tmp_path: Path) -> None:
    """No public feed is reachable from here: each failure is recorded, the run still succeeds."""
    db = tmp_path / "w.duckdb"
    result = runner.invoke(
        app,
        [
            "run",
            "--feeds",
            str(ROOT / "feeds.yaml"),
            "--topics",
            str(ROOT / "topics.yaml"),
            "--db",
            str(db),
        ],
    )
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    feeds = con.execute(
        "SELECT count(*), count(last_error), sum(error_count) FROM feeds"
    ).fetchall()[0]
    fetches = con.execute("SELECT count(*), count(*) FILTER (NOT ok) FROM feed_fetches").fetchall()[
        0
    ]
    con.close()
    n = feeds[0]
    assert n >= 10 and feeds == (n, n, n)
    assert fetches == (n, n)
    assert f"{n} failed" in result.output


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_demo_twice_adds_no_rows(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    first = runner.invoke(app, ["demo", "--db", str(db), "--topics", str(ROOT / "topics.yaml")])
    assert first.exit_code == 0, first.output
    assert "New entries: 24 · new articles: 20" in first.output
    assert "Top hits" in first.output and "dprk-russia" in first.output

    def rows() -> tuple[int, ...]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return tuple(
                con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in ("feeds", "entries", "articles", "topic_matches")
            )
        finally:
            con.close()

    before = rows()
    second = runner.invoke(app, ["demo", "--db", str(db), "--topics", str(ROOT / "topics.yaml")])
    assert second.exit_code == 0, second.output
    assert "New entries: 0 · new articles: 0" in second.output
    assert rows() == before


def test_topics_eval(tmp_path: Path) -> None:
    dev = ROOT / "tests" / "data" / "topics_dev.jsonl"
    result = feedwatch("topics", "eval", str(dev), "--format", "json")
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["topic"] == "dprk-russia" and row["cases"] >= 60
    assert row["precision"] >= 0.95 and row["recall"] >= 0.95
    # A bar nobody can reach fails the command, for use in CI of topic changes.
    assert feedwatch("topics", "eval", str(dev), "--min-precision", "1.01").returncode == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "x", "labels": {"dprk-russia": "yes"}}\n')
    result = feedwatch("topics", "eval", str(bad))
    assert result.returncode == 2 and f"{bad}:1:" in result.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_export_and_prune(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    demo = runner.invoke(app, ["demo", "--db", str(db)])
    assert demo.exit_code == 0, demo.output
    for fmt in ("parquet", "csv"):
        out = tmp_path / fmt
        result = feedwatch("export", "--db", str(db), "--format", fmt, "--out", str(out))
        assert result.returncode == 0, result.stderr
        con = duckdb.connect()
        reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
        assert con.execute(f"SELECT count(*) FROM {reader}('{out}/articles.{fmt}')").fetchall() == [
            (20,)
        ]
        assert (
            con.execute(f"SELECT count(*) FROM {reader}('{out}/topic_hits.{fmt}')").fetchall()[0][0]
            >= 9
        )
        con.close()
    assert (
        feedwatch("export", "--db", str(db), "--format", "xml", "--out", str(tmp_path)).returncode
        == 2
    )

    result = feedwatch("prune", "--db", str(db), "--older-than", "0d")
    assert result.returncode == 0 and "Dropped the text of 20 articles" in result.stdout
    con = duckdb.connect(str(db), read_only=True)
    left = con.execute(
        "SELECT count(*) FILTER (text <> ''), count(*) FILTER (signature IS NOT NULL),"
        " (SELECT count(*) FROM topic_matches) FROM articles"
    ).fetchall()[0]
    con.close()
    assert left[0] == 0 and left[1] == 20 and left[2] > 0  # text gone; dedup and matches stay
    assert feedwatch("prune", "--db", str(db), "--older-than", "soon").returncode == 2
