"""How a command meets Prefect, run as users run it (subprocesses, real servers):

- nothing to do (no feed due, no topic changed, a bad argument): it ends before
  Prefect starts, so an unreachable PREFECT_API_URL does not matter;
- work, no server configured: a temporary server, also on a brand-new
  PREFECT_HOME, which takes longer than Prefect's own start-up limit;
- PREFECT_API_URL that does not answer, or a temporary server that does not
  start in time: one clear line, exit 1, no traceback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import write_feeds
from flows.demo import RSS_PATH, SiteServer

pytestmark = pytest.mark.slow

FEEDWATCH = shutil.which("feedwatch", path=str(Path(sys.executable).parent)) or "feedwatch"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


UNREACHABLE = f"http://127.0.0.1:{_closed_port()}/api"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    return {**env, "PREFECT_HOME": str(home), "FEEDWATCH_ALLOW_PRIVATE_NETWORKS": "1", **extra}


def _feedwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEEDWATCH, *args], env=env, capture_output=True, text=True, timeout=400)


def _run(
    env: dict[str, str], feeds: Path, topics: Path, db: Path
) -> subprocess.CompletedProcess[str]:
    return _feedwatch(env, "run", "--feeds", str(feeds), "--topics", str(topics), "--db", str(db))


@pytest.fixture
def one_feed(tmp_path: Path, site: SiteServer) -> Path:
    return write_feeds(tmp_path / "feeds.yaml", {"demo-latest": site.url(RSS_PATH)})


def test_a_first_run_on_a_new_prefect_home_completes_and_the_next_has_nothing_to_do(
    tmp_path: Path, one_feed: Path, topics_file: Path
) -> None:
    home, db = tmp_path / "new-prefect-home", tmp_path / "w.duckdb"
    first = _run(_env(home), one_feed, topics_file, db)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    assert "Prefect is setting up its database" in first.stderr  # said once, on a new home
    assert "Polled 1 feed (0 not due" in first.stdout
    assert "View at" not in first.stdout + first.stderr  # no UI runs with a temporary server
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchall()[0][0] > 5
    finally:
        con.close()

    # Nothing due now: answered from the warehouse alone. Prefect is not even reachable.
    again = _run(_env(home, PREFECT_API_URL=UNREACHABLE), one_feed, topics_file, db)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("Nothing to do: the feed is not due; next: demo-latest at ")
    assert again.stderr == ""

    # Nor does a rescore with no topic changed need Prefect.
    rescore = _feedwatch(
        _env(home, PREFECT_API_URL=UNREACHABLE),
        "rescore",
        "--topics",
        str(topics_file),
        "--db",
        str(db),
    )
    assert rescore.returncode == 0, rescore.stdout + rescore.stderr
    assert rescore.stdout.strip() == "Every topic is up to date: nothing to re-match."


def test_an_unreachable_prefect_api_url_is_one_clear_line(
    tmp_path: Path, one_feed: Path, topics_file: Path
) -> None:
    result = _run(
        _env(tmp_path / "home", PREFECT_API_URL=UNREACHABLE),
        one_feed,
        topics_file,
        tmp_path / "w.duckdb",
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"feedwatch: cannot reach the Prefect server at {UNREACHABLE}")
    assert "make serve" in line and "unset PREFECT_API_URL" in line


def test_a_temporary_server_that_does_not_start_in_time_is_one_clear_line(
    tmp_path: Path, one_feed: Path, topics_file: Path
) -> None:
    env = _env(tmp_path / "home", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    result = _run(env, one_feed, topics_file, tmp_path / "w.duckdb")
    assert result.returncode == 1
    lines = [x for x in result.stderr.splitlines() if "setting up its database" not in x]
    assert len(lines) == 1, result.stderr
    assert "Prefect's temporary server did not answer within 1 s" in lines[0]
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in lines[0]
    assert "make serve" in lines[0]
    assert not (tmp_path / "w.duckdb").exists()  # nothing polled, nothing written


@pytest.mark.parametrize(
    "args, problem",
    [
        (["run", "--db", "{folder}"], "is a folder; the warehouse is a file"),
        (["run", "--db", "{file}/w.duckdb"], "is a file, not a folder"),
        (["demo", "--db", "{folder}"], "is a folder; the warehouse is a file"),
        (["rescore", "--db", "{folder}"], "is a folder; the warehouse is a file"),
    ],
)
def test_a_bad_db_fails_at_once_before_prefect(
    tmp_path: Path, one_feed: Path, args: list[str], problem: str
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    args = [a.format(folder=folder, file=one_feed) for a in args]
    if args[0] == "run":
        args += ["--feeds", str(one_feed)]
    result = _feedwatch(_env(tmp_path / "home", PREFECT_API_URL=UNREACHABLE), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert problem in line
