"""The `feedwatch` command as users run it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli.app import app
from cli.reference import commands

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

# The commands as users run them: each test starts feedwatch in a subprocess.
pytestmark = pytest.mark.slow


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


def _warehouse_with(db: Path, *statements: str) -> Path:
    """A feedwatch warehouse with a few rows of the test's own."""
    from warehouse.store import DuckDBWarehouse

    with DuckDBWarehouse.open(db) as wh:
        for statement in statements:
            wh.con.execute(statement)
    return db


def test_sql_is_read_only(tmp_path: Path) -> None:
    db = _warehouse_with(
        tmp_path / "w.duckdb",
        "CREATE TABLE notes (url VARCHAR)",
        "INSERT INTO notes VALUES ('a'), ('b')",
    )
    for statement in ("DELETE FROM notes", "DROP TABLE notes", "CREATE TABLE x (a INT)"):
        result = feedwatch("sql", "--db", str(db), statement)
        assert result.returncode == 2, statement
        assert "read-only" in result.stderr
        assert "Traceback" not in result.stderr
    result = feedwatch("sql", "--db", str(db), "--format", "csv", "SELECT count(*) AS n FROM notes")
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["n", "2"]


def test_a_file_that_is_not_a_warehouse_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE articles (url VARCHAR)")
    con.close()
    before = db.read_bytes()
    for args in (["sql", "SELECT 1"], ["hits"], ["feeds", "status"], ["rescore"]):
        result = feedwatch(*args, "--db", str(db))
        assert result.returncode == 1, (args, result.stderr)
        assert "holds tables but no feedwatch schema version" in result.stderr
    assert db.read_bytes() == before


def test_sql_cannot_write_files_or_reach_outside_the_warehouse(tmp_path: Path) -> None:
    db = _warehouse_with(
        tmp_path / "w.duckdb", "CREATE TABLE notes (url VARCHAR)", "INSERT INTO notes VALUES ('a')"
    )
    before = db.read_bytes()
    other = tmp_path / "other.duckdb"
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nabc\n")
    for statement, says in (
        (f"COPY notes TO '{tmp_path / 'out.csv'}'", "only reads"),
        (f"COPY notes TO '{db}'", "only reads"),  # the warehouse itself
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
    db = _warehouse_with(tmp_path / "w.duckdb", "CREATE TABLE t AS SELECT 1 AS a, 'x' AS b")
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


def _table_db(tmp_path: Path) -> Path:
    return _warehouse_with(tmp_path / "w.duckdb", "CREATE TABLE t AS SELECT 1 AS a, 'x' AS b")


@pytest.mark.parametrize("sql", ["", "   ", ";", "-- only a comment", "/* nothing */ ;"])
def test_sql_without_a_statement_says_so(tmp_path: Path, sql: str) -> None:
    result = feedwatch("sql", "--db", str(_table_db(tmp_path)), sql)
    assert result.returncode == 2
    assert result.stderr == "feedwatch: no SQL statement given (only blanks, ';' or comments)\n"


def test_sql_that_opens_with_a_comment_is_sql_not_an_option(tmp_path: Path) -> None:
    db = _table_db(tmp_path)
    result = feedwatch("sql", "--db", str(db), "--format", "csv", "-- why\nSELECT a FROM t")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["a", "1"]
    # An option mistyped is still one.
    result = feedwatch("sql", "--db", str(db), "--formt", "csv", "SELECT 1")
    assert result.returncode == 2 and "--formt" in result.stderr


def test_sql_shows_every_statements_result_or_refuses_to_mix_them(tmp_path: Path) -> None:
    db = _table_db(tmp_path)
    result = feedwatch("sql", "--db", str(db), "SELECT 10 AS first; SELECT 20 AS second")
    assert result.returncode == 0, result.stderr
    assert "first" in result.stdout and "second" in result.stdout
    assert "10" in result.stdout and "20" in result.stdout
    assert result.stdout.count("1 row") == 2
    result = feedwatch("sql", "--db", str(db), "--format", "json", "SELECT 1 AS x; SELECT 2 AS y")
    assert result.returncode == 2 and "2 statements that return rows" in result.stderr
    assert result.stdout == ""
    # Statements that return nothing do not count.
    result = feedwatch("sql", "--db", str(db), "--format", "csv", "SELECT b FROM t;")
    assert result.stdout.splitlines() == ["b", "x"]


def test_sql_reads_standard_input(tmp_path: Path) -> None:
    db = _table_db(tmp_path)
    exe = shutil.which("feedwatch", path=str(Path(sys.executable).parent)) or "feedwatch"
    result = subprocess.run(
        [exe, "sql", "--db", str(db), "--format", "csv", "-"],
        input="SELECT b, a FROM t\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["b,a", "x,1"]


@pytest.mark.parametrize("command", list(commands()), ids=" ".join)
def test_every_commands_help_is_whole_and_plain(command: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*command, "--help"], prog_name="feedwatch", terminal_width=80)
    assert result.exit_code == 0, result.output
    text = result.output
    for artefact in ("<bool>", "<str>", "<path>", "<int", "<float>"):
        assert artefact not in text, (artefact, text)
    usage = text.splitlines()[0]
    assert usage.startswith(f"Usage: feedwatch {' '.join(command)} [OPTIONS]")
    assert "{" not in usage, usage
    if "--topics" in text:
        assert "default: ./topics.yaml" in text
    # --data-path belongs with --db: wherever one is accepted, so is the other.
    assert ("--db FILE" in text) == ("--data-path DIR" in text), text


def test_data_path_after_the_command_is_taken_as_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDWATCH_DATA_PATH", "")  # and put back as it was after the test
    db = str(tmp_path / "none.duckdb")
    for args in (
        ["--data-path", str(tmp_path / "a"), "feeds", "status", "--db", db],
        ["feeds", "status", "--db", db, "--data-path", str(tmp_path / "b")],
    ):
        result = runner.invoke(app, args)
        assert "No such option" not in result.output
        assert os.environ["FEEDWATCH_DATA_PATH"] == args[args.index("--data-path") + 1]


def test_the_command_lists_give_whole_sentences() -> None:
    for group in ((), ("feeds",), ("topics",), ("alerts",)):
        result = runner.invoke(app, [*group, "--help"], prog_name="feedwatch", terminal_width=80)
        assert result.exit_code == 0
        listing = result.output.split("Commands:")[1]
        assert "..." not in listing
        rows = re.findall(r"^  (\S+)\s+(.+(?:\n {4,}\S.*)*)", listing, re.M)
        assert rows
        for name, text in rows:
            assert " ".join(text.split()).endswith("."), (name, text)


def test_version() -> None:
    result = feedwatch("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"feedwatch \d+\.\d+\.\d+\S*\n", result.stdout)


def test_topics_check_reads_standard_input() -> None:
    exe = shutil.which("feedwatch", path=str(Path(sys.executable).parent)) or "feedwatch"
    case = {"id": "k", "title": "North Korean troops fight in Kursk", "text": "For Russia."}
    result = subprocess.run(
        [exe, "topics", "check", "--topics", str(ROOT / "topics.yaml"), "--jsonl", "-"],
        input=json.dumps(case) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["id"] == "k"


def test_topics_eval_says_which_figure_fell_short() -> None:
    dev = ROOT / "tests" / "data" / "topics_dev.jsonl"
    result = feedwatch("topics", "eval", str(dev), "--min-precision", "1.01", "--min-recall", "0.5")
    assert result.returncode == 1
    short = [x for x in result.stderr.splitlines() if x.startswith("feedwatch:")]
    assert short and all("precision" in x and "below --min-precision 1.01" in x for x in short)
    assert any(x.startswith("feedwatch: dprk-russia: precision 1.000") for x in short)


def test_export_of_a_missing_warehouse_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "exports"
    result = feedwatch("export", "--db", str(tmp_path / "none.duckdb"), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"feedwatch: {tmp_path / 'none.duckdb'}: no warehouse here yet"
        " (run 'feedwatch run' or 'feedwatch demo' first)"
    ]
    assert not out.exists()


def test_export_writes_every_table_and_view_but_the_internal_ones(tmp_path: Path) -> None:
    from warehouse.reads import INTERNAL
    from warehouse.store import DuckDBWarehouse as Warehouse

    db = tmp_path / "w.duckdb"
    with Warehouse.open(db):
        pass
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = {
            n
            for (n,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'w'"
                " UNION SELECT view_name FROM duckdb_views() WHERE NOT internal"
                " AND database_name = 'w'"
            ).fetchall()
        }
    finally:
        con.close()
    assert "current_topic_matches" in names and "topics" in names
    result = feedwatch("export", "--db", str(db), "--format", "csv", "--out", str(tmp_path / "x"))
    assert result.returncode == 0, result.stderr
    written = {p.stem for p in (tmp_path / "x").iterdir()}
    assert written == names - set(INTERNAL)
    assert "articles.csv: 0 rows" in result.stdout


def test_the_readme_names_every_table_analysts_query() -> None:
    from warehouse.migrations import schema_sql
    from warehouse.reads import exported

    readme = " ".join((ROOT / "README.md").read_text().split())
    listed = readme[readme.index("The tables are") :].split(";")[0]
    tables = re.findall(r"^CREATE TABLE IF NOT EXISTS (\w+)", schema_sql(), re.M)
    for table in tables:
        if table in exported():
            assert f"`{table}`" in listed, table


@pytest.mark.parametrize(
    "args",
    [
        ["hits", "--since", "2w"],
        ["hits", "--since", "30s"],
        ["hits", "--since", "1.5h"],
        ["digest", "--since", "2w", "--out", "{tmp}/d.html"],
        ["prune", "--older-than", "12w"],
    ],
)
def test_durations_read_the_same_everywhere(tmp_path: Path, args: list[str]) -> None:
    from warehouse.store import DuckDBWarehouse as Warehouse

    db = tmp_path / "w.duckdb"
    with Warehouse.open(db):
        pass
    result = feedwatch(*[a.format(tmp=tmp_path) for a in args], "--db", str(db))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args, option",
    [
        (["hits", "--since", "soon"], "--since"),
        (["digest", "--since", "2x", "--out", "d.html"], "--since"),
        (["prune", "--older-than", "old"], "--older-than"),
        (["feeds", "add", "https://a.example/rss", "--interval", "often"], "--interval"),
    ],
)
def test_a_bad_duration_gets_one_wording(tmp_path: Path, args: list[str], option: str) -> None:
    result = feedwatch(*args, "--db", str(tmp_path / "w.duckdb"))
    assert result.returncode == 2
    assert result.stderr == (
        f"feedwatch: {option}: {args[args.index(option) + 1]!r} is not a duration such as"
        " 500ms, 90s, 15m, 2h, 7d, 2w or 1y\n"
    )
