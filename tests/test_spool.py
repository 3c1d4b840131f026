"""Nothing lost: a held warehouse spools the batch; killed runs leave no duplicate."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from flows.poll import poll_feeds
from warehouse import spool
from warehouse.store import DuckDBWarehouse as Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@contextmanager
def held(db: Path, *, read_only: bool) -> Iterator[None]:
    """Another process (an analyst's session) holding the file open."""
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(db)!r}, read_only={read_only})\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield
    finally:
        proc.communicate(timeout=30)  # closing stdin lets it exit


def _counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "entries": con.execute("SELECT count(*) FROM entries").fetchall()[0][0],
            "articles": con.execute("SELECT count(*) FROM articles").fetchall()[0][0],
            "matches": con.execute("SELECT count(*) FROM topic_matches").fetchall()[0][0],
            "fetches_dup": con.execute(
                "SELECT count(*) FROM (SELECT run_id, feed_id FROM feed_fetches GROUP BY ALL HAVING count(*) > 1)"
            ).fetchall()[0][0],
            "entries_dup": con.execute(
                "SELECT count(*) FROM (SELECT feed_id, guid FROM entries GROUP BY ALL HAVING count(*) > 1)"
            ).fetchall()[0][0],
            "articles_dup": con.execute(
                "SELECT count(*) FROM (SELECT canonical_url FROM articles GROUP BY ALL HAVING count(*) > 1)"
            ).fetchall()[0][0],
            "matches_dup": con.execute(
                "SELECT count(*) FROM (SELECT article_id, topic FROM topic_matches GROUP BY ALL HAVING count(*) > 1)"
            ).fetchall()[0][0],
        }
    finally:
        con.close()


EXPECTED = {
    "entries": 24,
    "articles": 20,
    "fetches_dup": 0,
    "entries_dup": 0,
    "articles_dup": 0,
    "matches_dup": 0,
}


@pytest.mark.parametrize("read_only", [True, False], ids=["reader-holds", "writer-holds"])
def test_a_held_warehouse_spools_and_the_next_run_loads_it(
    demo_feeds: Path, topics_file: Path, db: Path, read_only: bool
) -> None:
    with Warehouse.open(db):  # an empty warehouse, as after installing
        pass
    with held(db, read_only=read_only):
        busy = poll_feeds(str(demo_feeds), str(topics_file), str(db), poll_all=True)
        assert busy.spooled, busy
        assert busy.pages_fetched == 21
        assert len(spool.pending(db)) == 1
    after = poll_feeds(str(demo_feeds), str(topics_file), str(db), poll_all=True)
    assert after.spooled_loaded == 1 and not after.spooled
    assert spool.pending(db) == []
    counts = _counts(db)
    assert {k: counts[k] for k in EXPECTED} == EXPECTED
    assert counts["matches"] > 0


def test_killed_runs_leave_no_duplicates_and_no_half_batch(
    demo_feeds: Path, topics_file: Path, db: Path, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()))
    script = (
        "import sys\n"
        "from flows.poll import poll_feeds\n"
        "poll_feeds(sys.argv[1], sys.argv[2], sys.argv[3], poll_all=True)\n"
    )
    # 20 kills at random moments: importing, polling, extracting, loading, spooling.
    # A run that ends before its kill (once the warehouse holds everything, its polls
    # are 304s) bounds the moments drawn after it, so that kills keep landing.
    rng = random.Random(20)
    kills = attempts = 0
    latest = 6.0
    while kills < 20 and attempts < 60:
        attempts += 1
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(demo_feeds), str(topics_file), str(db)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, latest))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:
            latest = max(0.5, time.monotonic() - started)
        proc.wait()
    assert kills == 20, f"{kills} kills in {attempts} runs"
    poll_feeds(str(demo_feeds), str(topics_file), str(db), poll_all=True)
    counts = _counts(db)
    assert {k: counts[k] for k in EXPECTED} == EXPECTED
    leftovers = list(spool.spool_dir(db).glob("*")) if spool.spool_dir(db).exists() else []
    assert leftovers == []


def test_an_unreadable_spool_file_is_kept_and_does_not_stop_the_run(
    demo_feeds: Path, topics_file: Path, db: Path
) -> None:
    folder = spool.spool_dir(db)
    folder.mkdir(parents=True)
    odd = folder / "20200101T000000-old.batch"
    odd.write_bytes(b"written by something else")
    summary = poll_feeds(str(demo_feeds), str(topics_file), str(db), poll_all=True)
    assert summary.new_articles == 20 and summary.spooled_loaded == 0
    assert odd.exists()


def test_the_demo_beside_a_reader_spools_and_still_shows_the_top_hits(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.app import app

    db = tmp_path / "demo.duckdb"
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--db", str(db)]).exit_code == 0
    with held(db, read_only=True):
        result = runner.invoke(app, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "ERROR" not in result.output
    assert "spooled beside it and load at the next run" in result.output
    assert "Top hits in" in result.output and "dprk-russia" in result.output


def test_reading_commands_never_need_the_write_lock(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.app import app

    db = tmp_path / "demo.duckdb"
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--db", str(db)]).exit_code == 0
    reads = [
        ["sql", "--db", str(db), "SELECT count(*) FROM articles"],
        ["hits", "--db", str(db), "--since", "30d"],
        ["digest", "--db", str(db), "--since", "30d", "--out", str(tmp_path / "d.html")],
        ["feeds", "status", "--db", str(db), "--all"],
        ["feeds", "export-opml", "--db", str(db), "--feeds", str(tmp_path / "none.yaml")],
        ["export", "--db", str(db), "--out", str(tmp_path / "x"), "--format", "csv"],
        ["rescore", "--db", str(db)],  # nothing changed: only read
    ]
    before = db.stat().st_mtime_ns
    with held(db, read_only=True):
        for args in reads:
            result = runner.invoke(app, args)
            assert result.exit_code == 0, (args, result.output)
    assert db.stat().st_mtime_ns == before
